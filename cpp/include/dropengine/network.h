// A feedforward network as views over caller-owned memory (Eq. 1, 12, 21, 48).
//
// Layer h maps its input (the outputs of layer h-1, or the network input for h = 0)
// to n_out units: S_i = sum_j W_ij a_j + b_i, O_i = f(S_i). W is row-major of shape
// (n_out, n_in), the paper's w_ij with i the receiving unit and j the sending one.
#pragma once
#include <cstdint>
#include <vector>

#include "dropengine/transfer.h"

namespace dropengine {

/// One layer: W (n_out x n_in, row-major), optional bias b (n_out), transfer f.
template <class T>
struct LayerView {
    const T* W = nullptr;
    const T* b = nullptr;  ///< null: no bias
    std::int64_t n_out = 0;
    std::int64_t n_in = 0;
    Transfer f;
};

/// A network: layers in order from the input; each n_in equals the previous n_out.
template <class T>
struct NetworkView {
    std::vector<LayerView<T>> layers;

    std::int64_t n_inputs() const { return layers.empty() ? 0 : layers.front().n_in; }
    std::int64_t n_layers() const { return static_cast<std::int64_t>(layers.size()); }
    /// Total number of non-input units.
    std::int64_t n_units() const;
    /// Offset of layer h's units among all non-input units.
    std::int64_t unit_offset(std::int64_t h) const;
    /// Checks shapes, chaining and finiteness of weights and biases; throws
    /// std::invalid_argument naming the layer otherwise.
    void validate() const;
};

}  // namespace dropengine
