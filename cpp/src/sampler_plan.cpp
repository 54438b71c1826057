// The sampler's per-layer plans, prepared once per sample() call: keep thresholds
// round(p 2^32) of the gates (Eq. 22, 23; rng_streams.h), the packed W^T of the
// zero-skipping product, and the spike sizes r (Eq. 128, 129) with W r for
// connection-specific spikes.
#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "dropengine/rng_streams.h"
#include "pack.h"
#include "sampler_detail.h"

namespace dropengine::detail::sampling {

template <class T>
Sampler<T>::Sampler(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                    const SampleOptions& opt)
    : net_(net), gate_(gate), X_(X), n_rows_(n_rows), opt_(opt), kern_(kernels<T>()) {
    const auto L = net.layers.size();
    n_stats_ = net.n_units();
    plans_.resize(L);
    for (std::size_t h = 0; h < L; ++h) sources_.push_back(net.sources_of(static_cast<std::int64_t>(h)));
    for (std::size_t h = 0; h < L; ++h) {
        const auto& l = net.layers[h];
        auto& pl = plans_[h];
        const GateKind kind = gate.kind_of(h);
        const auto& p = kind == GateKind::None ? std::vector<double>{1.0} : gate.p[h];
        pl.in_offset = n_stats_;
        if (opt.input_stats) n_stats_ += l.n_in;
        if (gate.spiking(h)) {
            // Spike sizes r; the coin of each unit (or connection) is its own output O.
            pl.gated = !p.empty();
            if (kind == GateKind::Spikes && pl.gated) {
                // Over the units of source layer h (gate.h).
                pl.r.assign(static_cast<std::size_t>(net.n_source(static_cast<std::int64_t>(h))), p.size() == 1 ? p[0] : 0.0);
                if (p.size() != 1) std::copy(p.begin(), p.end(), pl.r.begin());
            }
            if (kind == GateKind::SpikesConnections && pl.gated) {
                // r_ij as given (1, n_in or n_out * n_in values): a row of r is the
                // whole vector unless r is per connection. W r is W itself for r = 1,
                // so the common case copies nothing.
                const bool per_connection = p.size() == static_cast<std::size_t>(l.n_out * l.n_in) && l.n_out > 1;
                pl.r_row = per_connection ? l.n_in : 0;
                pl.r.assign(static_cast<std::size_t>(per_connection ? l.n_out * l.n_in : l.n_in), p.size() == 1 ? p[0] : 0.0);
                if (p.size() != 1) std::copy(p.begin(), p.end(), pl.r.begin());
                if (std::all_of(p.begin(), p.end(), [](double v) { return v == 1.0; })) {
                    pl.wr = l.W;
                } else {
                    pl.WR.resize(static_cast<std::size_t>(l.n_out * l.n_in));
                    for (std::int64_t i = 0; i < l.n_out; ++i)
                        for (std::int64_t j = 0; j < l.n_in; ++j) {
                            const std::size_t e = static_cast<std::size_t>(i * l.n_in + j);
                            pl.WR[e] = static_cast<T>(static_cast<double>(l.W[e]) * pl.r[static_cast<std::size_t>(i * pl.r_row + j)]);
                        }
                    pl.wr = pl.WR.data();
                }
            }
            if (kind != GateKind::SpikesConnections || !pl.gated)
                pack_dense(pl, l, h);
            max_in_ = std::max(max_in_, l.n_in);
            max_pad_ = std::max(max_pad_, row_stride_of<T>(l.n_out));
            continue;
        }
        if (gate.gaussian(h)) {
            // std and mean as given; a layer with no noise (std 0, mean 1) takes the plain product.
            pl.sd = p;
            pl.mu = gate.noise_mean(h);
            pl.gated = gate.noisy(h);
            const bool per_connection = !gate.per_unit(h) && pl.gated;
            if (!per_connection)
                pack_dense(pl, l, h);
            max_in_ = std::max(max_in_, l.n_in);
            max_pad_ = std::max(max_pad_, row_stride_of<T>(l.n_out));
            continue;
        }
        for (double v : p) pl.thr.push_back(keep_threshold(v));
        if (kind == GateKind::Dropin)
            pl.gated = std::any_of(p.begin(), p.end(), [](double v) { return v > 0; });
        else
            pl.gated = std::any_of(p.begin(), p.end(), [](double v) { return v < 1; });
        if (kind == GateKind::Units || kind == GateKind::Connections)
            pl.bias_thr = keep_threshold(gate.bias_keep(h));
        // An ungated layer (keep 1) of a connection gate takes the plain product.
        if (kind != GateKind::Connections || !pl.gated)
            pack_dense(pl, l, h);
        max_in_ = std::max(max_in_, l.n_in);
        max_pad_ = std::max(max_pad_, row_stride_of<T>(l.n_out));
    }
}

/// The packed weights of the zero-skipping product: float32/64, or bfloat16 pairs.
template <class T>
void Sampler<T>::pack_dense(LayerPlan<T>& pl, const LayerView<T>& l, std::size_t h) const {
    if constexpr (std::is_same_v<T, float>) {
        // The network's inputs keep float32: they are data, the same in every sample, so
        // their rounding would shift every sample's S the same way (measured: up to 1.7
        // standard errors of a 10,000-sample E on the paper's first layer).
        const auto& src = sources_[h];
        pl.bf16 = opt_.bf16 && std::none_of(src.begin(), src.end(), [](const Source& s) { return s.layer == 0; });
        if (pl.bf16) {
            pl.Wp2 = pack_pairs_bf16(l.W, l.n_out, l.n_in);
            // Above 3.39e38 a float32 weight rounds to an infinite bfloat16.
            for (const std::uint32_t v : pl.Wp2)
                if ((v & 0x7F80u) == 0x7F80u || (v & 0x7F800000u) == 0x7F800000u)
                    throw std::invalid_argument("sample: precision bf16: a weight rounds beyond bfloat16's range "
                                                "(|w| > 3.39e38)");
            return;
        }
    }
    pl.Wp = pack_weights<T>(l.W, l.n_out, l.n_in, [](std::int64_t, std::int64_t) { return 1.0; });
}

template Sampler<float>::Sampler(const NetworkView<float>&, const Gate&, const float*, std::int64_t,
                                 const SampleOptions&);
template Sampler<double>::Sampler(const NetworkView<double>&, const Gate&, const double*, std::int64_t,
                                  const SampleOptions&);

}  // namespace dropengine::detail::sampling

namespace dropengine::detail::sampling {
template void Sampler<float>::pack_dense(LayerPlan<float>&, const LayerView<float>&, std::size_t) const;
template void Sampler<double>::pack_dense(LayerPlan<double>&, const LayerView<double>&, std::size_t) const;
}  // namespace dropengine::detail::sampling
