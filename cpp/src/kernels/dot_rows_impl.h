// Body of the trainer's backward product G = D W from the packed W^T (no row-major
// copy of W needed), compiled once per ISA (kernels_<isa>.cpp).
//
// G[b, j] = sum_i D[b, i] W[i, j] is a dot product of row b of D with column j of W,
// and column j of W is row j of every packed tile: Wp[t][j][c] = W[t kTile + c, j].
// A 4 x 4 block of (b, j) keeps 16 vector accumulators in registers, so each loaded
// vector feeds four FMAs; the 16 horizontal sums come once per block.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels.h"

// The 64-byte vectors are passed between inlined helpers of one translation unit; the
// ABI note GCC gives for them (in the units built without AVX-512) concerns calls
// across units, which never happen here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace dropengine::detail {
namespace {

template <class T>
inline T hsum(const T* v, int E) {
    T s = 0;
    for (int e = 0; e < E; ++e) s += v[e];
    return s;
}

/// Lane q of the result is the sum of the 16 lanes of v[q] (float32 vectors of 16 lanes).
template <class V>
inline V reduce16(const V* v) {
    typedef int M __attribute__((vector_size(64)));
    // Level by level, each vector holds segments of (16 / 2^level) partial sums of
    // consecutive accumulators; adding the two halves of every segment halves it.
    const M lo1 = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const M hi1 = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    const M lo2 = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
    const M hi2 = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
    const M lo3 = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29};
    const M hi3 = {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31};
    const M lo4 = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const M hi4 = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    V r1[8], r2[4], r3[2];
    for (int k = 0; k < 8; ++k) r1[k] = __builtin_shuffle(v[2 * k], v[2 * k + 1], lo1) + __builtin_shuffle(v[2 * k], v[2 * k + 1], hi1);
    for (int k = 0; k < 4; ++k) r2[k] = __builtin_shuffle(r1[2 * k], r1[2 * k + 1], lo2) + __builtin_shuffle(r1[2 * k], r1[2 * k + 1], hi2);
    for (int k = 0; k < 2; ++k) r3[k] = __builtin_shuffle(r2[2 * k], r2[2 * k + 1], lo3) + __builtin_shuffle(r2[2 * k], r2[2 * k + 1], hi3);
    return __builtin_shuffle(r3[0], r3[1], lo4) + __builtin_shuffle(r3[0], r3[1], hi4);
}

#if !defined(__AVX512F__) && defined(__AVX__)
/// The AVX2 blocks of dot_rows_body (float32): 2 rows b x 2 columns j at a time, each
/// dot product in two 8-lane halves; `one` does the edges.
template <class One>
inline void dot_rows_avx2(const float* D, std::int64_t ldd, std::int64_t b0, std::int64_t b1, const float* Wp,
                          std::int64_t n_in, std::int64_t n_out, std::int64_t j0, std::int64_t j1, float* G,
                          std::int64_t ldg, const One& one) {
    typedef float H __attribute__((vector_size(32)));
    constexpr std::int64_t TILE = kTile<float>;
    const std::int64_t nt = n_tiles<float>(n_out);
    auto nv = [&](std::int64_t t) {  // 16-lane vectors of tile t that can hold nonzero D
        const std::int64_t c = n_out - t * TILE;
        return c >= TILE ? TILE / 16 : (c + 15) / 16;
    };
    auto ld = [](const float* p) {
        H v;
        std::memcpy(&v, p, 32);
        return v;
    };
    // Lane sums in reduce16's order: (e, e + 8), then (e, e + 4), (e, e + 2), (e, e + 1).
    auto fold = [](H lo, H hi) {
        float a[8], b[8];
        const H s1 = lo + hi;
        std::memcpy(a, &s1, 32);
        for (int e = 0; e < 4; ++e) b[e] = a[e] + a[e + 4];
        for (int e = 0; e < 2; ++e) a[e] = b[e] + b[e + 2];
        return a[0] + a[1];
    };
    // The 4 x 4 blocks of the AVX-512 body, each as four 2 x 2 blocks, and its edges
    // through `one`: every entry is reduced as the AVX-512 body reduces it.
    auto block2 = [&](std::int64_t b, std::int64_t j) {
        const float* d0 = D + b * ldd;
        const float* d1 = d0 + ldd;
        H a00l{}, a00h{}, a01l{}, a01h{}, a10l{}, a10h{}, a11l{}, a11h{};
        for (std::int64_t t = 0; t < nt; ++t) {
            const float* w = Wp + (t * n_in + j) * TILE;
            const std::int64_t o = t * TILE, n = nv(t);
            for (std::int64_t v = 0; v < n; ++v) {
                const std::int64_t e = v * 16;
                const H w0l = ld(w + e), w0h = ld(w + e + 8), w1l = ld(w + TILE + e), w1h = ld(w + TILE + e + 8);
                H xl = ld(d0 + o + e), xh = ld(d0 + o + e + 8);
                a00l += xl * w0l; a00h += xh * w0h; a01l += xl * w1l; a01h += xh * w1h;
                xl = ld(d1 + o + e);
                xh = ld(d1 + o + e + 8);
                a10l += xl * w0l; a10h += xh * w0h; a11l += xl * w1l; a11h += xh * w1h;
            }
        }
        G[b * ldg + j] = fold(a00l, a00h);
        G[b * ldg + j + 1] = fold(a01l, a01h);
        G[(b + 1) * ldg + j] = fold(a10l, a10h);
        G[(b + 1) * ldg + j + 1] = fold(a11l, a11h);
    };
    std::int64_t j = j0;
    for (; j + 4 <= j1; j += 4) {
        std::int64_t b = b0;
        for (; b + 4 <= b1; b += 4)
            for (int q = 0; q < 4; ++q) block2(b + 2 * (q / 2), j + 2 * (q % 2));
        for (; b < b1; ++b)
            for (std::int64_t q = 0; q < 4; ++q) one(b, j + q);
    }
    for (; j < j1; ++j)
        for (std::int64_t b = b0; b < b1; ++b) one(b, j);
}
#endif

template <class T>
inline void dot_rows_body(const T* D, std::int64_t ldd, std::int64_t b0, std::int64_t b1, const T* Wp,
                          std::int64_t n_in, std::int64_t n_out, std::int64_t j0, std::int64_t j1, T* G,
                          std::int64_t ldg) {
    typedef T V __attribute__((vector_size(64)));
    constexpr int E = 64 / sizeof(T);
    constexpr std::int64_t TILE = kTile<T>;
    const std::int64_t nt = n_tiles<T>(n_out);
    // Vectors per tile that can hold nonzero D (D is zero past n_out).
    auto nv = [&](std::int64_t t) {
        const std::int64_t c = n_out - t * TILE;
        return c >= TILE ? TILE / E : (c + E - 1) / E;
    };
    auto ld = [](const T* p) {
        V v;
        std::memcpy(&v, p, 64);
        return v;
    };
    // One (b, j) entry the plain way: for the edges of the 4 x 4 blocking.
    auto one = [&](std::int64_t b, std::int64_t j) {
        V a{};
        for (std::int64_t t = 0; t < nt; ++t)
            for (std::int64_t v = 0; v < nv(t); ++v)
                a += ld(D + b * ldd + t * TILE + v * E) * ld(Wp + (t * n_in + j) * TILE + v * E);
        T lanes[E];
        std::memcpy(lanes, &a, 64);
        G[b * ldg + j] = hsum(lanes, E);
    };
#if !defined(__AVX512F__) && defined(__AVX__)
    if constexpr (E == 16) {
        // AVX2: 16 ymm registers hold 2 x 2 blocks of (b, j), each 16-lane accumulator
        // as its two halves (lanes 0-7, 8-15), which reduce16's first level adds: the
        // same lanes, the same order, the same bits as the AVX-512 4 x 4 blocks. (The 4 x
        // 4 blocks of 64-byte vectors need 32 ymm: GCC goes through the stack, 4x slower.)
        dot_rows_avx2(D, ldd, b0, b1, Wp, n_in, n_out, j0, j1, G, ldg, one);
        return;
    }
#endif
    // j blocks outside: a block's 4 columns of W (4 rows of every tile) stay in L1 while
    // all rows of D stream past from L2.
    std::int64_t j = j0;
    for (; j + 4 <= j1; j += 4) {
        std::int64_t b = b0;
        for (; b + 4 <= b1; b += 4) {
            const T* d0 = D + b * ldd;
            const T* d1 = d0 + ldd;
            const T* d2 = d1 + ldd;
            const T* d3 = d2 + ldd;
            V a00{}, a01{}, a02{}, a03{}, a10{}, a11{}, a12{}, a13{};
            V a20{}, a21{}, a22{}, a23{}, a30{}, a31{}, a32{}, a33{};
            for (std::int64_t t = 0; t < nt; ++t) {
                const T* w = Wp + (t * n_in + j) * TILE;
                const std::int64_t o = t * TILE, n = nv(t);
                for (std::int64_t v = 0; v < n; ++v) {
                    const std::int64_t e = v * E;
                    const V w0 = ld(w + e), w1 = ld(w + TILE + e), w2 = ld(w + 2 * TILE + e), w3 = ld(w + 3 * TILE + e);
                    V x = ld(d0 + o + e);
                    a00 += x * w0; a01 += x * w1; a02 += x * w2; a03 += x * w3;
                    x = ld(d1 + o + e);
                    a10 += x * w0; a11 += x * w1; a12 += x * w2; a13 += x * w3;
                    x = ld(d2 + o + e);
                    a20 += x * w0; a21 += x * w1; a22 += x * w2; a23 += x * w3;
                    x = ld(d3 + o + e);
                    a30 += x * w0; a31 += x * w1; a32 += x * w2; a33 += x * w3;
                }
            }
            const V acc[16] = {a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33};
            if constexpr (E == 16) {
                // 16 accumulators of 16 lanes reduced into one vector of their 16 sums by
                // four levels of fold-and-add (30 vector operations instead of 240 adds).
                const V s = reduce16(acc);
                for (int q = 0; q < 4; ++q) std::memcpy(G + (b + q) * ldg + j, reinterpret_cast<const T*>(&s) + 4 * q, 4 * sizeof(T));
            } else {
                for (int q = 0; q < 16; ++q) {
                    T lanes[E];
                    std::memcpy(lanes, &acc[q], 64);
                    G[(b + q / 4) * ldg + j + q % 4] = hsum(lanes, E);
                }
            }
        }
        for (; b < b1; ++b)
            for (std::int64_t q = 0; q < 4; ++q) one(b, j + q);
    }
    for (; j < j1; ++j)
        for (std::int64_t b = b0; b < b1; ++b) one(b, j);
}

}  // namespace
}  // namespace dropengine::detail
