// The Philox4x32-10 generator (Salmon et al., SC'11) in SIMD lanes, compiled once per ISA
// (fill_table.h): philox_fill_body draws the words of consecutive counters, one counter
// per lane, philox_words_body one scattered word per entry (tie words). Both are
// bit-identical to the scalar philox4x32_10 of dropengine/philox.h (cpp/tests/test_philox.cpp),
// so the random stream of rng_streams.h does not depend on the ISA.
#pragma once
#include <cstdint>
#include <cstring>

#include "avx512_intrinsics.h"

#include "dropengine/philox.h"

namespace dropengine::detail {
// Internal linkage: every ISA's translation unit compiles its own copy (see gates_impl.h).
namespace {

#if defined(__AVX512F__)
/// Philox4x32-10 on 8 x V blocks, counters (c0 + l, c1, c2, c3), written in counter order.
/// One block per 64-bit lane: each 32-bit word sits in the low half of its lane and the
/// high half holds garbage that vpmuludq ignores. A round is then two multiplies (the
/// whole 64-bit product: lo in place, hi brought down by an in-lane shuffle), two
/// shuffles and two three-way XORs, with no blends and no shifts: the multiplies alone
/// occupy port 0 and the shuffles go to port 5. V sets run in lockstep to cover the
/// multiply latency. Bit-identical to the scalar philox4x32_10 (test_philox).
template <int V>
inline void philox8x(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, std::uint32_t k0,
                     std::uint32_t k1, std::uint32_t* out) {
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    __m512i x0[V], x1[V], x2[V], x3[V];
    for (int v = 0; v < V; ++v) {
        // The counter's carry out of 32 bits lands in the ignored high half: it wraps.
        x0[v] = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(c0) + 8 * v), lane);
        x1[v] = _mm512_set1_epi64(c1);
        x2[v] = _mm512_set1_epi64(c2);
        x3[v] = _mm512_set1_epi64(c3);
    }
    const __m512i m0 = _mm512_set1_epi64(kPhiloxM0), m1 = _mm512_set1_epi64(kPhiloxM1);
    std::uint32_t ka = k0, kb = k1;
    for (int r = 0; r < 10; ++r) {
        const __m512i vka = _mm512_set1_epi32(static_cast<int>(ka)), vkb = _mm512_set1_epi32(static_cast<int>(kb));
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) {
            const __m512i p0 = _mm512_mul_epu32(x0[v], m0), p1 = _mm512_mul_epu32(x2[v], m1);
            x0[v] = _mm512_ternarylogic_epi32(_mm512_shuffle_epi32(p1, _MM_PERM_CDAB), x1[v], vka, 0x96);
            x2[v] = _mm512_ternarylogic_epi32(_mm512_shuffle_epi32(p0, _MM_PERM_CDAB), x3[v], vkb, 0x96);
            x1[v] = p1;
            x3[v] = p0;
        }
        ka += kPhiloxW0;
        kb += kPhiloxW1;
    }
    // Block l's four words are the 128 bits (x0, x1 | x2, x3) of lane l.
    const __m512i first = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), second = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    for (int v = 0; v < V; ++v) {
        const __m512i a = _mm512_mask_shuffle_epi32(x0[v], 0xAAAA, x1[v], _MM_PERM_CDAB);
        const __m512i b = _mm512_mask_shuffle_epi32(x2[v], 0xAAAA, x3[v], _MM_PERM_CDAB);
        _mm512_storeu_si512(out + 32 * v, _mm512_permutex2var_epi64(a, first, b));
        _mm512_storeu_si512(out + 32 * v + 16, _mm512_permutex2var_epi64(a, second, b));
    }
}
#endif

inline void philox_fill_body(std::uint32_t c0, std::int64_t n_blocks, std::uint32_t c1, std::uint32_t c2,
                             std::uint32_t c3, std::uint32_t k0, std::uint32_t k1, std::uint32_t* out) {
    constexpr int L = 16;
#if defined(__AVX512F__)
    std::int64_t b0 = 0;
    for (; b0 + 32 <= n_blocks; b0 += 32)
        philox8x<4>(c0 + static_cast<std::uint32_t>(b0), c1, c2, c3, k0, k1, out + 4 * b0);
    for (; b0 + 8 <= n_blocks; b0 += 8)
        philox8x<1>(c0 + static_cast<std::uint32_t>(b0), c1, c2, c3, k0, k1, out + 4 * b0);
    if (b0 < n_blocks) {
        alignas(64) std::uint32_t tail[32];
        philox8x<1>(c0 + static_cast<std::uint32_t>(b0), c1, c2, c3, k0, k1, tail);
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

/// out[k] = word q[k] of the Philox4x32-10 block with counter (c0[k], c1[k], c2[k], c3[k]):
/// one scattered word per entry, e.g. the tie words of rng_streams.h, 8 entries per
/// vector on AVX-512 (the 64-bit-lane rounds of philox8x).
inline void philox_words_body(std::int64_t n, const std::uint32_t* __restrict c0, const std::uint32_t* __restrict c1,
                              const std::uint32_t* __restrict c2, const std::uint32_t* __restrict c3,
                              const std::uint8_t* __restrict q, std::uint32_t k0, std::uint32_t k1,
                              std::uint32_t* __restrict out) {
    std::int64_t k = 0;
#if defined(__AVX512F__)
    const __m512i m0 = _mm512_set1_epi64(kPhiloxM0), m1 = _mm512_set1_epi64(kPhiloxM1);
    for (; k + 8 <= n; k += 8) {
        const auto load = [k](const std::uint32_t* c) {
            return _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + k)));
        };
        __m512i x0 = load(c0), x1 = load(c1), x2 = load(c2), x3 = load(c3);
        std::uint32_t ka = k0, kb = k1;
        for (int r = 0; r < 10; ++r) {
            const __m512i p0 = _mm512_mul_epu32(x0, m0), p1 = _mm512_mul_epu32(x2, m1);
            x0 = _mm512_ternarylogic_epi32(_mm512_shuffle_epi32(p1, _MM_PERM_CDAB), x1,
                                           _mm512_set1_epi32(static_cast<int>(ka)), 0x96);
            x2 = _mm512_ternarylogic_epi32(_mm512_shuffle_epi32(p0, _MM_PERM_CDAB), x3,
                                           _mm512_set1_epi32(static_cast<int>(kb)), 0x96);
            x1 = p1;
            x3 = p0;
            ka += kPhiloxW0;
            kb += kPhiloxW1;
        }
        const __m512i which = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + k)));
        __m512i w = x0;
        w = _mm512_mask_mov_epi64(w, _mm512_cmpeq_epi64_mask(which, _mm512_set1_epi64(1)), x1);
        w = _mm512_mask_mov_epi64(w, _mm512_cmpeq_epi64_mask(which, _mm512_set1_epi64(2)), x2);
        w = _mm512_mask_mov_epi64(w, _mm512_cmpeq_epi64_mask(which, _mm512_set1_epi64(3)), x3);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k), _mm512_cvtepi64_epi32(w));
    }
#endif
    for (; k < n; ++k) out[k] = philox4x32_10(c0[k], c1[k], c2[k], c3[k], k0, k1).v[q[k] & 3u];
}

}  // namespace
}  // namespace dropengine::detail
