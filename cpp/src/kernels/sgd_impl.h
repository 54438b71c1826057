// Bodies of the trainer's elementwise kernels (train_update.cpp), compiled once per ISA:
// the SGD step is memory-bound, and at the build's baseline ISA it runs at half the
// speed the memory allows.
#pragma once
#include <cstdint>

namespace dropengine::detail {
// Internal linkage: one copy per ISA translation unit (see matmul_skip_impl.h).
namespace {

/// v = mu v - lr (g + wd w); w += v, elementwise.
template <class T>
inline void sgd_momentum_body(T* __restrict W, T* __restrict V, const T* __restrict g, std::int64_t n, T mu, T lr,
                              T wd) {
#pragma omp simd
    for (std::int64_t e = 0; e < n; ++e) {
        const T v = mu * V[e] - lr * (g[e] + wd * W[e]);
        V[e] = v;
        W[e] += v;
    }
}

/// rows[c * ld + j] = tile[j * tile_width + c] for c < n_c and r0 <= j < r1: a block of
/// a packed tile written back into row-major form.
template <class T>
inline void tile_to_rows_body(const T* __restrict tile, std::int64_t tile_width, std::int64_t r0, std::int64_t r1,
                              std::int64_t n_c, T* __restrict rows, std::int64_t ld) {
    constexpr std::int64_t J = 16;
    for (std::int64_t j0 = r0; j0 < r1; j0 += J) {
        const std::int64_t j1 = j0 + J < r1 ? j0 + J : r1;
        for (std::int64_t c = 0; c < n_c; ++c) {
            T* row = rows + c * ld;
#pragma omp simd
            for (std::int64_t j = j0; j < j1; ++j) row[j] = tile[j * tile_width + c];
        }
    }
}

}  // namespace
}  // namespace dropengine::detail
