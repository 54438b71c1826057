// The trainer's state and passes, shared by train.cpp (driver, data order, state),
// train_step.cpp (forward and backward over one minibatch) and train_update.cpp
// (SGD update, max-norm, weight layouts).
#pragma once
#include <cstdint>
#include <vector>

#include "aligned.h"
#include "dropengine/network.h"
#include "dropengine/rng_streams.h"
#include "dropengine/train.h"
#include "kernels/kernels.h"

namespace dropengine::detail {

/// Row stride of a (rows x n) buffer that the products read or write as whole tiles:
/// whole tiles, plus one 64-byte vector so that consecutive rows do not fall on the same
/// L1 sets (with a stride that is a multiple of 1 KiB, 16 of the 64 rows of a slab would
/// share each set of a 12-way L1).
/// 64-bit words of one row of connection masks (TrainLayer::masks).
inline std::int64_t mask_words(std::int64_t n_in) { return (n_in + 63) / 64; }

template <class T>
inline std::int64_t padded(std::int64_t n) { return n_tiles<T>(n) * kTile<T> + 64 / static_cast<std::int64_t>(sizeof(T)); }

/// One layer of the network being trained, with its minibatch buffers.
template <class T>
struct TrainLayer {
    std::int64_t n_out = 0, n_in = 0;
    std::int64_t ldo = 0, ldi = 0;  ///< padded(n_out), padded(n_in)
    Transfer f;
    bool has_bias = false;
    // Weights: the packed W^T of kernels.h is the master copy (forward product and the
    // weight gradient are computed in it); Wr is W row-major (row stride ldi) for the
    // backward product and connection gates, refreshed after every update.
    AlignedVector<T> Wp, Vp, gWp;
    AlignedVector<T> Wr;
    bool need_Wr = false;
    std::vector<T> b, vb, gb;
    /// The input's blocks (network.h): {h, 0, n_in} for a chain's layer.
    std::vector<Source> sources;
    // Gate, indexed as Gate::p is (gate.h): unit kinds, the units of source layer h (the
    // inputs of layer h in a chain): keep or dropin thresholds (1 or n_source(h)); the
    // connections of this layer (1 or n_out * n_in).
    std::vector<std::uint64_t> thr;
    GateKind kind = GateKind::None;  ///< this entry's kind (Gate::kind_of)
    bool gated = false;
    /// The expectation of the gate per unit of source layer h (ensemble network, Eq. 167):
    /// keep p_j for unit dropout, the dropin rate r_j for dropin; empty otherwise.
    std::vector<T> expect;
    /// How the error signal crosses this layer's units (hidden layers): see train.h.
    double back = kBackprop;
    double back_noise = 0.0;  ///< std of the Gaussian noise on sigma' (train.h, backward_noise)
    // Minibatch buffers: gated inputs A (B x n_in), where the input passes its value
    // (1) or is replaced by a constant (0: dropped or dropped in), sums S, outputs O and
    // errors D = dE/dS (B x ldo; D's padding stays zero: it is read as whole tiles).
    /// Gaussian kinds (gate.h): std and mean of the noise, indexed as thr is.
    std::vector<double> sd, mu;
    std::vector<T> A;
    std::vector<std::uint8_t> pass;
    /// Connection dropout: the forward pass's masks, one bit per connection (B x n_out rows
    /// of mask_words(n_in) words), read back by the backward pass instead of drawing the
    /// Philox words again; empty above the mask budget (Impl::reserve), which then redraws.
    std::vector<std::uint64_t> masks;
    /// Multiplicative Gaussian units: delta of each input (B x n_in), which the error
    /// signal to the unit carries (dA/dO = delta); empty otherwise.
    std::vector<T> mult;
    AlignedVector<T> S, O, D;
    /// With skip connections: the error reaching this layer's outputs from every layer it
    /// feeds, summed, gated (B x ldo); empty for a chain, whose one receiver hands it over.
    AlignedVector<T> Gout;
    bool fan_out = false;  ///< feeds more than the layer above, or not at its columns 0..n_out
};

}  // namespace dropengine::detail

namespace dropengine {

template <class T>
struct Trainer<T>::Impl {
    using Layer = detail::TrainLayer<T>;
    std::vector<Layer> L;
    Gate gate;
    TrainOptions opt;
    int threads = 1;
    const detail::Kernels<T>& k;
    std::int64_t B = 0;  ///< rows of the minibatch buffers
    TrainPosition pos;
    /// Trainer::save_state's copy: per layer Wp, Vp, b, vb, and the position.
    struct Saved {
        std::vector<detail::AlignedVector<T>> Wp, Vp;
        std::vector<std::vector<T>> b, vb;
        TrainPosition pos;
        bool valid = false;
    } saved;
    std::vector<std::int64_t> perm;
    std::int64_t perm_epoch = -1, perm_n = -1;
    // Scratch shared by the layers: nonzero lists, backward product, per-thread Philox
    // words, connection-gate gradient rows, per-example loss and error.
    std::vector<std::int32_t> idx, start;
    std::vector<T> val;
    detail::AlignedVector<T> G, gr;
    std::vector<std::vector<std::uint32_t>> words;  ///< capacity fixed at construction
    std::vector<std::vector<double>> top_scratch;     ///< per thread: 5 x n_out of the top layer
    std::vector<double> loss;
    std::vector<std::uint8_t> wrong;
    std::vector<std::uint8_t> ones;  ///< all units pass: the gate of a summed error signal
    std::vector<std::vector<T>> noise;  ///< per thread: one row of connection noise

    Impl(const NetworkView<T>& net, const Gate& g, TrainOptions o);
    void reserve(std::int64_t rows);
    const std::vector<std::int64_t>& epoch_order(std::int64_t n);

    // train_step.cpp
    /// Forward and backward over rows[0..nb) of the data, leaving loss / wrong per row.
    /// With eta > 0 every layer is updated as soon as its gradient is known (the SGD
    /// step, below); with eta = 0 gWp, gb hold the minibatch mean gradient instead.
    void step(const TrainData<T>& data, const std::int64_t* rows, std::int64_t nb, std::uint64_t step, double eta);
    /// The gated forward pass; with `ensemble`, every gate replaced by its expectation
    /// instead (the ensemble network of Eq. 167, for predictions).
    void forward(const T* X, const std::int64_t* rows, std::int64_t nb, std::uint64_t step, bool ensemble = false);
    void top_errors(const TrainData<T>& data, const std::int64_t* rows, std::int64_t nb);
    void backward(std::int64_t nb, std::uint64_t step, double eta);
    void connection_forward(std::size_t h, std::int64_t nb, std::uint64_t step);
    void connection_backward(std::size_t h, std::int64_t nb, std::uint64_t step, bool data_grad);
    /// The Philox word buffer of the calling OpenMP thread.
    std::vector<std::uint32_t>& thread_words();
    /// n_in values of scratch of the calling OpenMP thread (a row of connection noise).
    T* noise_row();
    /// Gaussian units (gate.h): the block `src` of row b's inputs a, times delta (its
    /// deltas into mult) or plus eps, drawn for step s.
    void gaussian_inputs(const Layer& g, const Source& src, std::uint64_t s, std::int64_t b, T* a, T* mult);
    /// Philox words of the normals of connections i * n_in .. of layer h for row b (two each).
    const std::uint32_t* normal_words(std::size_t h, std::uint64_t s, std::int64_t b, std::int64_t i,
                                      std::vector<std::uint32_t>& buf) const;
    /// Row i's noise: delta_ij (Gaussian connections) or eps_ij (weight noise), j < n_in.
    void connection_noise(std::size_t h, std::uint64_t s, std::int64_t b, std::int64_t i,
                          std::vector<std::uint32_t>& buf, T* out) const;
    /// Philox words of connections i * n_in .. i * n_in + n_in - 1 of layer h for row b.
    const std::uint32_t* connection_words(std::size_t h, std::uint64_t step, std::int64_t b, std::int64_t i,
                                          std::vector<std::uint32_t>& buf) const;

    // train_update.cpp
    /// The SGD step on the packed rows r0 <= j < r1 of tile t of layer l, right after
    /// their gradient was computed (so it is still in cache): v = mu v - eta (g + decay w),
    /// w += v; and the matching block of the row-major copy, unless max-norm is on.
    void update_block(Layer& l, std::int64_t t, std::int64_t r0, std::int64_t r1, double eta);
    /// The rest of the step on layer l: biases, max-norm and then the row-major copy.
    void finish_update(Layer& l, double eta);
    void refresh_rows(Layer& l);
    void unpack(const detail::AlignedVector<T>& packed, const Layer& l, T* W) const;
    void pack(const T* W, const Layer& l, detail::AlignedVector<T>& packed) const;
};

}  // namespace dropengine
