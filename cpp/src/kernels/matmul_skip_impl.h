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
// Internal linkage: every ISA's translation unit compiles its own copy of these bodies
// with its own flags. As ordinary inline functions the linker would keep one copy for
// all ISAs (for instance the portable one inside the AVX-512 kernels).
namespace {

template <class T>
inline void matmul_skip_body(const T* A, std::int64_t B, std::int64_t n_in, const T* Wp, std::int64_t n_out,
                             T* S, std::int64_t ldS, std::int32_t* idx, T* val) {
    constexpr std::int64_t TILE = kTile<T>;
    constexpr std::int64_t KC = kSlabRows;
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
    // GCC vector extensions: 8 vectors of 64 bytes hold one tile's accumulators in
    // registers (8 zmm with AVX-512, 16 ymm with AVX2, 32 xmm portable). They are
    // eight named variables on purpose: as an array V a[8] (with unrolled loops or
    // lambdas) GCC 12 keeps them on the stack and the kernel runs 5x slower.
    typedef T V __attribute__((vector_size(64)));
    constexpr int NV = static_cast<int>(TILE * sizeof(T) / 64);
    static_assert(NV == 8, "tile is 8 vectors");
    for (std::int64_t t = 0; t < nt; ++t) {
        const T* Wt = Wp + t * n_in * TILE;
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            for (std::int64_t s = 0; s < B; ++s) {
                const std::int32_t* st = start + s * (nkb + 1);
                const std::int32_t* is = idx + s * n_in;
                const T* vs = val + s * n_in;
                T* out = S + s * ldS + t * TILE;
                V a0, a1, a2, a3, a4, a5, a6, a7;
                if (kb == 0) {
                    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = V{};
                } else {
                    std::memcpy(&a0, out, 64); std::memcpy(&a1, out + 1 * 64 / sizeof(T), 64);
                    std::memcpy(&a2, out + 2 * 64 / sizeof(T), 64); std::memcpy(&a3, out + 3 * 64 / sizeof(T), 64);
                    std::memcpy(&a4, out + 4 * 64 / sizeof(T), 64); std::memcpy(&a5, out + 5 * 64 / sizeof(T), 64);
                    std::memcpy(&a6, out + 6 * 64 / sizeof(T), 64); std::memcpy(&a7, out + 7 * 64 / sizeof(T), 64);
                }
                const std::int32_t k1 = st[kb + 1];
                for (std::int32_t k = st[kb]; k < k1; ++k) {
                    const T v = vs[k];
                    const T* w = Wt + static_cast<std::int64_t>(is[k]) * TILE;
                    V w0, w1, w2, w3, w4, w5, w6, w7;
                    std::memcpy(&w0, w, 64); std::memcpy(&w1, w + 1 * 64 / sizeof(T), 64);
                    std::memcpy(&w2, w + 2 * 64 / sizeof(T), 64); std::memcpy(&w3, w + 3 * 64 / sizeof(T), 64);
                    std::memcpy(&w4, w + 4 * 64 / sizeof(T), 64); std::memcpy(&w5, w + 5 * 64 / sizeof(T), 64);
                    std::memcpy(&w6, w + 6 * 64 / sizeof(T), 64); std::memcpy(&w7, w + 7 * 64 / sizeof(T), 64);
                    a0 += v * w0; a1 += v * w1; a2 += v * w2; a3 += v * w3;
                    a4 += v * w4; a5 += v * w5; a6 += v * w6; a7 += v * w7;
                }
                std::memcpy(out, &a0, 64); std::memcpy(out + 1 * 64 / sizeof(T), &a1, 64);
                std::memcpy(out + 2 * 64 / sizeof(T), &a2, 64); std::memcpy(out + 3 * 64 / sizeof(T), &a3, 64);
                std::memcpy(out + 4 * 64 / sizeof(T), &a4, 64); std::memcpy(out + 5 * 64 / sizeof(T), &a5, 64);
                std::memcpy(out + 6 * 64 / sizeof(T), &a6, 64); std::memcpy(out + 7 * 64 / sizeof(T), &a7, 64);
            }
        }
    }
}

}  // namespace
}  // namespace dropengine::detail
