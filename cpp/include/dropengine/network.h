// A feedforward network as views over caller-owned memory (Eq. 1, 12, 21, 48).
//
// Layer h maps its input (the outputs of layer h-1, or the network input for h = 0)
// to n_out units: S_i = sum_j W_ij a_j + b_i, O_i = f(S_i). W is row-major of shape
// (n_out, n_in), the paper's w_ij with i the receiving unit and j the sending one.
//
// Skip connections (Eq. 21-26): a layer may instead receive from any set of lower
// layers. Its input is then the concatenation of their outputs in the order of
// `sources`, W is W_cat = [W_hl1 | W_hl2 | ...] over it, and S = W_cat [O^l1; O^l2; ...].
// Sources are numbered as the paper numbers layers: 0 is the network input, l >= 1 the
// outputs of layers[l - 1]; so a chain's layer h has the single source h.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "dropengine/transfer.h"

namespace dropengine {

/// One block of a layer's concatenated input: the outputs of source layer `layer`
/// (0 = network input), at columns [offset, offset + n) of W.
struct Source {
    std::int64_t layer = 0, offset = 0, n = 0;
};

/// One layer: W (n_out x n_in, row-major), optional bias b (n_out), transfer f.
template <class T>
struct LayerView {
    const T* W = nullptr;
    const T* b = nullptr;  ///< null: no bias
    std::int64_t n_out = 0;
    std::int64_t n_in = 0;
    Transfer f;
    /// The blocks of the input, sorted by source layer; empty: the chain's single
    /// source (the layer below), which is also what a one-block list of it means.
    std::vector<Source> sources;
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
    /// True when every layer receives from the layer below only.
    bool is_chain() const;
    /// Units of source layer l: the network input for l = 0, layers[l - 1] otherwise.
    std::int64_t n_source(std::int64_t l) const { return l == 0 ? n_inputs() : layers[static_cast<std::size_t>(l - 1)].n_out; }
    /// Layer h's input blocks: its sources, or {h, 0, n_in} for a chain layer.
    std::vector<Source> sources_of(std::int64_t h) const;
    /// The other direction, for every source layer l = 0 .. n_layers() - 1: the layers it
    /// feeds, lowest first, each with the column of l's block in its input (a layer that
    /// feeds none has an empty list; a chain's layer l feeds {l, 0}).
    std::vector<std::vector<std::pair<std::size_t, std::int64_t>>> receivers() const;
    /// Checks shapes, chaining (or the sources' blocks) and finiteness of weights and
    /// biases; throws std::invalid_argument naming the layer otherwise.
    void validate() const;
};

}  // namespace dropengine
