// Bodies of the connection-gate kernels, compiled once per ISA (kernels_isa.inc).
//
// philox_fill_body: the Philox4x32-10 words of consecutive counters, one counter per
// SIMD lane; bit-identical to the scalar philox4x32_10 (tests check), so the
// random stream of rng_streams.h does not depend on the ISA.
// gated_dot_body: sum_j [word_j < thr_j] W_j a_j, the compare and select vectorized.
#pragma once
#include <algorithm>
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

/// Connection-specific spikes with 8-bit draws (rng_streams.h, Stream::Spike): the sum
/// of WR[j] over the connections whose draw u[j] is below th[j] (the top 8 bits of the
/// threshold). Draws equal to th[j] are ties the caller settles with 24 more bits: their
/// positions j go to ties[0 .. *n_ties) in increasing order (ties must hold n entries).
template <class T>
T spike_dot8_body(const T* __restrict WR, const std::uint8_t* __restrict u, const std::uint8_t* __restrict th,
                  std::int64_t n, std::int32_t* __restrict ties, std::int64_t* n_ties) {
    std::int64_t nt = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
    if constexpr (sizeof(T) == 4) {
        // 64 connections per step. Fire masks come from byte compares of 16 lanes, straight
        // into the 16-bit masks the float adds take (wider compares would need their masks
        // split through general registers). Four accumulators: one chain would cost the add
        // latency per 16. Ties are only flagged per step, in a register bitmap; the few
        // steps flagged are compared again after the chunk and their ties listed. So the
        // sums run without branches and without stores: stored masks on the stack made the
        // speed depend (by 15%) on where the stack sat against the rows read (4K aliasing).
        constexpr std::int64_t kSteps = 64;  // steps per chunk (4096 connections): one bitmap
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        const auto valid_of = [n](std::int64_t j) {
            return n - j >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - j)) - 1;
        };
        for (std::int64_t c0 = 0; c0 < n; c0 += 64 * kSteps) {
            const std::int64_t steps = std::min<std::int64_t>(kSteps, (n - c0 + 63) / 64);
            std::uint64_t with_ties = 0;
            for (std::int64_t k = 0; k < steps; ++k) {
                const std::int64_t j = c0 + 64 * k;
                if (n - j >= 64) {
                    const __mmask64 t = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(u + j), _mm512_loadu_si512(th + j));
                    with_ties |= std::uint64_t{!_kortestz_mask64_u8(t, t)} << k;
#pragma GCC unroll 4
                    for (int q = 0; q < 4; ++q) {
                        const __m128i uv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(u + j + 16 * q));
                        const __m128i tv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(th + j + 16 * q));
                        acc[q] = _mm512_mask_add_ps(acc[q], _mm_cmplt_epu8_mask(uv, tv), acc[q],
                                                    _mm512_loadu_ps(reinterpret_cast<const float*>(WR + j + 16 * q)));
                    }
                    continue;
                }
                // The last, partial step: masked loads.
                const __mmask64 valid = valid_of(j);
                with_ties |= std::uint64_t{1} << k;  // checked below
                for (int q = 0; q < 4; ++q) {
                    const auto v16 = static_cast<__mmask16>(valid >> (16 * q));
                    const __m128i uv = _mm_maskz_loadu_epi8(v16, u + j + 16 * q);
                    const __m128i tv = _mm_maskz_loadu_epi8(v16, th + j + 16 * q);
                    acc[q] = _mm512_mask_add_ps(acc[q], _mm_cmplt_epu8_mask(uv, tv), acc[q],
                                                _mm512_maskz_loadu_ps(v16, reinterpret_cast<const float*>(WR + j + 16 * q)));
                }
            }
            for (; with_ties; with_ties &= with_ties - 1) {
                const std::int64_t j = c0 + 64 * __builtin_ctzll(with_ties);
                const __mmask64 valid = valid_of(j);
                std::uint64_t m = _cvtmask64_u64(_mm512_mask_cmpeq_epi8_mask(
                    valid, _mm512_maskz_loadu_epi8(valid, u + j), _mm512_maskz_loadu_epi8(valid, th + j)));
                for (; m; m &= m - 1) ties[nt++] = static_cast<std::int32_t>(j + __builtin_ctzll(m));
            }
        }
        *n_ties = nt;
        return static_cast<T>(_mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]))));
    }
#endif
    T acc = T(0);
#pragma omp simd reduction(+ : acc)
    for (std::int64_t j = 0; j < n; ++j) acc += u[j] < th[j] ? WR[j] : T(0);
    // Ties, 8 draws at a time: a zero byte of u ^ th (the classic SWAR test) marks one.
    std::int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        std::uint64_t a, b;
        std::memcpy(&a, u + j, 8);
        std::memcpy(&b, th + j, 8);
        const std::uint64_t x = a ^ b;
        if (((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) == 0) continue;
        for (std::int64_t k = j; k < j + 8; ++k)
            if (u[k] == th[k]) ties[nt++] = static_cast<std::int32_t>(k);
    }
    for (; j < n; ++j)
        if (u[j] == th[j]) ties[nt++] = static_cast<std::int32_t>(j);
    *n_ties = nt;
    return acc;
}

/// g[j] += [u[j] < th[j]] r[j] (ties left to the caller).
inline void spike_accumulate8_body(double* __restrict g, const std::uint8_t* __restrict u,
                                   const std::uint8_t* __restrict th, const double* __restrict r, std::int64_t n) {
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) g[j] += u[j] < th[j] ? r[j] : 0.0;
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
