// Packing of weight matrices into the column-tile layout of kernels.h.
#pragma once
#include <cstdint>
#include <vector>

#include "aligned.h"
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

}  // namespace dropengine::detail
