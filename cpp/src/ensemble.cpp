// The deterministic ensemble network (Eq. 24, 26, 54, 98, 167): every weight times
// the expectation of its gate, then ordinary forward propagation.
#include "dropengine/ensemble.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dropengine/sampler.h"  // Interrupted
#include "reduce.h"

namespace dropengine {

namespace {

/// Scratch of one row: every layer's outputs (the network input first), one layer's
/// expected inputs, and one layer's U.
struct RowScratch {
    std::vector<double> out, in, u;
};

/// sum_j term(j) for j < n in four interleaved partial sums, added pairwise at the end: a
/// single chain of dependent additions would wait the add's latency on every term.
template <class F>
double sum4(std::int64_t n, F term) {
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    std::int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        a0 += term(j);
        a1 += term(j + 1);
        a2 += term(j + 2);
        a3 += term(j + 3);
    }
    for (; j < n; ++j) a0 += term(j);
    return (a0 + a1) + (a2 + a3);
}

/// Eq. 167 for one input row. A layer's expected input is the concatenation of its
/// sources' expected gated outputs (Eq. 24-26 with skip connections, network.h).
template <class T>
void ensemble_row(const NetworkView<T>& net, const Gate& gate, const T* x, std::int64_t row,
                  const std::vector<T*>& U, const std::vector<T*>& W, const std::vector<std::int64_t>& at,
                  const std::vector<std::vector<Source>>& sources, RowScratch& sc) {
    for (std::int64_t j = 0; j < net.n_inputs(); ++j) sc.out[static_cast<std::size_t>(j)] = x[j];
    for (std::size_t h = 0; h < net.layers.size(); ++h) {
        const auto& l = net.layers[h];
        double* in = sc.in.data();
        for (const Source& src : sources[h]) {
            const auto sl = static_cast<std::size_t>(src.layer);
            const double* v = sc.out.data() + at[sl];
            double* e = in + src.offset;
            // E(input_j): p_j W_j for unit dropout (Eq. 24, 54), (1 - r_j) W_j + r_j for
            // dropin; spikes: E(Delta_j) = r_j E(O_j) (Eq. 130, 133).
            const GateKind k = gate.kind_of(sl);
            if (k == GateKind::Units || (k == GateKind::Spikes && !gate.p[sl].empty()))
                for (std::int64_t j = 0; j < src.n; ++j) e[j] = v[j] * gate.prob(sl, j);
            else if (k == GateKind::GaussianUnits)  // E(delta) = mean; additive noise has mean 0
                for (std::int64_t j = 0; j < src.n; ++j) e[j] = v[j] * gate.mean_of(sl, j);
            else if (k == GateKind::Dropin)
                for (std::int64_t j = 0; j < src.n; ++j) {
                    const double r = gate.prob(sl, j);
                    e[j] = (1.0 - r) * v[j] + r;
                }
            else
                std::copy(v, v + src.n, e);
        }
        const GateKind k = gate.kind_of(h);  // the connection kinds act on the concatenated input
        const double pb = (k == GateKind::Units || k == GateKind::Connections) ? gate.bias_keep(h) : 1.0;
        double* u = sc.u.data();
        for (std::int64_t i = 0; i < l.n_out; ++i) {
            double acc = 0.0;
            const T* Wi = l.W + i * l.n_in;
            if (k == GateKind::Connections)  // Eq. 26
                acc = sum4(l.n_in, [&](std::int64_t j) { return gate.prob(h, i * l.n_in + j) * Wi[j] * in[j]; });
            else if (k == GateKind::GaussianConnections)  // E(delta_ij) = mean_ij; weight noise: E(eps) = 0
                for (std::int64_t j = 0; j < l.n_in; ++j) acc += gate.mean_of(h, i * l.n_in + j) * Wi[j] * in[j];
            else if (k == GateKind::SpikesConnections && !gate.p[h].empty()) {  // Eq. 134
                const auto& r = gate.p[h];
                for (std::int64_t j = 0; j < l.n_in; ++j) {
                    const double rij = r.size() == 1 ? r[0] : r.size() == static_cast<std::size_t>(l.n_in)
                                                                  ? r[static_cast<std::size_t>(j)]
                                                                  : r[static_cast<std::size_t>(i * l.n_in + j)];
                    acc += rij * Wi[j] * in[j];
                }
            } else
                acc = sum4(l.n_in, [&](std::int64_t j) { return static_cast<double>(Wi[j]) * in[j]; });
            if (l.b) acc += pb * static_cast<double>(l.b[i]);
            u[i] = acc;
        }
        double* o = sc.out.data() + at[h + 1];
        apply_transfer<double>(l.f, u, o, nullptr, nullptr, nullptr, l.n_out);
        for (std::int64_t i = 0; i < l.n_out; ++i) {
            U[h][row * l.n_out + i] = static_cast<T>(u[i]);
            W[h][row * l.n_out + i] = static_cast<T>(o[i]);
        }
    }
}

}  // namespace

template <class T>
void ensemble(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
              const std::vector<T*>& U, const std::vector<T*>& W, int threads,
              const std::function<bool()>& interrupted) {
    net.validate();
    gate.validate(net);
    const auto L = net.layers.size();
    if (U.size() != L || W.size() != L) throw std::invalid_argument("ensemble: one U and one W buffer per layer");
    for (std::int64_t k = 0; k < n_rows * net.n_inputs(); ++k)
        if (!std::isfinite(X[k])) throw std::invalid_argument("ensemble: inputs must be finite");
    const int nt = detail::resolve_threads(threads);
    // at[l]: where the outputs of layer l (0: the network input) start in a row's scratch.
    std::vector<std::int64_t> at{0, net.n_inputs()};
    std::vector<std::vector<Source>> sources;  // each layer's input blocks, once for all rows
    std::int64_t width = 1, macs = 0;
    for (const auto& l : net.layers) {
        sources.push_back(net.sources_of(static_cast<std::int64_t>(sources.size())));
        at.push_back(at.back() + l.n_out);
        width = std::max({width, l.n_in, l.n_out});
        macs += l.n_out * l.n_in;
    }
    // Scratch before the parallel region (running out of memory there would end the
    // process); rows in chunks of about 10^8 multiply-adds, Ctrl-C polled between them.
    std::vector<RowScratch> scratch(static_cast<std::size_t>(nt));
    for (auto& sc : scratch) {
        sc.out.assign(static_cast<std::size_t>(at.back()), 0.0);
        sc.in.assign(static_cast<std::size_t>(width), 0.0);
        sc.u.assign(static_cast<std::size_t>(width), 0.0);
    }
    const std::int64_t chunk = std::max<std::int64_t>(16 * nt, 100'000'000 / std::max<std::int64_t>(macs, 1));
    for (std::int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
        if (r0 > 0 && interrupted && interrupted()) throw Interrupted{};
        const std::int64_t r1 = std::min(n_rows, r0 + chunk);
#pragma omp parallel for schedule(static) if (r1 - r0 > 1) num_threads(nt)
        for (std::int64_t x = r0; x < r1; ++x) {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            ensemble_row(net, gate, X + x * net.n_inputs(), x, U, W, at, sources, scratch[static_cast<std::size_t>(tid)]);
        }
    }
}

template void ensemble<float>(const NetworkView<float>&, const Gate&, const float*, std::int64_t,
                              const std::vector<float*>&, const std::vector<float*>&, int,
                              const std::function<bool()>&);
template void ensemble<double>(const NetworkView<double>&, const Gate&, const double*, std::int64_t,
                               const std::vector<double*>&, const std::vector<double*>&, int,
                               const std::function<bool()>&);

}  // namespace dropengine
