// Asynchronous stochastic spiking networks (Section 10.1).
//
// The layer-synchronous spiking network is a gate of the sampler (GateKind::Spikes,
// SpikesConnections; sampler.h). Here neurons update one at a time in a random order:
// at each step a non-input neuron, drawn uniformly, recomputes its sum S from the
// current spikes (or outputs) of the units feeding it (Eq. 128, 129), its firing
// probability O = f(S) (Eq. 127), and draws new spikes (Eq. 125, 126). Each input runs
// its own chain; statistics are time averages over the steps after a burn-in: E(O),
// Var(O), E(S), ... of every neuron and, with input_stats, E(Delta), Var(Delta) of the
// spikes feeding every layer (the firing rates over time).
#pragma once
#include <cstdint>
#include <functional>

#include "dropengine/gate.h"
#include "dropengine/network.h"
#include "dropengine/stats.h"

namespace dropengine {

struct AsyncOptions {
    std::uint64_t n_steps = 0;   ///< neuron updates counted in the statistics
    std::uint64_t burn_in = 0;   ///< updates before them, not counted
    std::uint32_t key[2] = {0, 0};
    std::uint64_t first_input = 0;
    int threads = 0;             ///< inputs run in parallel
    bool input_stats = false;    ///< also the spikes feeding every layer (SampleStats::E_in, var_in)
    std::function<bool()> interrupted;
};

/// Runs one asynchronous chain per input. The gate must be Spikes or SpikesConnections;
/// every layer must have an elementwise transfer (not softmax). Throws
/// std::invalid_argument on bad input, before any work.
template <class T>
SampleStats sample_async(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                         const AsyncOptions& opt);

}  // namespace dropengine
