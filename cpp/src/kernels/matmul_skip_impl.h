// Body of the zero-skipping product, compiled once per ISA (matmul_skip_<isa>.cpp).
//
// S = A W^T where most of A is zero (dropped units, sparse inputs): for each sample
// the nonzero (j, a_j) are listed once, then for each kTile-wide column tile and each
// KC-row slab of the packed weights (the slab stays in L1), the tile's accumulators
// stay in registers while a_j * Wp[j, tile] is added for that sample's nonzeros.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels.h"

namespace dropengine::detail {

template <class T>
inline void matmul_skip_body(const T* A, std::int64_t B, std::int64_t n_in, const T* Wp, std::int64_t n_out,
                             T* S, std::int64_t ldS, std::int32_t* idx, T* val) {
    constexpr std::int64_t TILE = kTile<T>;
    constexpr std::int64_t KC = 64;  // rows of a slab: 64 * 512 B = 32 KiB
    const std::int64_t nt = n_tiles<T>(n_out), nkb = (n_in + KC - 1) / KC;
    // Nonzero lists, and for each (sample, slab) where its entries start.
    std::int32_t* start = idx + B * n_in;  // B * (nkb + 1) more ints, allocated by the caller
    for (std::int64_t s = 0; s < B; ++s) {
        const T* a = A + s * n_in;
        std::int32_t* is = idx + s * n_in;
        T* vs = val + s * n_in;
        std::int32_t k = 0;
        std::int32_t* st = start + s * (nkb + 1);
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            st[kb] = k;
            const std::int64_t j1 = std::min(n_in, (kb + 1) * KC);
            for (std::int64_t j = kb * KC; j < j1; ++j) {
                is[k] = static_cast<std::int32_t>(j);
                vs[k] = a[j];
                k += (a[j] != T(0));
            }
        }
        st[nkb] = k;
    }
    for (std::int64_t t = 0; t < nt; ++t) {
        const T* Wt = Wp + t * n_in * TILE;
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            for (std::int64_t s = 0; s < B; ++s) {
                const std::int32_t* st = start + s * (nkb + 1);
                const std::int32_t* is = idx + s * n_in;
                const T* vs = val + s * n_in;
                T acc[TILE];
                T* out = S + s * ldS + t * TILE;
                if (kb == 0) {
                    for (std::int64_t c = 0; c < TILE; ++c) acc[c] = T(0);
                } else {
                    for (std::int64_t c = 0; c < TILE; ++c) acc[c] = out[c];
                }
                for (std::int32_t k = st[kb]; k < st[kb + 1]; ++k) {
                    const T v = vs[k];
                    const T* w = Wt + static_cast<std::int64_t>(is[k]) * TILE;
#pragma omp simd
                    for (std::int64_t c = 0; c < TILE; ++c) acc[c] += v * w[c];
                }
                for (std::int64_t c = 0; c < TILE; ++c) out[c] = acc[c];
            }
        }
    }
}

}  // namespace dropengine::detail
