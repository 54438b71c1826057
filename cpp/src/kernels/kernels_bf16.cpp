// matmul_bf16 with vdpbf16ps (AVX512_BF16: Zen 4, Sapphire Rapids, Cooper Lake), compiled
// with -mavx512bf16 (CMakeLists.txt) and reached only through kernels() on a CPU that has
// it. The loop is skip_gemm_bf16_body's (bf16_impl.h) with the instruction in place of
// the split words: one instruction per vector does both inputs of a pair.
#include <immintrin.h>

#include "bf16_impl.h"

namespace dropengine::detail {

void matmul_bf16_avx512bf16(const float* A, std::int64_t B, std::int64_t n_in, const std::uint32_t* Wp2,
                            std::int64_t n_out, float* S, std::int64_t ldS, std::int32_t* idx, std::uint32_t* val) {
    constexpr std::int64_t KC = kSlabRows, TILE = kTile<float>;
    const std::int64_t np = n_pairs(n_in);
    const std::int64_t nkb = (np + KC - 1) / KC;
    std::int32_t* start = idx + B * np;
    pair_lists_body(A, n_in, 0, B, n_in, idx, val, start);
    const std::int64_t wts = np * TILE;
    for (std::int64_t t = 0; t < n_tiles<float>(n_out); ++t) {
        const std::uint32_t* Wtt = Wp2 + t * wts;
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            for (std::int64_t r = 0; r < B; ++r) {
                const std::int32_t* st = start + r * (nkb + 1);
                const std::int32_t* is = idx + r * np;
                const std::uint32_t* vs = val + r * np;
                float* o = S + r * ldS + t * TILE;
                __m512 a0, a1, a2, a3, a4, a5, a6, a7;
                if (kb == 0) {
                    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = _mm512_setzero_ps();
                } else {
                    a0 = _mm512_loadu_ps(o); a1 = _mm512_loadu_ps(o + 16);
                    a2 = _mm512_loadu_ps(o + 32); a3 = _mm512_loadu_ps(o + 48);
                    a4 = _mm512_loadu_ps(o + 64); a5 = _mm512_loadu_ps(o + 80);
                    a6 = _mm512_loadu_ps(o + 96); a7 = _mm512_loadu_ps(o + 112);
                }
                const std::int32_t k1 = st[kb + 1];
#pragma GCC unroll 2
                for (std::int32_t k = st[kb]; k < k1; ++k) {
                    const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(vs[k]));
                    const std::uint32_t* w = Wtt + static_cast<std::int64_t>(is[k]) * TILE;
                    a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_load_si512(w), x);
                    a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_load_si512(w + 16), x);
                    a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_load_si512(w + 32), x);
                    a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_load_si512(w + 48), x);
                    a4 = _mm512_dpbf16_ps(a4, (__m512bh)_mm512_load_si512(w + 64), x);
                    a5 = _mm512_dpbf16_ps(a5, (__m512bh)_mm512_load_si512(w + 80), x);
                    a6 = _mm512_dpbf16_ps(a6, (__m512bh)_mm512_load_si512(w + 96), x);
                    a7 = _mm512_dpbf16_ps(a7, (__m512bh)_mm512_load_si512(w + 112), x);
                }
                _mm512_storeu_ps(o, a0); _mm512_storeu_ps(o + 16, a1);
                _mm512_storeu_ps(o + 32, a2); _mm512_storeu_ps(o + 48, a3);
                _mm512_storeu_ps(o + 64, a4); _mm512_storeu_ps(o + 80, a5);
                _mm512_storeu_ps(o + 96, a6); _mm512_storeu_ps(o + 112, a7);
            }
        }
    }
}

}  // namespace dropengine::detail
