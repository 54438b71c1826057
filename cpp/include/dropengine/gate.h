// Bernoulli gates (Eq. 6-20, 22-23, 49; Section 11.6).
//
// keep[h] gates what feeds layer h: for unit dropout a probability per input unit of
// layer h (the network input for h = 0; Eq. 13, 22), for connection dropout a
// probability per connection of layer h (Eq. 14, 23). A vector of length 1 means the
// same value everywhere. Dropin sets a unit to 1 instead of 0 with probability
// rate[h][j] (Section 11.6).
//
// With skip connections (network.h) a unit's coin is shared by all its outgoing
// connections, into whichever layers they go (Eq. 22): the unit kinds (Units, Dropin,
// Spikes) then index p by source layer, p[l] over the units of layer l (0 = the
// network input), which for a chain is exactly "the inputs of layer l". The connection
// kinds stay per receiving layer, over its concatenated input.
//
// One network may mix kinds (Gates in Python): kind Mixed takes kinds[h] per entry h.
// A unit kind at entry l gates the units of source layer l wherever they go; a connection
// kind at entry h gates the connections into layer h, from all its sources. For a chain
// the two readings coincide; on a skip connection both apply and their draws multiply
// (they are independent, so E and the moments factor).
//
// Biases (Eq. 9-10): with unit dropout the bias of layer h behaves as one extra unit
// of the layer below, gated once per sample for the whole layer; with connection
// dropout each unit's bias is its own connection, gated independently.
#pragma once
#include <algorithm>
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
    /// Continuous noise (Sections 4.1, 5; issue "General networks"): p holds std, mean the
    /// means; biases get none. A unit's value times delta ~ N(mean, std^2), one draw per
    /// unit of a source layer shared by its outgoing connections ...
    GaussianUnits = 6,
    /// ... each connection times its own delta ~ N(mean, std^2) ...
    GaussianConnections = 7,
    /// ... a unit's value plus eps ~ N(0, std^2), shared by its outgoing connections (Section 5) ...
    AdditiveNoise = 8,
    /// ... or each weight plus its own eps ~ N(0, std^2) (Section 4.1).
    WeightNoise = 9,
    /// One kind per entry, in Gate::kinds (never Mixed itself).
    Mixed = 10,
};

/// Unit kinds: one draw per unit of a source layer, shared by its outgoing connections.
inline bool is_unit_kind(GateKind k) {
    return k == GateKind::Units || k == GateKind::Dropin || k == GateKind::Spikes || k == GateKind::GaussianUnits ||
           k == GateKind::AdditiveNoise;
}
/// Continuous noise: not enumerable, no bias gates.
inline bool is_gaussian_kind(GateKind k) {
    return k == GateKind::GaussianUnits || k == GateKind::GaussianConnections || k == GateKind::AdditiveNoise ||
           k == GateKind::WeightNoise;
}
inline bool is_spiking_kind(GateKind k) { return k == GateKind::Spikes || k == GateKind::SpikesConnections; }
/// The Gaussian kinds that multiply (and so have a mean); the additive ones have none.
inline bool is_multiplicative_kind(GateKind k) {
    return k == GateKind::GaussianUnits || k == GateKind::GaussianConnections;
}

struct Gate {
    GateKind kind = GateKind::None;
    /// kind == Mixed only: the kind of each entry (one per layer; None, dropout, dropin or
    /// a continuous kind; spikes are a network's mode and are not mixed).
    std::vector<GateKind> kinds;
    /// Per layer: keep probabilities (Units: 1 or n_in values, per source layer in a DAG; Connections: 1 or
    /// n_out * n_in values, row-major), dropin rates (Dropin: 1 or n_in values), or
    /// spike sizes r >= 0 of the units feeding the layer (Spikes: 1 or n_in values;
    /// SpikesConnections: 1, n_in or n_out * n_in values; empty: that layer's inputs
    /// do not spike and pass their values).
    std::vector<std::vector<double>> p;
    /// Per layer, when some entry is GaussianUnits / GaussianConnections: the means of delta
    /// (as p; {1} for the other entries).
    std::vector<std::vector<double>> mean;
    /// Per layer: probability that the bias is present (empty: always present).
    std::vector<double> keep_bias;

    /// Checks sizes against the layer shapes (n_src[l]: the units of source layer l,
    /// the per-unit kinds' length) and that every probability is in [0, 1].
    void validate(const std::vector<std::int64_t>& n_out, const std::vector<std::int64_t>& n_in,
                  const std::vector<std::int64_t>& n_src) const;
    /// The same check against a network's layer shapes.
    template <class T>
    void validate(const NetworkView<T>& net) const {
        std::vector<std::int64_t> n_out, n_in, n_src;
        for (std::size_t h = 0; h < net.layers.size(); ++h) {
            n_out.push_back(net.layers[h].n_out);
            n_in.push_back(net.layers[h].n_in);
            n_src.push_back(net.n_source(static_cast<std::int64_t>(h)));
        }
        validate(n_out, n_in, n_src);
    }
    /// The kind of entry h (unit kinds: source layer h; connection kinds: layer h's inputs).
    GateKind kind_of(std::size_t h) const { return kind == GateKind::Mixed ? kinds[h] : kind; }
    /// Whether any entry has a kind for which pred holds.
    template <class Pred>
    bool any(Pred pred) const {
        if (kind != GateKind::Mixed) return pred(kind);
        return std::any_of(kinds.begin(), kinds.end(), pred);
    }
    bool per_unit(std::size_t h) const { return is_unit_kind(kind_of(h)); }
    bool gaussian(std::size_t h) const { return is_gaussian_kind(kind_of(h)); }
    /// Connection kinds: a draw per connection of the receiving layer.
    bool per_connection(std::size_t h) const { return kind_of(h) != GateKind::None && !per_unit(h); }
    bool any_gaussian() const { return any(is_gaussian_kind); }
    bool any_spiking() const { return any(is_spiking_kind); }
    bool multiplicative_noise(std::size_t h) const { return is_multiplicative_kind(kind_of(h)); }
    /// Entry h's means of delta (1 or n values); {1} for the kinds without one.
    std::vector<double> noise_mean(std::size_t h) const {
        return multiplicative_noise(h) && !mean.empty() ? mean[h] : std::vector<double>{1.0};
    }
    /// Gaussian kinds: whether entry h draws anything (some std != 0 or mean != 1): one
    /// that does not takes the plain product.
    bool noisy(std::size_t h) const {
        const auto mu = noise_mean(h);
        return std::any_of(p[h].begin(), p[h].end(), [](double v) { return v != 0.0; }) ||
               std::any_of(mu.begin(), mu.end(), [](double v) { return v != 1.0; });
    }
    /// delta's mean for element e of entry h (1 for the kinds without one).
    double mean_of(std::size_t h, std::int64_t e) const {
        if (mean.empty() || !multiplicative_noise(h)) return 1.0;
        const auto& v = mean[h];
        return v.size() == 1 ? v[0] : v[static_cast<std::size_t>(e)];
    }
    bool spiking(std::size_t h) const { return is_spiking_kind(kind_of(h)); }
    double prob(std::size_t h, std::int64_t e) const {
        const auto& v = p[h];
        return v.size() == 1 ? v[0] : v[static_cast<std::size_t>(e)];
    }
    double bias_keep(std::size_t h) const { return keep_bias.empty() ? 1.0 : keep_bias[h]; }
};

}  // namespace dropengine
