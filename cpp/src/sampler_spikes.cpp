// Spikes in the sampler (Section 10, Eq. 125-129): a unit's output O is the probability
// that it fires, Delta = r when it does. Global spikes (one coin per unit and sample) gate
// the inputs of a layer like unit dropout; connection-specific spikes draw a coin per
// connection with 8 bits and settle the ties (1 in 256) with 24 more (Stream::SpikeTie),
// so the rule is exactly the 32-bit word < round(O 2^32) with a quarter of the words.
#include <algorithm>

#include "dropengine/rng_streams.h"
#include "sampler_detail.h"

namespace dropengine::detail::sampling {
namespace {

/// Spike thresholds t_j = round(O_j 2^32): a coin fires iff its word < t_j (Eq. 125).
/// keep_threshold without llround: for 0 < O < 1, x = O 2^32 has no bits below 2^-21,
/// so x + 1/2 is exact and truncating it rounds half up, as llround does for x > 0.
/// The loop vectorizes.
template <class T>
std::uint64_t spike_threshold(T a) {
    const double o = static_cast<double>(a);
    return o >= 1.0 ? (std::uint64_t{1} << 32) : o > 0.0 ? static_cast<std::uint64_t>(o * 4294967296.0 + 0.5) : 0;
}
template <class T>
void spike_thresholds(const T* a, std::uint64_t* thr, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) thr[j] = spike_threshold(a[j]);
}

}  // namespace

/// Global firing (Eq. 125, 128): unit j of source layer h in sample s sends r_j with
/// probability O_j, its value a[j] (row s of in0, rows in_stride apart), into columns
/// [act_off, act_off + ni) of row s of w.act (rows act_ld apart), s < b.
template <class T>
void Sampler<T>::spike_units(Workspace<T>& w, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx,
                             std::uint64_t gs0, std::int64_t b, const T* in0, std::int64_t in_stride,
                             std::int64_t ni, std::int64_t act_off, std::int64_t act_ld) const {
    for (std::int64_t s = 0; s < b; ++s) {
        T* a = w.act.data() + s * act_ld + act_off;
        const T* in = in0 + s * in_stride;
        std::copy(in, in + ni, a);
        const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::Spike, static_cast<std::uint32_t>(h),
                                             gx, gs0 + s);
        kern_.philox_fill(0, (ni + 3) / 4, site.c1, site.c2, site.c3, site.k0, site.k1, w.words.data());
        spike_thresholds(a, w.thr.data(), ni);
        for (std::int64_t j = 0; j < ni; ++j)
            a[j] = w.words[static_cast<std::size_t>(j)] < w.thr[static_cast<std::size_t>(j)]
                       ? static_cast<T>(pl.r[static_cast<std::size_t>(j)]) : T(0);
    }
}

/// Connection-specific firing (Eq. 126, 129): connection (i, j) carries r_ij when its
/// own coin, with probability O_j, comes up. Each coin is an 8-bit draw against the top
/// 8 bits of t_j = round(O_j 2^32); a draw equal to them (a tie, 1 in 256) is settled by
/// 24 more bits: exactly the 32-bit rule, with a quarter of the Philox words
/// (rng_streams.h, Stream::Spike). Ties are settled in batches, 8 Philox blocks per vector.
/// Sample s's input O (the coins' probabilities) is row s of in0, rows in_stride apart.
template <class T>
void Sampler<T>::spike_connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h,
                                       std::uint64_t gx, std::uint64_t gs0, std::int64_t b, std::int64_t ldS, const T* in0,
                                       std::int64_t in_stride) const {
    const std::int64_t ni = l.n_in, no = l.n_out, ld8 = th8_stride(ni);
    for (std::int64_t s = 0; s < b; ++s) {
        if (opt_.input_stats) std::fill(w.gated.begin() + s * ni, w.gated.begin() + (s + 1) * ni, 0.0);
        const T* o = in0 + s * in_stride;
        std::uint8_t* th = w.th8.data() + s * ld8;
#pragma omp simd
        for (std::int64_t j = 0; j < ni; ++j)  // t = 2^32 (O = 1) becomes 255 with 2^24 to settle ties: always fires
            th[j] = static_cast<std::uint8_t>(std::min<std::uint64_t>(spike_threshold(o[j]) >> 24, 255));
    }
    SpikeTies& ties = w.ties;
    ties.n = 0;
    // Rows outside, samples inside: a row of WR stays in cache for the block's samples.
    for (std::int64_t i = 0; i < no; ++i) {
        const std::uint64_t e0 = static_cast<std::uint64_t>(i * ni);
        for (std::int64_t s = 0; s < b; ++s) {
            const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::Spike, static_cast<std::uint32_t>(h),
                                                 gx, gs0 + s);
            // Connection e draws byte e % 16 of block e / 16.
            const std::uint64_t b0 = e0 >> 4, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 4) - b0 + 1;
            kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                              site.c3, site.k0, site.k1, w.words.data());
            const std::uint8_t* u = reinterpret_cast<const std::uint8_t*>(w.words.data()) + (e0 & 15u);
            const std::uint8_t* th = w.th8.data() + s * ld8;
            std::int64_t nt = 0;
            w.S[static_cast<std::size_t>(s * ldS + i)] = kern_.spike_dot8(pl.wr + e0, u, th, ni, ties.pos.data(), &nt);
            if (opt_.input_stats) kern_.spike_accumulate8(w.gated.data() + s * ni, u, th, pl.r.data() + i * pl.r_row, ni);
            const DrawSite tie = DrawSite::make(opt_.key[0], opt_.key[1], Stream::SpikeTie, static_cast<std::uint32_t>(h),
                                                gx, gs0 + s);
            for (std::int64_t k = 0; k < nt; ++k) {
                const auto n = static_cast<std::size_t>(ties.n++);
                const std::uint64_t e = e0 + static_cast<std::uint64_t>(ties.pos[static_cast<std::size_t>(k)]);
                ties.s[n] = static_cast<std::int32_t>(s);
                ties.j[n] = ties.pos[static_cast<std::size_t>(k)];
                ties.c0[n] = static_cast<std::uint32_t>(e >> 2);  // word e of SpikeTie
                ties.q[n] = static_cast<std::uint8_t>(e & 3u);
                ties.c1[n] = tie.c1;
                ties.c2[n] = tie.c2;
                ties.c3[n] = tie.c3;
            }
            if (ties.n >= SpikeTies::kBatch) settle_ties(w, pl, i, ni, ldS, in0, in_stride);
        }
        settle_ties(w, pl, i, ni, ldS, in0, in_stride);
    }
    if (opt_.input_stats)
        for (std::int64_t k = 0; k < b * ni; ++k) w.gated[static_cast<std::size_t>(k)] /= static_cast<double>(no);
}

/// The pending ties of row i: connection (i, j) of sample s fires iff the low 24 bits
/// of its SpikeTie word are below t_j - (top 8 bits << 24).
template <class T>
void Sampler<T>::settle_ties(Workspace<T>& w, const LayerPlan<T>& pl, std::int64_t i, std::int64_t ni, std::int64_t ldS,
                             const T* in0, std::int64_t in_stride) const {
    SpikeTies& ties = w.ties;
    if (ties.n == 0) return;
    const std::int64_t ld8 = th8_stride(ni);
    kern_.philox_words(ties.n, ties.c0.data(), ties.c1.data(), ties.c2.data(), ties.c3.data(), ties.q.data(),
                       opt_.key[0], opt_.key[1], ties.word.data());
    // Selects, not branches: a tie fires with probability ~1/2, so a branch would
    // mispredict every other time.
    const T* WR = pl.wr + i * ni;
    const double* r = pl.r.data() + i * pl.r_row;
    for (std::int64_t k = 0; k < ties.n; ++k) {
        const auto kk = static_cast<std::size_t>(k);
        const std::int64_t s = ties.s[kk], j = ties.j[kk];
        const std::uint64_t rest = spike_threshold(in0[s * in_stride + j]) -
                                   (static_cast<std::uint64_t>(w.th8[static_cast<std::size_t>(s * ld8 + j)]) << 24);
        const bool fires = (ties.word[kk] & 0xFFFFFFu) < rest;
        const T pick[2] = {T(0), WR[j]};  // an indexed load: the compiler keeps no branch
        w.S[static_cast<std::size_t>(s * ldS + i)] += pick[fires];
        if (opt_.input_stats) {
            const double r_pick[2] = {0.0, r[j]};
            w.gated[static_cast<std::size_t>(s * ni + j)] += r_pick[fires];
        }
    }
    ties.n = 0;
}

#define DROPENGINE_SPIKES(T)                                                                                          \
    template void Sampler<T>::spike_units(Workspace<T>&, const LayerPlan<T>&, std::size_t, std::uint64_t,              \
                                          std::uint64_t, std::int64_t, const T*, std::int64_t, std::int64_t,           \
                                          std::int64_t, std::int64_t) const;                                           \
    template void Sampler<T>::spike_connection_sums(Workspace<T>&, const LayerView<T>&, const LayerPlan<T>&,          \
                                                    std::size_t, std::uint64_t, std::uint64_t, std::int64_t,           \
                                                    std::int64_t, const T*, std::int64_t) const;
DROPENGINE_SPIKES(float)
DROPENGINE_SPIKES(double)
#undef DROPENGINE_SPIKES

}  // namespace dropengine::detail::sampling
