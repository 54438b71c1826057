// Bodies of the trainer's elementwise kernels (train_update.cpp), compiled once per ISA:
// the SGD step is memory-bound, and at the build's baseline ISA it runs at half the
// speed the memory allows.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

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
/// One stage of an E x E transpose held in E vectors: rows r and r + D exchange the
/// D x D blocks off the diagonal of each 2D x 2D block (E = elements per vector).
template <class T, int D, class V>
inline void transpose_stage(V* v) {
    constexpr int E = 64 / sizeof(T);
    using I = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    typedef I M __attribute__((vector_size(64)));
    M lo, hi;
    for (int c = 0; c < E; ++c) {
        lo[c] = (c & D) ? E + c - D : c;
        hi[c] = (c & D) ? E + c : c + D;
    }
    for (int r = 0; r < E; ++r) {
        if (r & D) continue;
        const V a = v[r], b = v[r + D];
        v[r] = __builtin_shuffle(a, b, lo);
        v[r + D] = __builtin_shuffle(a, b, hi);
    }
}

/// rows[c * ld + j] = tile[j * tile_width + c] for c < n_c and r0 <= j < r1: a block of
/// a packed tile written back into row-major form. Whole E x E blocks are transposed in
/// registers (the plain copy gathers with stride tile_width, which costs as much as the
/// SGD step itself); the edges are copied one by one.
template <class T>
inline void tile_to_rows_body(const T* __restrict tile, std::int64_t tile_width, std::int64_t r0, std::int64_t r1,
                              std::int64_t n_c, T* __restrict rows, std::int64_t ld) {
    typedef T V __attribute__((vector_size(64)));
    constexpr std::int64_t E = 64 / sizeof(T);
    std::int64_t j0 = r0;
    for (; j0 + E <= r1; j0 += E) {
        std::int64_t c0 = 0;
        for (; c0 + E <= n_c; c0 += E) {
            V v[E];
            for (std::int64_t q = 0; q < E; ++q) std::memcpy(&v[q], tile + (j0 + q) * tile_width + c0, 64);
            if constexpr (E == 16) transpose_stage<T, 8>(v);
            transpose_stage<T, 4>(v);
            transpose_stage<T, 2>(v);
            transpose_stage<T, 1>(v);
            for (std::int64_t q = 0; q < E; ++q) std::memcpy(rows + (c0 + q) * ld + j0, &v[q], 64);
        }
        for (std::int64_t c = c0; c < n_c; ++c)
            for (std::int64_t j = j0; j < j0 + E; ++j) rows[c * ld + j] = tile[j * tile_width + c];
    }
    for (std::int64_t c = 0; c < n_c; ++c)
        for (std::int64_t j = j0; j < r1; ++j) rows[c * ld + j] = tile[j * tile_width + c];
}

}  // namespace
}  // namespace dropengine::detail
