// Continuous noise in the sampler (Sections 4.1, 5; gate.h): multiplicative Gaussian
// gates delta ~ N(mean, std^2) and additive noise eps ~ N(0, std^2) on the units of a
// source layer (one draw per unit and sample, shared by its outgoing connections, as a
// unit's coin is, Eq. 22), and the same on each connection, or on each weight. One
// standard normal per element from two Philox words (rng_streams.h, gaussian_draw).
#include "dropengine/rng_streams.h"
#include "sampler_detail.h"

namespace dropengine::detail::sampling {

/// The normals of elements e0 .. e0 + n - 1 of `site`: two words each, so element e is
/// words 2e, 2e + 1 of the blocks filled from block e0 / 2 on.
template <class T>
const std::uint32_t* Sampler<T>::normal_words(Workspace<T>& w, const DrawSite& site, std::uint64_t e0,
                                              std::int64_t n) const {
    const NormalSpan span = normal_span(e0, n);
    kern_.philox_fill(static_cast<std::uint32_t>(span.first_block), span.n_blocks, site.c1, site.c2, site.c3, site.k0,
                      site.k1, w.words.data());
    return w.words.data() + span.offset;
}

/// Unit j of source layer h in sample s sends delta_j O_j (GaussianUnits) or O_j + eps_j
/// (AdditiveNoise): row s of in0 (rows in_stride apart) into columns [act_off, act_off + ni)
/// of row s of w.act (rows act_ld apart), s < b.
template <class T>
void Sampler<T>::gaussian_units(Workspace<T>& w, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx,
                                std::uint64_t gs0, std::int64_t b, const T* in0, std::int64_t in_stride,
                                std::int64_t ni, std::int64_t act_off, std::int64_t act_ld) const {
    const bool additive = gate_.kind_of(h) == GateKind::AdditiveNoise;
    const Stream st = additive ? Stream::AdditiveNoise : Stream::GaussianUnit;
    const bool one_sd = pl.sd.size() == 1, one_mu = pl.mu.size() == 1;
    for (std::int64_t s = 0; s < b; ++s) {
        T* a = w.act.data() + s * act_ld + act_off;
        const T* in = in0 + s * in_stride;
        const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], st, static_cast<std::uint32_t>(h), gx, gs0 + s);
        const std::uint32_t* u = normal_words(w, site, 0, ni);
        for (std::int64_t j = 0; j < ni; ++j) {
            const auto jj = static_cast<std::size_t>(j);
            const double z = gaussian_from_words(u[2 * jj], u[2 * jj + 1]);
            const double sd = pl.sd[one_sd ? 0 : jj];
            if (additive)
                a[j] = in[j] + static_cast<T>(sd * z);
            else
                a[j] = static_cast<T>(pl.mu[one_mu ? 0 : jj] + sd * z) * in[j];
        }
    }
}

/// Each connection with its own noise: S_i = sum_j W_ij delta_ij a_j (GaussianConnections)
/// or sum_j (W_ij + eps_ij) a_j (WeightNoise), j ascending, in T. With input_stats the
/// noisy inputs delta_ij a_j (or a_j) are averaged over a sending unit's connections.
template <class T>
void Sampler<T>::gaussian_connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl,
                                          std::size_t h, std::uint64_t gx, std::uint64_t gs0, std::int64_t b,
                                          std::int64_t ldS) const {
    const std::int64_t ni = l.n_in, no = l.n_out;
    const bool additive = gate_.kind_of(h) == GateKind::WeightNoise;
    const Stream st = additive ? Stream::WeightNoise : Stream::GaussianConnection;
    const bool one_sd = pl.sd.size() == 1, one_mu = pl.mu.size() == 1;
    if (opt_.input_stats) std::fill(w.gated.begin(), w.gated.begin() + b * ni, 0.0);
    for (std::int64_t i = 0; i < no; ++i) {
        const T* Wi = l.W + i * ni;
        const auto e0 = static_cast<std::uint64_t>(i * ni);
        for (std::int64_t s = 0; s < b; ++s) {
            const T* a = w.act.data() + s * ni;
            double* g = w.gated.data() + s * ni;
            const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], st, static_cast<std::uint32_t>(h), gx, gs0 + s);
            const std::uint32_t* u = normal_words(w, site, e0, ni);
            T acc = T(0);
            for (std::int64_t j = 0; j < ni; ++j) {
                const auto jj = static_cast<std::size_t>(j), e = static_cast<std::size_t>(e0) + jj;
                const double z = gaussian_from_words(u[2 * jj], u[2 * jj + 1]);
                const double sd = pl.sd[one_sd ? 0 : e];
                if (additive) {
                    acc += (Wi[j] + static_cast<T>(sd * z)) * a[j];
                    if (opt_.input_stats) g[j] += static_cast<double>(a[j]);
                } else {
                    const T d = static_cast<T>(pl.mu[one_mu ? 0 : e] + sd * z);
                    acc += Wi[j] * d * a[j];
                    if (opt_.input_stats) g[j] += static_cast<double>(d * a[j]);
                }
            }
            w.S[static_cast<std::size_t>(s * ldS + i)] = acc;
        }
    }
    if (opt_.input_stats)
        for (std::int64_t k = 0; k < b * ni; ++k) w.gated[static_cast<std::size_t>(k)] /= static_cast<double>(no);
}

#define DROPENGINE_GAUSSIAN(T)                                                                                     \
    template const std::uint32_t* Sampler<T>::normal_words(Workspace<T>&, const DrawSite&, std::uint64_t,         \
                                                           std::int64_t) const;                                    \
    template void Sampler<T>::gaussian_units(Workspace<T>&, const LayerPlan<T>&, std::size_t, std::uint64_t,       \
                                             std::uint64_t, std::int64_t, const T*, std::int64_t, std::int64_t,    \
                                             std::int64_t, std::int64_t) const;                                    \
    template void Sampler<T>::gaussian_connection_sums(Workspace<T>&, const LayerView<T>&, const LayerPlan<T>&,    \
                                                       std::size_t, std::uint64_t, std::uint64_t, std::int64_t,    \
                                                       std::int64_t) const;
DROPENGINE_GAUSSIAN(float)
DROPENGINE_GAUSSIAN(double)
#undef DROPENGINE_GAUSSIAN

}  // namespace dropengine::detail::sampling
