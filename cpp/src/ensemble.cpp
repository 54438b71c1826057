// The deterministic ensemble network (Eq. 24, 26, 54, 98, 167): every weight times
// the expectation of its gate, then ordinary forward propagation.
#include "dropengine/ensemble.h"

#include <cmath>
#include <stdexcept>

#include "reduce.h"

namespace dropengine {

template <class T>
void ensemble(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
              const std::vector<T*>& U, const std::vector<T*>& W, int threads) {
    net.validate();
    gate.validate(net);
    const auto L = net.layers.size();
    if (U.size() != L || W.size() != L) throw std::invalid_argument("ensemble: one U and one W buffer per layer");
    for (std::int64_t k = 0; k < n_rows * net.n_inputs(); ++k)
        if (!std::isfinite(X[k])) throw std::invalid_argument("ensemble: inputs must be finite");
    [[maybe_unused]] const int nt = detail::resolve_threads(threads);  // unused by serial builds
#pragma omp parallel for schedule(static) if (n_rows > 1) num_threads(nt)
    for (std::int64_t x = 0; x < n_rows; ++x) {
        std::vector<double> in(static_cast<std::size_t>(net.n_inputs()));
        for (std::int64_t j = 0; j < net.n_inputs(); ++j) in[static_cast<std::size_t>(j)] = X[x * net.n_inputs() + j];
        for (std::size_t h = 0; h < L; ++h) {
            const auto& l = net.layers[h];
            // E(input_j): p_j W_j for unit dropout (Eq. 24, 54), (1 - r_j) W_j + r_j for dropin.
            if (gate.kind == GateKind::Units)
                for (std::int64_t j = 0; j < l.n_in; ++j) in[static_cast<std::size_t>(j)] *= gate.prob(h, j);
            // Spikes: E(Delta_j) = r_j E(O_j) (Eq. 130, 133); per connection r_ij (Eq. 131, 134).
            if (gate.kind == GateKind::Spikes && !gate.p[h].empty())
                for (std::int64_t j = 0; j < l.n_in; ++j) in[static_cast<std::size_t>(j)] *= gate.prob(h, j);
            if (gate.kind == GateKind::Dropin)
                for (std::int64_t j = 0; j < l.n_in; ++j) {
                    const double r = gate.prob(h, j);
                    in[static_cast<std::size_t>(j)] = (1.0 - r) * in[static_cast<std::size_t>(j)] + r;
                }
            const double pb = (gate.kind == GateKind::Units || gate.kind == GateKind::Connections) ? gate.bias_keep(h) : 1.0;
            std::vector<double> u(static_cast<std::size_t>(l.n_out));
            for (std::int64_t i = 0; i < l.n_out; ++i) {
                double acc = 0.0;
                const T* Wi = l.W + i * l.n_in;
                if (gate.kind == GateKind::Connections)  // Eq. 26
                    for (std::int64_t j = 0; j < l.n_in; ++j) acc += gate.prob(h, i * l.n_in + j) * Wi[j] * in[static_cast<std::size_t>(j)];
                else if (gate.kind == GateKind::SpikesConnections && !gate.p[h].empty()) {  // Eq. 134
                    const auto& r = gate.p[h];
                    for (std::int64_t j = 0; j < l.n_in; ++j) {
                        const double rij = r.size() == 1 ? r[0] : r.size() == static_cast<std::size_t>(l.n_in)
                                                                      ? r[static_cast<std::size_t>(j)]
                                                                      : r[static_cast<std::size_t>(i * l.n_in + j)];
                        acc += rij * Wi[j] * in[static_cast<std::size_t>(j)];
                    }
                }
                else
                    for (std::int64_t j = 0; j < l.n_in; ++j) acc += static_cast<double>(Wi[j]) * in[static_cast<std::size_t>(j)];
                if (l.b) acc += pb * static_cast<double>(l.b[i]);
                u[static_cast<std::size_t>(i)] = acc;
            }
            std::vector<double> o(static_cast<std::size_t>(l.n_out));
            apply_transfer<double>(l.f, u.data(), o.data(), nullptr, nullptr, nullptr, l.n_out);
            for (std::int64_t i = 0; i < l.n_out; ++i) {
                U[h][x * l.n_out + i] = static_cast<T>(u[static_cast<std::size_t>(i)]);
                W[h][x * l.n_out + i] = static_cast<T>(o[static_cast<std::size_t>(i)]);
            }
            in = o;
        }
    }
}

template void ensemble<float>(const NetworkView<float>&, const Gate&, const float*, std::int64_t,
                              const std::vector<float*>&, const std::vector<float*>&, int);
template void ensemble<double>(const NetworkView<double>&, const Gate&, const double*, std::int64_t,
                               const std::vector<double*>&, const std::vector<double*>&, int);

}  // namespace dropengine
