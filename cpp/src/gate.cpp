#include "dropengine/gate.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace dropengine {
namespace {

bool known(GateKind k) {
    return k == GateKind::None || k == GateKind::Units || k == GateKind::Connections || k == GateKind::Dropin ||
           is_spiking_kind(k) || is_gaussian_kind(k);
}

/// What p holds for kind k, as the messages name it ("p" for a mix of kinds as a whole).
const char* param_name(GateKind k) {
    return is_spiking_kind(k) ? "r" : is_gaussian_kind(k) ? "std" : k == GateKind::Dropin ? "rate" : k == GateKind::Mixed ? "p" : "keep";
}

std::string at(const char* what, std::size_t h) { return std::string("gate: ") + what + "[" + std::to_string(h) + "]"; }

}  // namespace

void Gate::validate(const std::vector<std::int64_t>& n_out, const std::vector<std::int64_t>& n_in,
                    const std::vector<std::int64_t>& n_src) const {
    const std::size_t L = n_out.size();
    if (kind == GateKind::None) return;
    if (kind == GateKind::Mixed) {
        if (kinds.size() != L)
            throw std::invalid_argument("gate: kinds must have one entry per layer (" + std::to_string(L) + "), got " +
                                        std::to_string(kinds.size()));
        for (std::size_t h = 0; h < L; ++h)
            if (!known(kinds[h]) || is_spiking_kind(kinds[h]))
                throw std::invalid_argument("gate: kinds[" + std::to_string(h) + "] must be none, a dropout, dropin or "
                                            "continuous kind (spikes are not mixed), got " +
                                            std::to_string(static_cast<int>(kinds[h])));
    } else if (!known(kind)) {
        throw std::invalid_argument("gate: unknown kind " + std::to_string(static_cast<int>(kind)));
    }
    const char* what = param_name(kind);
    if (p.size() != L)
        throw std::invalid_argument(std::string("gate: ") + what + " must have one entry per layer (" +
                                    std::to_string(L) + "), got " + std::to_string(p.size()));
    if (any(is_multiplicative_kind) && mean.size() != L)
        throw std::invalid_argument("gate: mean must have one entry per layer (" + std::to_string(L) + ")");
    if (!keep_bias.empty()) {
        if (keep_bias.size() != L) throw std::invalid_argument("gate: keep_bias must have one entry per layer");
        for (std::size_t h = 0; h < L; ++h) {
            const double v = keep_bias[h];
            if (!(v >= 0.0 && v <= 1.0)) throw std::invalid_argument("gate: keep_bias must lie in [0, 1]");
            if (gaussian(h) && v != 1.0)
                throw std::invalid_argument(at("keep_bias", h) + ": Gaussian noise does not gate biases (it must be 1)");
        }
    }
    for (std::size_t h = 0; h < L; ++h) {
        const GateKind k = kind_of(h);
        if (k == GateKind::None) continue;
        const std::size_t n = p[h].size(), units = static_cast<std::size_t>(n_src[h]),
                          full = static_cast<std::size_t>(n_out[h] * n_in[h]);
        if (is_spiking_kind(k)) {
            const std::size_t ni = k == GateKind::Spikes ? units : static_cast<std::size_t>(n_in[h]);
            if (n > 1 && n != ni && !(k == GateKind::SpikesConnections && n == full))
                throw std::invalid_argument(at("r", h) + " has " + std::to_string(n) + " values; expected 0, 1, " +
                                            std::to_string(ni) +
                                            (k == GateKind::SpikesConnections ? " or " + std::to_string(full) : ""));
            for (double v : p[h])
                if (!(v >= 0.0 && v <= 1e300)) throw std::invalid_argument(at("r", h) + " must be finite and >= 0");
            continue;
        }
        const std::size_t want = is_unit_kind(k) ? units : full;
        const char* name = param_name(k);
        if (n != 1 && n != want)
            throw std::invalid_argument(at(name, h) + " must hold 1 or " + std::to_string(want) + " values, got " +
                                        std::to_string(n));
        if (is_gaussian_kind(k)) {
            for (double v : p[h])
                if (!(v >= 0.0 && v <= 1e300)) throw std::invalid_argument(at(name, h) + " must be finite and >= 0");
            if (!multiplicative_noise(h)) continue;
            if (mean[h].size() != 1 && mean[h].size() != want)
                throw std::invalid_argument(at("mean", h) + " must hold 1 or " + std::to_string(want) + " values, got " +
                                            std::to_string(mean[h].size()));
            for (double v : mean[h])
                if (!std::isfinite(v)) throw std::invalid_argument(at("mean", h) + " must be finite");
            continue;
        }
        for (double v : p[h])
            if (!(v >= 0.0 && v <= 1.0)) throw std::invalid_argument(at(name, h) + " must lie in [0, 1] (and not be NaN)");
    }
}

}  // namespace dropengine
