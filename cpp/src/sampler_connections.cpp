// Connection gates of the sampler (Eq. 14, 23): each w_ij gated by its own draw, read as
// bits at keep 1/2, as 16-bit halves with ties settled by 16 more bits for one keep per
// layer, as whole words for a keep per connection (rng_streams.h, version 2); no float
// mask is materialised. With input_stats the gated inputs are averaged over a sending
// unit's outgoing connections.
#include <algorithm>

#include "dropengine/rng_streams.h"
#include "sampler_detail.h"

namespace dropengine::detail::sampling {

/// Connection dropout (Eq. 14, 23): each w_ij gated by its own draw.
template <class T>
void Sampler<T>::connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h,
                                 std::uint64_t gx, std::uint64_t gs0, std::int64_t b, std::int64_t ldS) const {
    const std::int64_t ni = l.n_in, no = l.n_out;
    const bool one = pl.thr.size() == 1;
    for (std::int64_t s = 0; s < b; ++s)
        if (opt_.input_stats) std::fill(w.gated.begin() + s * ni, w.gated.begin() + (s + 1) * ni, 0.0);
    // Rows outside, samples inside: a row of W is read from memory once per block of
    // samples, not once per sample (connection gates are otherwise bandwidth-bound).
    for (std::int64_t i = 0; i < no; ++i) {
        const T* Wi = l.W + i * ni;
        const std::uint64_t e0 = static_cast<std::uint64_t>(i * ni);
        for (std::int64_t s = 0; s < b; ++s) {
            const T* a = w.act.data() + s * ni;
            double* g = w.gated.data() + s * ni;  // gated inputs, summed over the outgoing connections
            const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::ConnectionGate,
                                                 static_cast<std::uint32_t>(h), gx, gs0 + s);
            T acc = T(0);
            if (one && pl.thr[0] == (std::uint64_t{1} << 31)) {
                // keep = 1/2: one random bit per connection (rng_streams.h, version 2).
                const std::uint64_t b0 = e0 >> 7, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 7) - b0 + 1;
                kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                                  site.c3, site.k0, site.k1, w.words.data());
                const auto off = static_cast<std::int64_t>(e0 & 127u);
                acc = kern_.gated_dot_bits(Wi, a, w.words.data(), off, ni);
                if (opt_.input_stats) {
                    const auto* bytes = reinterpret_cast<const unsigned char*>(w.words.data());
                    for (std::int64_t j = 0; j < ni; ++j)
                        if ((bytes[(off + j) >> 3] >> ((off + j) & 7)) & 1) g[j] += static_cast<double>(a[j]);
                }
            } else if (one) {
                // One keep p for the layer: 16-bit draws, ties settled by 16 more bits
                // (rng_streams.h, version 2): exactly the 32-bit rule with half the words.
                const std::uint64_t t = pl.thr[0];
                const auto thi = static_cast<std::uint32_t>(t >> 16);
                const std::uint64_t b0 = e0 >> 3, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 3) - b0 + 1;
                kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                                  site.c3, site.k0, site.k1, w.words.data());
                const std::uint16_t* u = reinterpret_cast<const std::uint16_t*>(w.words.data()) + (e0 & 7u);
                std::int64_t ties = 0;
                acc = kern_.gated_dot16(Wi, a, u, thi, ni, &ties);
                const DrawSite tie = DrawSite::make(opt_.key[0], opt_.key[1], Stream::ConnectionTie,
                                                    static_cast<std::uint32_t>(h), gx, gs0 + s);
                for (std::int64_t j = 0; j < ni && (ties > 0 || opt_.input_stats); ++j) {
                    bool kept = u[j] < thi;
                    if (u[j] == thi) {
                        --ties;
                        kept = (tie.word(e0 + static_cast<std::uint64_t>(j)) & 0xFFFFu) < (t & 0xFFFFu);
                        if (kept) acc += Wi[j] * a[j];
                    }
                    if (opt_.input_stats && kept) g[j] += static_cast<double>(a[j]);
                }
            } else {
                // A keep per connection: word e (counter block e / 4), then the gated dot product.
                const std::uint64_t b0 = e0 >> 2, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 2) - b0 + 1;
                kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                                  site.c3, site.k0, site.k1, w.words.data());
                const std::uint32_t* words = w.words.data() + (e0 & 3u);
                acc = kern_.gated_dot_each(Wi, a, words, pl.thr.data() + e0, ni);
                if (opt_.input_stats)
                    for (std::int64_t j = 0; j < ni; ++j)
                        g[j] += words[j] < pl.thr[e0 + static_cast<std::uint64_t>(j)] ? static_cast<double>(a[j]) : 0.0;
            }
            w.S[static_cast<std::size_t>(s * ldS + i)] = acc;
        }
    }
    if (opt_.input_stats)
        for (std::int64_t k = 0; k < b * ni; ++k) w.gated[static_cast<std::size_t>(k)] /= static_cast<double>(no);
}

template void Sampler<float>::connection_sums(Workspace<float>&, const LayerView<float>&, const LayerPlan<float>&,
                                              std::size_t, std::uint64_t, std::uint64_t, std::int64_t,
                                              std::int64_t) const;
template void Sampler<double>::connection_sums(Workspace<double>&, const LayerView<double>&,
                                               const LayerPlan<double>&, std::size_t, std::uint64_t, std::uint64_t,
                                               std::int64_t, std::int64_t) const;

}  // namespace dropengine::detail::sampling
