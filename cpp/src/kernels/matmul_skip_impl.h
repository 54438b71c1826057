// Body of the zero-skipping products, compiled once per ISA (kernels_<isa>.cpp).
//
// out = A Wt where most of A is zero (dropped units, sparse inputs, dropped errors): for
// each row of A the nonzero (k, a_k) are listed once (sparse_lists), then for each
// kTile-wide column tile and each KC-row slab of the right-hand matrix (the slab stays in
// L1), a row's accumulators stay in registers while a_k * Wt[k, tile] is added for that
// row's nonzeros (skip_gemm). The sampler's forward pass, and the trainer's forward,
// backward and weight-gradient products are all this one loop with different strides.
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
inline void sparse_lists_body(const T* A, std::int64_t rs, std::int64_t cs, std::int64_t r0, std::int64_t r1,
                              std::int64_t n, std::int32_t* idx, T* val, std::int32_t* start) {
    constexpr std::int64_t KC = kSlabRows;
    const std::int64_t nkb = (n + KC - 1) / KC;
    for (std::int64_t r = r0; r < r1; ++r) {
        const T* a = A + r * rs;
        std::int32_t* is = idx + r * n;
        T* vs = val + r * n;
        std::int32_t* st = start + r * (nkb + 1);
        std::int32_t k = 0;
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            st[kb] = k;
            const std::int64_t j1 = std::min(n, (kb + 1) * KC);
            // Branch-free: whether an entry is zero is random, a branch would mispredict.
            for (std::int64_t j = kb * KC; j < j1; ++j) {
                const T v = a[j * cs];
                is[k] = static_cast<std::int32_t>(j);
                vs[k] = v;
                k += (v != T(0));
            }
        }
        st[nkb] = k;
    }
}

/// One row's accumulation over one slab for NV vectors of VB bytes (NV = 8: a whole tile
/// with AVX-512's 64; half of it with AVX2's 32, a quarter with SSE's 16; fewer for the
/// last tile of a layer): the accumulators stay in registers, leaving room for the loads,
/// while a_k * Wt[k, part] is added for the row's nonzeros k, in order, so every part,
/// width and ISA sums each output the same way.
/// (Vectors wider than the registers, 64 bytes on AVX2, make GCC go through the stack:
/// 10x slower.)
template <class T, int VB, int NV = 8>
inline void skip_row_part(const std::int32_t* is, const T* vs, std::int32_t k0, std::int32_t k1, const T* Wtt,
                          std::int64_t wrs, T* o, bool load) {
    static_assert(NV >= 1 && NV <= 8, "a part is 1 to 8 vectors");
    // GCC vector extensions: named variables on purpose. As an array V a[8] (with
    // unrolled loops or lambdas) GCC 12 keeps them on the stack and the kernel runs 5x
    // slower. Vector i takes part only if NV > i.
    typedef T V __attribute__((vector_size(VB)));
    constexpr std::int64_t E = VB / sizeof(T);  // elements per vector
    V a0{}, a1{}, a2{}, a3{}, a4{}, a5{}, a6{}, a7{};
    if (load) {
        std::memcpy(&a0, o, VB);
        if constexpr (NV > 1) std::memcpy(&a1, o + 1 * E, VB);
        if constexpr (NV > 2) std::memcpy(&a2, o + 2 * E, VB);
        if constexpr (NV > 3) std::memcpy(&a3, o + 3 * E, VB);
        if constexpr (NV > 4) std::memcpy(&a4, o + 4 * E, VB);
        if constexpr (NV > 5) std::memcpy(&a5, o + 5 * E, VB);
        if constexpr (NV > 6) std::memcpy(&a6, o + 6 * E, VB);
        if constexpr (NV > 7) std::memcpy(&a7, o + 7 * E, VB);
    }
    // Two nonzeros per trip: the loop's own loads and branch are shared, and each
    // accumulator still adds its terms in order (the same bits).
#pragma GCC unroll 2
    for (std::int32_t k = k0; k < k1; ++k) {
        const T v = vs[k];
        const T* w = Wtt + static_cast<std::int64_t>(is[k]) * wrs;
        V w0, w1, w2, w3, w4, w5, w6, w7;
        std::memcpy(&w0, w, VB);
        if constexpr (NV > 1) std::memcpy(&w1, w + 1 * E, VB);
        if constexpr (NV > 2) std::memcpy(&w2, w + 2 * E, VB);
        if constexpr (NV > 3) std::memcpy(&w3, w + 3 * E, VB);
        if constexpr (NV > 4) std::memcpy(&w4, w + 4 * E, VB);
        if constexpr (NV > 5) std::memcpy(&w5, w + 5 * E, VB);
        if constexpr (NV > 6) std::memcpy(&w6, w + 6 * E, VB);
        if constexpr (NV > 7) std::memcpy(&w7, w + 7 * E, VB);
        a0 += v * w0;
        if constexpr (NV > 1) a1 += v * w1;
        if constexpr (NV > 2) a2 += v * w2;
        if constexpr (NV > 3) a3 += v * w3;
        if constexpr (NV > 4) a4 += v * w4;
        if constexpr (NV > 5) a5 += v * w5;
        if constexpr (NV > 6) a6 += v * w6;
        if constexpr (NV > 7) a7 += v * w7;
    }
    std::memcpy(o, &a0, VB);
    if constexpr (NV > 1) std::memcpy(o + 1 * E, &a1, VB);
    if constexpr (NV > 2) std::memcpy(o + 2 * E, &a2, VB);
    if constexpr (NV > 3) std::memcpy(o + 3 * E, &a3, VB);
    if constexpr (NV > 4) std::memcpy(o + 4 * E, &a4, VB);
    if constexpr (NV > 5) std::memcpy(o + 5 * E, &a5, VB);
    if constexpr (NV > 6) std::memcpy(o + 6 * E, &a6, VB);
    if constexpr (NV > 7) std::memcpy(o + 7 * E, &a7, VB);
}

/// Vector width in bytes of this translation unit's ISA.
#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif

/// Row accumulation over one slab for columns [0, width) of a tile (width <= kTile,
/// rounded up to whole vectors), in parts of up to 8 vectors: a whole tile is parts of 8;
/// the last tile of a 1200-unit layer is one part of 3 vectors (48 units), of a 10-unit
/// output layer one of 1. Columns past the covering vectors are not written.
template <class T>
inline void skip_row_cols(const std::int32_t* is, const T* vs, std::int32_t k0, std::int32_t k1, const T* Wtt,
                          std::int64_t wrs, std::int64_t width, T* o, bool load) {
    constexpr int VB = kVecBytes;
    constexpr std::int64_t E = VB / static_cast<std::int64_t>(sizeof(T));  // elements per vector
    static_assert(kTile<T> % (8 * E) == 0, "a tile is whole parts of 8 vectors");
    for (std::int64_t c = 0; c < width;) {
        const std::int64_t nv = std::min<std::int64_t>(8, (width - c + E - 1) / E);
        with_vectors(nv, [&](auto NV) {
            skip_row_part<T, VB, decltype(NV)::value>(is, vs, k0, k1, Wtt + c, wrs, o + c, load);
        });
        c += nv * E;
    }
}

template <class T>
inline void skip_gemm_body(const SparseRows<T>& A, std::int64_t r0, std::int64_t r1, const T* Wt, std::int64_t wts,
                           std::int64_t wrs, std::int64_t t0, std::int64_t t1, std::int64_t n_cols, T* out,
                           std::int64_t ors, std::int64_t ots, bool accumulate) {
    constexpr std::int64_t KC = kSlabRows;
    const std::int64_t nkb = (A.n + KC - 1) / KC;
    for (std::int64_t t = t0; t < t1; ++t) {
        const T* Wtt = Wt + t * wts;
        const std::int64_t width = std::min(kTile<T>, n_cols - t * kTile<T>);
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const std::int32_t* st = A.start + r * (nkb + 1);
                skip_row_cols<T>(A.idx + r * A.n, A.val + r * A.n, st[kb], st[kb + 1], Wtt, wrs, width,
                                 out + r * ors + t * ots, kb > 0 || accumulate);
            }
        }
    }
}

template <class T>
inline void matmul_skip_body(const T* A, std::int64_t B, std::int64_t n_in, const T* Wp, std::int64_t n_out,
                             T* S, std::int64_t ldS, std::int32_t* idx, T* val) {
    // The caller's scratch: B * n_in ints of indices, then B * (n_slabs + 1) slab starts.
    std::int32_t* start = idx + B * n_in;
    sparse_lists_body<T>(A, n_in, 1, 0, B, n_in, idx, val, start);
    const SparseRows<T> rows{idx, val, start, n_in};
    skip_gemm_body<T>(rows, 0, B, Wp, n_in * kTile<T>, kTile<T>, 0, n_tiles<T>(n_out), n_out, S, ldS, kTile<T>,
                      false);
}

}  // namespace
}  // namespace dropengine::detail
