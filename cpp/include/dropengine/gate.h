// Bernoulli gates (Eq. 6-20, 22-23, 49; Section 11.6).
//
// keep[h] gates what feeds layer h: for unit dropout a probability per input unit of
// layer h (the network input for h = 0; Eq. 13, 22), for connection dropout a
// probability per connection of layer h (Eq. 14, 23). A vector of length 1 means the
// same value everywhere. Dropin sets a unit to 1 instead of 0 with probability
// rate[h][j] (Section 11.6).
//
// Biases (Eq. 9-10): with unit dropout the bias of layer h behaves as one extra unit
// of the layer below, gated once per sample for the whole layer; with connection
// dropout each unit's bias is its own connection, gated independently.
#pragma once
#include <cstdint>
#include <vector>

#include "dropengine/network.h"

namespace dropengine {

enum class GateKind : std::int32_t {
    None = 0,         ///< deterministic propagation
    Units = 1,        ///< dropout on units
    Connections = 2,  ///< dropout on connections
    Dropin = 3,       ///< units set to 1 with probability rate
    /// Stochastic spiking (Section 10.1, Eq. 125-129): a unit with output O in [0, 1]
    /// sends r with probability O and 0 otherwise, the same spike on all its outgoing
    /// connections (global firing, Eq. 125) ...
    Spikes = 4,
    /// ... or a separate coin per connection (connection-specific firing, Eq. 126).
    SpikesConnections = 5,
};

struct Gate {
    GateKind kind = GateKind::None;
    /// Per layer: keep probabilities (Units: 1 or n_in values; Connections: 1 or
    /// n_out * n_in values, row-major), dropin rates (Dropin: 1 or n_in values), or
    /// spike sizes r >= 0 of the units feeding the layer (Spikes: 1 or n_in values;
    /// SpikesConnections: 1, n_in or n_out * n_in values; empty: that layer's inputs
    /// do not spike and pass their values).
    std::vector<std::vector<double>> p;
    /// Per layer: probability that the bias is present (empty: always present).
    std::vector<double> keep_bias;

    /// Checks sizes against the layer shapes and that every probability is in [0, 1].
    void validate(const std::vector<std::int64_t>& n_out,
                  const std::vector<std::int64_t>& n_in) const;
    /// The same check against a network's layer shapes.
    template <class T>
    void validate(const NetworkView<T>& net) const {
        std::vector<std::int64_t> n_out, n_in;
        for (const auto& l : net.layers) {
            n_out.push_back(l.n_out);
            n_in.push_back(l.n_in);
        }
        validate(n_out, n_in);
    }
    bool spiking() const { return kind == GateKind::Spikes || kind == GateKind::SpikesConnections; }
    double prob(std::size_t h, std::int64_t e) const {
        const auto& v = p[h];
        return v.size() == 1 ? v[0] : v[static_cast<std::size_t>(e)];
    }
    double bias_keep(std::size_t h) const { return keep_bias.empty() ? 1.0 : keep_bias[h]; }
};

}  // namespace dropengine
