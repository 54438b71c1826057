// Body of the opt-in bfloat16 product of the sampler (SampleOptions::bf16), compiled once
// per ISA (kernels_<isa>.cpp); kernels_bf16.cpp holds the AVX512_BF16 twin (vdpbf16ps).
//
// S = A W^T as matmul_skip computes it, with W and A rounded to bfloat16 (round to nearest
// even) and float32 accumulation. The inputs go in pairs (2q, 2q + 1): one 32-bit word
// holds a pair's two bfloat16 values, the even input in the low half, as vdpbf16ps reads
// them. A pair is skipped when both its inputs are zero (both units dropped), so at keep p
// a fraction 1 - (1 - p)^2 of the pairs is visited, each doing the work of two inputs.
//
// Each accumulator adds the odd product, then the even one, each rounded once to float32:
// the order of Intel's definition of vdpbf16ps. A product of two bfloat16 values (8
// significant bits each) is exact in float32, so fused or not, every ISA's body gives the
// same bits; the native instruction also flushes subnormals, which only values below
// 2^-126 reach.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels.h"

namespace dropengine::detail {
// Internal linkage, as in matmul_skip_impl.h: each ISA's translation unit keeps its own
// copies (an inline function compiled with AVX-512 flags must not serve the generic table).
namespace {

/// float32 -> bfloat16, round to nearest even (finite x; the sampler's values are).
inline std::uint16_t to_bf16(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/// The bfloat16 value as float32 (exact).
inline float from_bf16(std::uint16_t h) {
    const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}


/// Lists the nonzero input pairs of rows r0 <= r < r1 of A (row-major, n_in columns, rows
/// rs apart) as SparseRows over n_pairs(n_in) columns: idx the pair q, val the word
/// (bf16(a[2q + 1]) << 16) | bf16(a[2q]), start per slab of kSlabRows pairs.
inline void pair_lists_body(const float* A, std::int64_t rs, std::int64_t r0, std::int64_t r1, std::int64_t n_in,
                            std::int32_t* idx, std::uint32_t* val, std::int32_t* start) {
    constexpr std::int64_t KC = kSlabRows;
    const std::int64_t np = n_pairs(n_in);
    const std::int64_t nkb = (np + KC - 1) / KC;
    for (std::int64_t r = r0; r < r1; ++r) {
        const float* a = A + r * rs;
        std::int32_t* is = idx + r * np;
        std::uint32_t* vs = val + r * np;
        std::int32_t* st = start + r * (nkb + 1);
        std::int32_t k = 0;
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            st[kb] = k;
            const std::int64_t q1 = std::min(np, (kb + 1) * KC);
            for (std::int64_t q = kb * KC; q < q1; ++q) {
                const std::uint32_t lo = to_bf16(a[2 * q]);
                const std::uint32_t hi = 2 * q + 1 < n_in ? to_bf16(a[2 * q + 1]) : 0u;
                const std::uint32_t v = hi << 16 | lo;
                is[k] = static_cast<std::int32_t>(q);
                vs[k] = v;
                k += ((v & 0x7FFF7FFFu) != 0);  // +-0 in both halves adds nothing
            }
        }
        st[nkb] = k;
    }
}

/// Vectors of 16 outputs computed in tile t of a layer with n_out outputs: 8, but in the
/// last tile only those that hold outputs (columns past them are not written).
inline std::int64_t bf16_tile_vectors(std::int64_t n_out, std::int64_t t) {
    return std::min<std::int64_t>(8, (n_out - t * kTile<float> + 15) / 16);
}

/// The portable body: each word of W split into its two bfloat16 values by shifts.
inline void skip_gemm_bf16_body(const SparseRows<std::uint32_t>& A, std::int64_t r0, std::int64_t r1,
                                const std::uint32_t* Wt, std::int64_t wts, std::int64_t wrs, std::int64_t t0,
                                std::int64_t t1, std::int64_t n_out, float* out, std::int64_t ors, std::int64_t ots) {
    constexpr std::int64_t KC = kSlabRows;
    const std::int64_t nkb = (A.n + KC - 1) / KC;
    typedef float V __attribute__((vector_size(64)));
    typedef std::uint32_t U __attribute__((vector_size(64)));
    constexpr std::int64_t E = 16;
    static_assert(kTile<float> == 8 * E, "tile is 8 vectors");
    for (std::int64_t t = t0; t < t1; ++t) {
        const std::uint32_t* Wtt = Wt + t * wts;
        const int nv = static_cast<int>(bf16_tile_vectors(n_out, t));
        for (std::int64_t kb = 0; kb < nkb; ++kb) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const std::int32_t* st = A.start + r * (nkb + 1);
                const std::int32_t* is = A.idx + r * A.n;
                const std::uint32_t* vs = A.val + r * A.n;
                float* o = out + r * ors + t * ots;
                V acc[8];
                if (kb == 0) {
                    for (auto& a : acc) a = V{};
                } else {
                    for (int v = 0; v < nv; ++v) std::memcpy(&acc[v], o + v * E, 64);
                }
                for (std::int32_t k = st[kb]; k < st[kb + 1]; ++k) {
                    const float a_even = from_bf16(static_cast<std::uint16_t>(vs[k] & 0xFFFFu));
                    const float a_odd = from_bf16(static_cast<std::uint16_t>(vs[k] >> 16));
                    const std::uint32_t* w = Wtt + static_cast<std::int64_t>(is[k]) * wrs;
                    for (int v = 0; v < nv; ++v) {
                        U wu;
                        std::memcpy(&wu, w + v * E, 64);
                        const V w_even = reinterpret_cast<V>(wu << 16);
                        const V w_odd = reinterpret_cast<V>(wu & 0xFFFF0000u);
                        acc[v] = acc[v] + w_odd * a_odd;
                        acc[v] = acc[v] + w_even * a_even;
                    }
                }
                for (int v = 0; v < nv; ++v) std::memcpy(o + v * E, &acc[v], 64);
            }
        }
    }
}

/// S[s, :n_out] (row stride ldS) = the bfloat16 product of row s of A (B x n_in) with the
/// packed pairs Wp2 (pack_pairs_bf16), for s < B. Scratch: idx holds B * n_pairs +
/// B * (n_slabs + 1) ints, val B * n_pairs words.
inline void matmul_bf16_body(const float* A, std::int64_t B, std::int64_t n_in, const std::uint32_t* Wp2,
                             std::int64_t n_out, float* S, std::int64_t ldS, std::int32_t* idx, std::uint32_t* val) {
    const std::int64_t np = n_pairs(n_in);
    std::int32_t* start = idx + B * np;
    pair_lists_body(A, n_in, 0, B, n_in, idx, val, start);
    const SparseRows<std::uint32_t> rows{idx, val, start, np};
    skip_gemm_bf16_body(rows, 0, B, Wp2, np * kTile<float>, kTile<float>, 0, n_tiles<float>(n_out), n_out, S, ldS,
                        kTile<float>);
}

}  // namespace
}  // namespace dropengine::detail
