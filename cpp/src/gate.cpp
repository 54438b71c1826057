#include "dropengine/gate.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace dropengine {

void Gate::validate(const std::vector<std::int64_t>& n_out, const std::vector<std::int64_t>& n_in,
                    const std::vector<std::int64_t>& n_src) const {
    const std::size_t L = n_out.size();
    if (kind == GateKind::None) return;
    if (kind != GateKind::Units && kind != GateKind::Connections && kind != GateKind::Dropin && !spiking() &&
        !gaussian())
        throw std::invalid_argument("gate: unknown kind " + std::to_string(static_cast<int>(kind)));
    if (gaussian()) {
        const bool units = per_unit();
        const bool has_mean = multiplicative_noise();
        if (p.size() != L) throw std::invalid_argument("gate: std must have one entry per layer (" + std::to_string(L) + ")");
        if (has_mean && mean.size() != L)
            throw std::invalid_argument("gate: mean must have one entry per layer (" + std::to_string(L) + ")");
        if (!keep_bias.empty()) throw std::invalid_argument("gate: Gaussian noise does not gate biases (keep_bias must be empty)");
        for (std::size_t h = 0; h < L; ++h) {
            const std::size_t full = units ? static_cast<std::size_t>(n_src[h]) : static_cast<std::size_t>(n_out[h] * n_in[h]);
            if (p[h].size() != 1 && p[h].size() != full)
                throw std::invalid_argument("gate: std[" + std::to_string(h) + "] must hold 1 or " + std::to_string(full) +
                                            " values, got " + std::to_string(p[h].size()));
            for (double v : p[h])
                if (!(v >= 0.0 && v <= 1e300)) throw std::invalid_argument("gate: std[" + std::to_string(h) + "] must be finite and >= 0");
            if (!has_mean) continue;
            if (mean[h].size() != 1 && mean[h].size() != full)
                throw std::invalid_argument("gate: mean[" + std::to_string(h) + "] must hold 1 or " + std::to_string(full) +
                                            " values, got " + std::to_string(mean[h].size()));
            for (double v : mean[h])
                if (!std::isfinite(v)) throw std::invalid_argument("gate: mean[" + std::to_string(h) + "] must be finite");
        }
        return;
    }
    if (spiking()) {
        if (p.size() != L)
            throw std::invalid_argument("gate: r must have one entry per layer (" + std::to_string(L) + ")");
        for (std::size_t h = 0; h < L; ++h) {
            const std::size_t n = p[h].size(),
                              ni = static_cast<std::size_t>(kind == GateKind::Spikes ? n_src[h] : n_in[h]),
                              full = static_cast<std::size_t>(n_out[h] * n_in[h]);
            if (n > 1 && n != ni && !(kind == GateKind::SpikesConnections && n == full))
                throw std::invalid_argument("gate: r[" + std::to_string(h) + "] has " + std::to_string(n) +
                                            " values; expected 0, 1, " + std::to_string(ni) +
                                            (kind == GateKind::SpikesConnections ? " or " + std::to_string(full) : ""));
            for (double v : p[h])
                if (!(v >= 0.0 && v <= 1e300))
                    throw std::invalid_argument("gate: r[" + std::to_string(h) + "] must be finite and >= 0");
        }
        return;
    }
    const char* what = kind == GateKind::Dropin ? "rate" : "keep";
    if (p.size() != L)
        throw std::invalid_argument(std::string("gate: ") + what + " must have one entry per layer (" +
                                    std::to_string(L) + "), got " + std::to_string(p.size()));
    for (std::size_t h = 0; h < L; ++h) {
        const std::size_t full = kind == GateKind::Connections ? static_cast<std::size_t>(n_out[h] * n_in[h])
                                                               : static_cast<std::size_t>(n_src[h]);
        if (p[h].size() != 1 && p[h].size() != full)
            throw std::invalid_argument(std::string("gate: ") + what + "[" + std::to_string(h) + "] must hold 1 or " +
                                        std::to_string(full) + " values, got " + std::to_string(p[h].size()));
        for (double v : p[h])
            if (!(v >= 0.0 && v <= 1.0))
                throw std::invalid_argument(std::string("gate: ") + what + "[" + std::to_string(h) +
                                            "] must lie in [0, 1] (and not be NaN)");
    }
    if (!keep_bias.empty()) {
        if (keep_bias.size() != L)
            throw std::invalid_argument("gate: keep_bias must have one entry per layer");
        for (double v : keep_bias)
            if (!(v >= 0.0 && v <= 1.0)) throw std::invalid_argument("gate: keep_bias must lie in [0, 1]");
    }
}

}  // namespace dropengine
