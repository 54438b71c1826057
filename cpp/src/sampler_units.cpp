// Unit gates of the sampler (Eq. 22): dropout keeps input j of a layer iff its Philox
// word is below round(p_j 2^32) (rng_streams.h, Stream::UnitGate), one draw per unit and
// sample shared by all the unit's outgoing connections; dropin sets it to 1 under the same
// rule (Stream::Dropin).
#include <algorithm>

#include "dropengine/rng_streams.h"
#include "sampler_detail.h"

namespace dropengine::detail::sampling {
namespace {

/// a[j] = 0 where words[j] >= t (unit dropout with one keep threshold t < 2^32). Branch-
/// free so it vectorizes: the keep decisions are random, a branch would mispredict.
template <class T>
void mask_below(T* __restrict a, const std::uint32_t* __restrict words, std::uint32_t t, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) a[j] = words[j] < t ? a[j] : T(0);
}

}  // namespace

/// Copies row s of in0 (ni units of source layer h, rows in_stride apart) to columns
/// [act_off, act_off + ni) of row s of w.act (rows act_ld apart) and gates it, s < b.
/// The draws are addressed by the source layer, so every layer it feeds sees the same coins.
template <class T>
void Sampler<T>::gate_units(Workspace<T>& w, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx,
                            std::uint64_t gs0, std::int64_t b, const T* in0, std::int64_t in_stride,
                            std::int64_t ni, std::int64_t act_off, std::int64_t act_ld) const {
    const bool dropin = gate_.kind_of(h) == GateKind::Dropin;
    const Stream st = dropin ? Stream::Dropin : Stream::UnitGate;
    const bool one = pl.thr.size() == 1;
    for (std::int64_t s = 0; s < b; ++s) {
        T* a = w.act.data() + s * act_ld + act_off;
        const T* in = in0 + s * in_stride;
        std::copy(in, in + ni, a);
        const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], st, static_cast<std::uint32_t>(h), gx, gs0 + s);
        // The words of units 0 .. ni-1 (rng_streams.h), 16 Philox counters at a time.
        kern_.philox_fill(0, (ni + 3) / 4, site.c1, site.c2, site.c3, site.k0, site.k1, w.words.data());
        const std::uint32_t* words = w.words.data();
        if (dropin) {
            for (std::int64_t j = 0; j < ni; ++j)
                if (words[j] < pl.thr[one ? 0 : static_cast<std::size_t>(j)]) a[j] = T(1);
        } else if (one) {
            // keep iff word < t; t = 2^32 (p rounding to 1) keeps all.
            const std::uint32_t t = static_cast<std::uint32_t>(pl.thr[0]);
            if (pl.thr[0] < (std::uint64_t{1} << 32)) mask_below(a, words, t, ni);
        } else {
            for (std::int64_t j = 0; j < ni; ++j) a[j] = words[j] < pl.thr[static_cast<std::size_t>(j)] ? a[j] : T(0);
        }
    }
}

template void Sampler<float>::gate_units(Workspace<float>&, const LayerPlan<float>&, std::size_t, std::uint64_t,
                                         std::uint64_t, std::int64_t, const float*, std::int64_t, std::int64_t,
                                         std::int64_t, std::int64_t) const;
template void Sampler<double>::gate_units(Workspace<double>&, const LayerPlan<double>&, std::size_t, std::uint64_t,
                                          std::uint64_t, std::int64_t, const double*, std::int64_t, std::int64_t,
                                          std::int64_t, std::int64_t) const;

}  // namespace dropengine::detail::sampling
