// Packing of weight matrices into the column-tile layout of kernels.h.
#pragma once
#include <cstdint>
#include <vector>

#include "aligned.h"
#include "kernels/bf16_impl.h"
#include "kernels/kernels.h"

namespace dropengine::detail {

/// Wp[t][j][c] = scale(i, j) * W[i, j] with i = t * kTile + c (zero past n_out).
template <class T, class Scale>
AlignedVector<T> pack_weights(const T* W, std::int64_t n_out, std::int64_t n_in, Scale scale) {
    constexpr std::int64_t TILE = kTile<T>;
    const std::int64_t nt = n_tiles<T>(n_out);
    AlignedVector<T> Wp(static_cast<std::size_t>(nt * n_in * TILE), T(0));
    for (std::int64_t i = 0; i < n_out; ++i) {
        const std::int64_t t = i / TILE, c = i % TILE;
        for (std::int64_t j = 0; j < n_in; ++j)
            Wp[static_cast<std::size_t>((t * n_in + j) * TILE + c)] = static_cast<T>(scale(i, j) * W[i * n_in + j]);
    }
    return Wp;
}

/// W in the pair layout of matmul_bf16 (bf16_impl.h): for tile t and input pair q, word
/// c holds (bf16(W[i, 2q + 1]) << 16) | bf16(W[i, 2q]), i = t * kTile + c (zero past n_out
/// and past n_in). Size: n_tiles(n_out) * n_pairs(n_in) * kTile words.
inline AlignedVector<std::uint32_t> pack_pairs_bf16(const float* W, std::int64_t n_out, std::int64_t n_in) {
    constexpr std::int64_t TILE = kTile<float>;
    const std::int64_t nt = n_tiles<float>(n_out), np = n_pairs(n_in);
    AlignedVector<std::uint32_t> Wp(static_cast<std::size_t>(nt * np * TILE), 0u);
    for (std::int64_t i = 0; i < n_out; ++i) {
        const std::int64_t t = i / TILE, c = i % TILE;
        for (std::int64_t q = 0; q < np; ++q) {
            const std::uint32_t lo = to_bf16(W[i * n_in + 2 * q]);
            const std::uint32_t hi = 2 * q + 1 < n_in ? to_bf16(W[i * n_in + 2 * q + 1]) : 0u;
            Wp[static_cast<std::size_t>((t * np + q) * TILE + c)] = hi << 16 | lo;
        }
    }
    return Wp;
}

}  // namespace dropengine::detail
