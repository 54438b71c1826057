// Bodies of the connection-gate kernels, compiled once per ISA (kernels_isa.inc).
//
// philox_fill_body: the Philox4x32-10 words of consecutive counters, 16 counters at a
// time in SIMD lanes; bit-identical to the scalar philox4x32_10 (tests check), so the
// random stream of rng_streams.h does not depend on the ISA.
// gated_dot_body: sum_j [word_j < thr_j] W_j a_j, the compare and select vectorized.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12's own AVX-512 intrinsic headers trip these warnings (_mm512_undefined_*); this
// header is included only by the per-ISA kernel translation units.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "dropengine/philox.h"

namespace dropengine::detail {
// Internal linkage: every ISA's translation unit compiles its own copy of these bodies
// with its own flags. As ordinary inline functions the linker would keep one copy for
// all ISAs (for instance the portable one inside the AVX-512 kernels).
namespace {

#if defined(__AVX512F__)
/// hi and lo 32 bits of x * m in each of 16 lanes (two vpmuludq: even and odd lanes).
inline void mulhilo16(__m512i x, __m512i m, __m512i& hi, __m512i& lo) {
    const __m512i pe = _mm512_mul_epu32(x, m);
    const __m512i po = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);
    hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
    lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

/// Lane l holds block l's four words in x0..x3: store them interleaved, out[4 l + q].
inline void store16(__m512i x0, __m512i x1, __m512i x2, __m512i x3, std::uint32_t* out) {
    const __m512i t01l = _mm512_unpacklo_epi32(x0, x1), t01h = _mm512_unpackhi_epi32(x0, x1);
    const __m512i t23l = _mm512_unpacklo_epi32(x2, x3), t23h = _mm512_unpackhi_epi32(x2, x3);
    const __m512i A = _mm512_unpacklo_epi64(t01l, t23l), B = _mm512_unpackhi_epi64(t01l, t23l);
    const __m512i C = _mm512_unpacklo_epi64(t01h, t23h), D = _mm512_unpackhi_epi64(t01h, t23h);
    const __m512i P = _mm512_shuffle_i32x4(A, B, 0x88), Q = _mm512_shuffle_i32x4(C, D, 0x88);  // lanes 0, 2
    const __m512i P2 = _mm512_shuffle_i32x4(A, B, 0xDD), Q2 = _mm512_shuffle_i32x4(C, D, 0xDD);  // lanes 1, 3
    _mm512_storeu_si512(out, _mm512_shuffle_i32x4(P, Q, 0x88));
    _mm512_storeu_si512(out + 16, _mm512_shuffle_i32x4(P2, Q2, 0x88));
    _mm512_storeu_si512(out + 32, _mm512_shuffle_i32x4(P, Q, 0xDD));
    _mm512_storeu_si512(out + 48, _mm512_shuffle_i32x4(P2, Q2, 0xDD));
}

/// One Philox round on 16 lanes.
inline void philox_round16(__m512i& x0, __m512i& x1, __m512i& x2, __m512i& x3, __m512i m0, __m512i m1, __m512i ka,
                           __m512i kb) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo16(x0, m0, hi0, lo0);
    mulhilo16(x2, m1, hi1, lo1);
    x0 = _mm512_ternarylogic_epi32(hi1, x1, ka, 0x96);  // a ^ b ^ c
    x1 = lo1;
    x2 = _mm512_ternarylogic_epi32(hi0, x3, kb, 0x96);
    x3 = lo0;
}

/// 16 x `sets` Philox4x32-10 blocks, counters (c0 + l, c1, c2, c3), written in counter
/// order. Several sets run in lockstep: one set's rounds are a chain of dependent
/// multiplies; interleaved sets keep the multipliers busy (the result is the same).
template <int sets>
inline void philox16(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, std::uint32_t k0,
                     std::uint32_t k1, std::uint32_t* out) {
    static_assert(sets == 1 || sets == 2, "one or two sets of 16 counters (more gain nothing: the multipliers are busy)");
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i v1 = _mm512_set1_epi32(static_cast<int>(c1)), v2 = _mm512_set1_epi32(static_cast<int>(c2)),
                  v3 = _mm512_set1_epi32(static_cast<int>(c3));
    __m512i x[sets][4];
    for (int k = 0; k < sets; ++k) {
        x[k][0] = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(c0 + 16u * static_cast<std::uint32_t>(k))), lane);
        x[k][1] = v1;
        x[k][2] = v2;
        x[k][3] = v3;
    }
    const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kPhiloxM0)), m1 = _mm512_set1_epi32(static_cast<int>(kPhiloxM1));
    std::uint32_t ka = k0, kb = k1;
    for (int r = 0; r < 10; ++r) {
        const __m512i vka = _mm512_set1_epi32(static_cast<int>(ka)), vkb = _mm512_set1_epi32(static_cast<int>(kb));
#pragma GCC unroll 2
        for (int k = 0; k < sets; ++k) philox_round16(x[k][0], x[k][1], x[k][2], x[k][3], m0, m1, vka, vkb);
        ka += kPhiloxW0;
        kb += kPhiloxW1;
    }
    for (int k = 0; k < sets; ++k) store16(x[k][0], x[k][1], x[k][2], x[k][3], out + 64 * k);
}
#endif

inline void philox_fill_body(std::uint32_t c0, std::int64_t n_blocks, std::uint32_t c1, std::uint32_t c2,
                             std::uint32_t c3, std::uint32_t k0, std::uint32_t k1, std::uint32_t* out) {
    constexpr int L = 16;
#if defined(__AVX512F__)
    std::int64_t b0 = 0;
    for (; b0 + 2 * L <= n_blocks; b0 += 2 * L)
        philox16<2>(c0 + static_cast<std::uint32_t>(b0), c1, c2, c3, k0, k1, out + 4 * b0);
    for (; b0 + L <= n_blocks; b0 += L)
        philox16<1>(c0 + static_cast<std::uint32_t>(b0), c1, c2, c3, k0, k1, out + 4 * b0);
    if (b0 < n_blocks) {
        alignas(64) std::uint32_t tail[4 * L];
        philox16<1>(c0 + static_cast<std::uint32_t>(b0), c1, c2, c3, k0, k1, tail);
        std::memcpy(out + 4 * b0, tail, static_cast<std::size_t>(4 * (n_blocks - b0)) * sizeof(std::uint32_t));
    }
    return;
#endif
    for (std::int64_t b0 = 0; b0 < n_blocks; b0 += L) {
        alignas(64) std::uint32_t x0[L], x1[L], x2[L], x3[L];
        for (int l = 0; l < L; ++l) {
            x0[l] = c0 + static_cast<std::uint32_t>(b0 + l);
            x1[l] = c1;
            x2[l] = c2;
            x3[l] = c3;
        }
        std::uint32_t ka = k0, kb = k1;
        for (int r = 0; r < 10; ++r) {
#pragma omp simd
            for (int l = 0; l < L; ++l) {
                const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * x0[l];
                const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * x2[l];
                const std::uint32_t y0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1[l] ^ ka;
                const std::uint32_t y2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3[l] ^ kb;
                x1[l] = static_cast<std::uint32_t>(p1);
                x3[l] = static_cast<std::uint32_t>(p0);
                x0[l] = y0;
                x2[l] = y2;
            }
            ka += kPhiloxW0;
            kb += kPhiloxW1;
        }
        const std::int64_t nb = n_blocks - b0 < L ? n_blocks - b0 : L;
        std::uint32_t* o = out + 4 * b0;
        for (std::int64_t l = 0; l < nb; ++l) {
            o[4 * l] = x0[l];
            o[4 * l + 1] = x1[l];
            o[4 * l + 2] = x2[l];
            o[4 * l + 3] = x3[l];
        }
    }
}

/// sum_j [words[j] < thr] W[j] a[j] with one threshold for the row (thr <= 2^32).
template <class T>
T gated_dot_body(const T* W, const T* a, const std::uint32_t* words, std::uint64_t thr, std::int64_t n) {
    T acc = T(0);
    std::int64_t j0 = 0;
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) {
        if (thr < (std::uint64_t{1} << 32)) {  // (keep = 1 is not gated: the caller does not come here)
            // 16 connections per step: one unsigned compare into a mask, one masked FMA.
            const __m512i t = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(thr)));
            __m512 vacc = _mm512_setzero_ps();
            for (; j0 + 16 <= n; j0 += 16) {
                const __mmask16 keep = _mm512_cmplt_epu32_mask(_mm512_loadu_si512(words + j0), t);
                vacc = _mm512_mask3_fmadd_ps(_mm512_loadu_ps(reinterpret_cast<const float*>(W + j0)),
                                             _mm512_loadu_ps(reinterpret_cast<const float*>(a + j0)), vacc, keep);
            }
            acc = static_cast<T>(_mm512_reduce_add_ps(vacc));
        }
    }
#endif
#pragma omp simd reduction(+ : acc)
    for (std::int64_t j = j0; j < n; ++j) acc += static_cast<std::uint64_t>(words[j]) < thr ? W[j] * a[j] : T(0);
    return acc;
}

/// sum_j [u[j] < thi] W[j] a[j] for 16-bit draws u and one threshold thi (the top 16
/// bits of the 32-bit one); *ties counts u[j] == thi, which the caller settles.
template <class T>
T gated_dot16_body(const T* __restrict W, const T* __restrict a, const std::uint16_t* __restrict u, std::uint32_t thi,
                   std::int64_t n, std::int64_t* ties) {
    T acc = T(0);
    std::int64_t tie = 0, j0 = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
    if constexpr (sizeof(T) == 4) {
        const __m512i tv = _mm512_set1_epi32(static_cast<int>(thi));
        __m512 vacc = _mm512_setzero_ps();
        for (; j0 + 16 <= n; j0 += 16) {
            const __m512i uv = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + j0)));
            vacc = _mm512_mask3_fmadd_ps(_mm512_loadu_ps(reinterpret_cast<const float*>(W + j0)),
                                         _mm512_loadu_ps(reinterpret_cast<const float*>(a + j0)), vacc,
                                         _mm512_cmplt_epu32_mask(uv, tv));
            tie += __builtin_popcount(static_cast<unsigned>(_mm512_cmpeq_epi32_mask(uv, tv)));
        }
        acc = static_cast<T>(_mm512_reduce_add_ps(vacc));
    }
#endif
    for (std::int64_t j = j0; j < n; ++j) {
        const std::uint32_t v = u[j];
        if (v < thi) acc += W[j] * a[j];
        tie += v == thi;
    }
    *ties = tie;
    return acc;
}

/// sum_j bit(off + j) W[j] a[j]: connection j kept iff bit off + j of the words is set
/// (one random bit per connection, keep = 1/2; rng_streams.h). `words` must be readable
/// 8 bytes past the last bit used.
template <class T>
T gated_dot_bits_body(const T* W, const T* a, const std::uint32_t* words, std::int64_t off, std::int64_t n) {
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(words);
    T acc = T(0);
    std::int64_t j0 = 0;
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) {
        __m512 vacc = _mm512_setzero_ps();
        for (; j0 + 16 <= n; j0 += 16) {
            const std::int64_t k = off + j0;
            std::uint64_t v;
            std::memcpy(&v, bytes + (k >> 3), 8);
            const __mmask16 keep = static_cast<__mmask16>(v >> (k & 7));
            vacc = _mm512_mask3_fmadd_ps(_mm512_loadu_ps(reinterpret_cast<const float*>(W + j0)),
                                         _mm512_loadu_ps(reinterpret_cast<const float*>(a + j0)), vacc, keep);
        }
        acc = static_cast<T>(_mm512_reduce_add_ps(vacc));
    }
#endif
    for (std::int64_t j = j0; j < n; ++j) {
        const std::int64_t k = off + j;
        if ((bytes[k >> 3] >> (k & 7)) & 1) acc += W[j] * a[j];
    }
    return acc;
}

/// The same with a threshold per element.
template <class T>
T gated_dot_each_body(const T* W, const T* a, const std::uint32_t* words, const std::uint64_t* thr,
                      std::int64_t n) {
    T acc = T(0);
#pragma omp simd reduction(+ : acc)
    for (std::int64_t j = 0; j < n; ++j) acc += static_cast<std::uint64_t>(words[j]) < thr[j] ? W[j] * a[j] : T(0);
    return acc;
}

/// Connection-specific spikes with 16-bit draws (rng_streams.h, Stream::Spike): sum of
/// WR[j] over the connections whose draw u[j] is below thi[j] (the top 16 bits of the
/// threshold); draws equal to thi[j] are ties the caller resolves with 16 more bits.
template <class T>
T spike_dot16_body(const T* __restrict WR, const std::uint16_t* __restrict u, const std::uint32_t* __restrict thi,
                   std::int64_t n, std::int64_t* ties) {
    T acc = T(0);
    std::int64_t tie = 0;
    std::int64_t j0 = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
    if constexpr (sizeof(T) == 4) {
        // 16 connections per step: widen the draws, two compares into mask registers,
        // a masked add and a popcount (the generic loop below compiles to far more).
        __m512 vacc = _mm512_setzero_ps();
        for (; j0 + 16 <= n; j0 += 16) {
            const __m512i uv = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + j0)));
            const __m512i tv = _mm512_loadu_si512(thi + j0);
            vacc = _mm512_mask_add_ps(vacc, _mm512_cmplt_epu32_mask(uv, tv), vacc,
                                      _mm512_loadu_ps(reinterpret_cast<const float*>(WR + j0)));
            tie += __builtin_popcount(static_cast<unsigned>(_mm512_cmpeq_epi32_mask(uv, tv)));
        }
        acc = static_cast<T>(_mm512_reduce_add_ps(vacc));
    }
#endif
#pragma omp simd reduction(+ : acc, tie)
    for (std::int64_t j = j0; j < n; ++j) {
        const std::uint32_t v = u[j];
        acc += v < thi[j] ? WR[j] : T(0);
        tie += v == thi[j];
    }
    *ties = tie;
    return acc;
}

/// g[j] += [u[j] < thi[j]] r[j] (ties left to the caller).
inline void spike_accumulate16_body(double* __restrict g, const std::uint16_t* __restrict u,
                                    const std::uint32_t* __restrict thi, const double* __restrict r, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) g[j] += static_cast<std::uint32_t>(u[j]) < thi[j] ? r[j] : 0.0;
}

/// g[j] += [words[j] < thr[j]] r[j]: the spikes a connection-specific layer sends,
/// summed per sending unit (input statistics of connection gates).
inline void gated_accumulate_body(double* __restrict g, const std::uint32_t* __restrict words,
                                  const std::uint64_t* __restrict thr, const double* __restrict r, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) g[j] += static_cast<std::uint64_t>(words[j]) < thr[j] ? r[j] : 0.0;
}

}  // namespace
}  // namespace dropengine::detail
