// Bodies of the connection-gate kernels (Eq. 14, 23: each w_ij gated by its own draw) and
// of the connection-specific spikes (Eq. 126, 129), compiled once per ISA (fill_table.h).
// Each reads Philox words already drawn (philox_impl.h) and compares them with the keep
// thresholds in SIMD lanes: a mask per compare, no float mask materialised.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "avx512_intrinsics.h"

namespace dropengine::detail {
// Internal linkage: every ISA's translation unit compiles its own copy of these bodies
// with its own flags. As ordinary inline functions the linker would keep one copy for
// all ISAs (for instance the portable one inside the AVX-512 kernels).
namespace {

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

// gated_axpy and bits_axpy round the product and the sum separately on every ISA: the
// AVX2 and AVX-512 units build with contraction on, which would fuse the plain loops
// (per-connection thresholds, the tails) into FMAs and change the trained weights' bits
// between levels and between the two kernels.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
/// y[j] += [words[j] < t_j] d x[j] (GatedAxpyFn): the product d x[j] and the sum are
/// rounded separately, as the plain loop does, so every ISA gives the same bits.
template <class T>
void gated_axpy_body(T* __restrict y, T d, const T* __restrict x, const std::uint32_t* __restrict words,
                     std::uint64_t thr, const std::uint64_t* __restrict thr_each, std::int64_t n) {
    std::int64_t j0 = 0;
    if (thr_each) {
#pragma omp simd
        for (std::int64_t j = 0; j < n; ++j)
            if (static_cast<std::uint64_t>(words[j]) < thr_each[j]) y[j] += d * x[j];
        return;
    }
    if (thr >= (std::uint64_t{1} << 32)) {  // keeps every connection
#pragma omp simd
        for (std::int64_t j = 0; j < n; ++j) y[j] += d * x[j];
        return;
    }
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) {
        // 16 connections per step: one unsigned compare into a mask, a masked add.
        const __m512i t = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(thr)));
        const __m512 vd = _mm512_set1_ps(static_cast<float>(d));
        for (; j0 + 16 <= n; j0 += 16) {
            const __mmask16 keep = _mm512_cmplt_epu32_mask(_mm512_loadu_si512(words + j0), t);
            float* yj = reinterpret_cast<float*>(y + j0);
            const __m512 vy = _mm512_loadu_ps(yj);
            _mm512_storeu_ps(yj, _mm512_mask_add_ps(vy, keep, vy,
                                                    _mm512_mul_ps(vd, _mm512_loadu_ps(reinterpret_cast<const float*>(x + j0)))));
        }
    }
#endif
    const auto t32 = static_cast<std::uint32_t>(thr);
#pragma omp simd
    for (std::int64_t j = j0; j < n; ++j)
        if (words[j] < t32) y[j] += d * x[j];
}

/// bits[j / 64] bit j % 64 = [words[j] < t_j] for j < n (KeepBitsFn; t_j as in
/// gated_axpy): the training's connection masks, drawn once in the forward pass and read
/// by bits_axpy in the backward pass.
inline void keep_bits_body(const std::uint32_t* __restrict words, std::uint64_t thr,
                           const std::uint64_t* __restrict thr_each, std::int64_t n, std::uint64_t* __restrict bits) {
    std::int64_t j0 = 0;
#if defined(__AVX512F__)
    if (!thr_each && thr < (std::uint64_t{1} << 32)) {
        const __m512i t = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(thr)));
        for (; j0 + 64 <= n; j0 += 64) {
            std::uint64_t m = 0;
            for (int q = 0; q < 4; ++q)
                m |= static_cast<std::uint64_t>(_mm512_cmplt_epu32_mask(_mm512_loadu_si512(words + j0 + 16 * q), t))
                     << (16 * q);
            bits[j0 / 64] = m;
        }
    }
#endif
    for (std::int64_t w = j0 / 64; w * 64 < n; ++w) {
        std::uint64_t m = 0;
        const std::int64_t j1 = std::min(n, 64 * w + 64);
        for (std::int64_t j = 64 * w; j < j1; ++j)
            m |= static_cast<std::uint64_t>(static_cast<std::uint64_t>(words[j]) < (thr_each ? thr_each[j] : thr))
                 << (j - 64 * w);
        bits[w] = m;
    }
}

/// y[j] += [bit j of bits] d x[j] (BitsAxpyFn): gated_axpy on the masks keep_bits stored,
/// with the product and the sum rounded separately: the same bits as gated_axpy.
template <class T>
void bits_axpy_body(T* __restrict y, T d, const T* __restrict x, const std::uint64_t* __restrict bits,
                    std::int64_t n) {
    std::int64_t j0 = 0;
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4) {
        const __m512 vd = _mm512_set1_ps(static_cast<float>(d));
        for (; j0 + 16 <= n; j0 += 16) {
            const auto keep = static_cast<__mmask16>(bits[j0 / 64] >> (j0 % 64));
            if (!keep) continue;
            float* yj = reinterpret_cast<float*>(y + j0);
            const __m512 vy = _mm512_loadu_ps(yj);
            _mm512_storeu_ps(yj, _mm512_mask_add_ps(vy, keep, vy,
                                                    _mm512_mul_ps(vd, _mm512_loadu_ps(reinterpret_cast<const float*>(x + j0)))));
        }
    }
#endif
    for (std::int64_t j = j0; j < n; ++j)
        if ((bits[j / 64] >> (j % 64)) & 1u) y[j] += d * x[j];
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

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

}  // namespace
}  // namespace dropengine::detail
