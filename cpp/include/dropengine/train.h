// Minibatch stochastic gradient descent on dropout networks (Sections 10.2 and 11).
//
// One step on a minibatch of B examples:
//   forward   draw the gate of every layer for every example (Eq. 166: delta_j^l), then
//             S = W (delta * O) + b, O = f(S) layer by layer;
//   backward  dE/dS at the top (Eq. 174: lam (O - t) for the matching loss), then
//             dE/dS_i^h = sum_k dE/dS_k^{h+1} w_ki delta_i sigma'(S_i^h)   (Eq. 173),
//             or backpercolation (Section 10.2): sigma'(S_i^h) replaced by a coin that is
//             1 with probability sigma'(S_i^h) (or a fixed p) and 0 otherwise;
//   gradient  dE/dw_ij = dE/dS_i delta_j O_j                                (Eq. 172, 175),
//             averaged over the minibatch;
//   update    v = mu v - eta (g + decay w), w += v; then optionally each unit's incoming
//             weight vector is scaled back to norm <= max_norm.
//
// Training uses the plain gates of the paper (no 1/p scaling), so the trained network's
// ensemble (Eq. 167: weights times keep probabilities) is dropengine::ensemble().
//
// Every random draw is addressed by purpose, global step, example row, layer and element
// (rng_streams.h), and every sum is computed in a fixed order by one thread, so a run is
// bit-identical for any thread count and a run resumed from saved state continues
// exactly as if it had never stopped.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "dropengine/gate.h"
#include "dropengine/network.h"

namespace dropengine {

enum class Loss : std::int32_t {
    Squared = 0,          ///< (1/2) sum_i (t_i - O_i)^2                         (Eq. 55)
    RelativeEntropy = 1,  ///< -sum_i t_i log O_i + (1 - t_i) log(1 - O_i), logistic outputs (Eq. 156)
    CrossEntropy = 2,     ///< -sum_i t_i log O_i, softmax outputs
};

/// How the error signal crosses the units of layer h on its way down, for the hidden
/// layers h = 0 .. L-2 (the output layer's signal is the loss derivative).
constexpr double kBackprop = -1.0;         ///< multiply by sigma'(S) (Eq. 173)
constexpr double kBackpercolation = 0.0;   ///< pass whole with probability sigma'(S), else stop
///  (a value p in (0, 1]: pass whole with the fixed probability p, else stop)

struct TrainOptions {
    Loss loss = Loss::CrossEntropy;
    std::int64_t batch_size = 100;
    double momentum = 0.0;       ///< mu in [0, 1)
    double weight_decay = 0.0;   ///< L2 coefficient added to the gradient
    double max_norm = 0.0;       ///< 0: off; else the bound on each unit's incoming weight norm
    /// One entry per hidden layer: kBackprop, kBackpercolation or a fixed p in (0, 1].
    /// Empty: backpropagation everywhere.
    std::vector<double> backward;
    /// One entry per hidden layer (or empty: none): Gaussian noise added to sigma'(S) in
    /// the backward pass (Section 10.2), D_j = g_j (sigma'(S_j) + std z_j), z_j ~ N(0, 1)
    /// (Stream::BackwardNoise); with kBackprop only. Unbiased: E(D_j) is backprop's.
    std::vector<double> backward_noise;
    std::uint32_t key[2] = {0, 0};  ///< Philox key derived from the seed
    int threads = 0;                ///< 0: OpenMP default
    /// Polled before every minibatch; returning true stops the run at that boundary.
    std::function<bool()> interrupted;
};

/// Where a run stands: epoch, minibatches done in it, minibatches done in all.
struct TrainPosition {
    std::int64_t epoch = 0;
    std::int64_t batch = 0;
    std::int64_t step = 0;
};

/// What one call to Trainer::run did.
struct TrainProgress {
    std::int64_t batches = 0;
    std::int64_t examples = 0;
    double loss_sum = 0.0;        ///< sum over examples of the loss under dropout
    std::int64_t errors = 0;      ///< examples whose largest output is not the target's
    bool interrupted = false;     ///< stopped by TrainOptions::interrupted
    bool epoch_done = false;      ///< reached the end of the epoch (position moved to the next)
};

/// Training data: n rows of X (row-major, n x n_in), and either labels (n class indices,
/// targets one-hot) or targets (row-major, n x n_out).
template <class T>
struct TrainData {
    const T* X = nullptr;
    const std::int32_t* labels = nullptr;
    const T* targets = nullptr;
    std::int64_t n = 0;
};

template <class T>
class Trainer {
public:
    /// Copies the network's weights; validates network, gate and options (throws
    /// std::invalid_argument naming what is wrong) before anything else.
    Trainer(const NetworkView<T>& net, const Gate& gate, TrainOptions opt);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    /// Runs minibatches of the current epoch from the current position, at learning
    /// rate eta, until max_batches are done, the epoch ends or the run is interrupted.
    /// The examples of epoch e are visited in a Philox permutation of (seed, e).
    TrainProgress run(const TrainData<T>& data, double eta, std::int64_t max_batches);

    /// The mean gradient over the rows of `data` (taken in order, as one minibatch whose
    /// draws are addressed by `step`), without updating anything. gW[h] is n_out x n_in
    /// row-major, gb[h] has n_out entries. Returns the summed loss.
    double gradient(const TrainData<T>& data, std::int64_t step, std::vector<std::vector<T>>& gW,
                    std::vector<std::vector<T>>& gb);

    /// Outputs of the ensemble network (Eq. 167: every gate replaced by its expectation)
    /// for the n rows of X, with the current weights: out is n x n_out, row-major.
    /// Unit dropout, dropin and no gate (connection gates: dropengine::ensemble).
    void predict(const T* X, std::int64_t n, T* out);

    std::int64_t n_layers() const;
    /// Shape of layer h's weights: {n_out, n_in} (throws std::out_of_range for a bad h).
    std::array<std::int64_t, 2> layer_shape(std::int64_t h) const;
    /// Current weights, biases (zero when the network has none) and velocities of layer h.
    void get_layer(std::int64_t h, T* W, T* b, T* vW, T* vb) const;
    /// Replaces them (checkpoint resume); any pointer may be null to keep that part.
    void set_layer(std::int64_t h, const T* W, const T* b, const T* vW, const T* vb);
    TrainPosition position() const;
    void set_position(const TrainPosition& p);

    /// Keeps a copy of every layer's weights, biases and velocities and the position, in
    /// buffers reused from one call to the next, so that a run which diverges can be undone
    /// (restore_state) without copying the weights out. One slot: each call replaces it.
    void save_state();
    /// Returns to the state save_state kept; throws std::logic_error if none was saved.
    void restore_state();
    /// True when every weight, bias and velocity is finite (the divergence check).
    bool finite() const;

private:
    struct Impl;
    Impl* impl_;
};

}  // namespace dropengine
