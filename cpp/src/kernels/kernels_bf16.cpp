// matmul_bf16 with vdpbf16ps (AVX512_BF16: Zen 4, Sapphire Rapids, Cooper Lake), compiled
// with -mavx512bf16 (CMakeLists.txt) and reached only through kernels() on a CPU that has
// it. The loop is skip_gemm_bf16_body's (bf16_impl.h) with the instruction in place of
// the split words: one instruction per vector does both inputs of a pair.
#include <immintrin.h>

#include "bf16_impl.h"

namespace dropengine::detail {
namespace {

/// One row's pairs over one slab for the first NV vectors of a tile (NV = 8 but in the
/// last tile of a layer, where only the vectors that hold outputs are computed).
template <int NV>
inline void bf16_row_part(const std::int32_t* is, const std::uint32_t* vs, std::int32_t k0, std::int32_t k1,
                          const std::uint32_t* Wtt, float* o, bool load) {
    static_assert(NV >= 1 && NV <= 8, "a part is 1 to 8 vectors");
    constexpr std::int64_t TILE = kTile<float>;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    if (load) {
        a0 = _mm512_loadu_ps(o);
        if constexpr (NV > 1) a1 = _mm512_loadu_ps(o + 16);
        if constexpr (NV > 2) a2 = _mm512_loadu_ps(o + 32);
        if constexpr (NV > 3) a3 = _mm512_loadu_ps(o + 48);
        if constexpr (NV > 4) a4 = _mm512_loadu_ps(o + 64);
        if constexpr (NV > 5) a5 = _mm512_loadu_ps(o + 80);
        if constexpr (NV > 6) a6 = _mm512_loadu_ps(o + 96);
        if constexpr (NV > 7) a7 = _mm512_loadu_ps(o + 112);
    }
#pragma GCC unroll 2
    for (std::int32_t k = k0; k < k1; ++k) {
        const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(vs[k]));
        const std::uint32_t* w = Wtt + static_cast<std::int64_t>(is[k]) * TILE;
        a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_load_si512(w), x);
        if constexpr (NV > 1) a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_load_si512(w + 16), x);
        if constexpr (NV > 2) a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_load_si512(w + 32), x);
        if constexpr (NV > 3) a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_load_si512(w + 48), x);
        if constexpr (NV > 4) a4 = _mm512_dpbf16_ps(a4, (__m512bh)_mm512_load_si512(w + 64), x);
        if constexpr (NV > 5) a5 = _mm512_dpbf16_ps(a5, (__m512bh)_mm512_load_si512(w + 80), x);
        if constexpr (NV > 6) a6 = _mm512_dpbf16_ps(a6, (__m512bh)_mm512_load_si512(w + 96), x);
        if constexpr (NV > 7) a7 = _mm512_dpbf16_ps(a7, (__m512bh)_mm512_load_si512(w + 112), x);
    }
    _mm512_storeu_ps(o, a0);
    if constexpr (NV > 1) _mm512_storeu_ps(o + 16, a1);
    if constexpr (NV > 2) _mm512_storeu_ps(o + 32, a2);
    if constexpr (NV > 3) _mm512_storeu_ps(o + 48, a3);
    if constexpr (NV > 4) _mm512_storeu_ps(o + 64, a4);
    if constexpr (NV > 5) _mm512_storeu_ps(o + 80, a5);
    if constexpr (NV > 6) _mm512_storeu_ps(o + 96, a6);
    if constexpr (NV > 7) _mm512_storeu_ps(o + 112, a7);
}

}  // namespace

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
        const std::int64_t nv = bf16_tile_vectors(n_out, t);
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            for (std::int64_t r = 0; r < B; ++r) {
                const std::int32_t* st = start + r * (nkb + 1);
                const std::int32_t* is = idx + r * np;
                const std::uint32_t* vs = val + r * np;
                float* o = S + r * ldS + t * TILE;
                with_vectors(nv, [&](auto NV) {
                    bf16_row_part<decltype(NV)::value>(is, vs, st[kb], st[kb + 1], Wtt, o, kb > 0);
                });
            }
        }
    }
}

}  // namespace dropengine::detail
