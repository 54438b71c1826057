// Checks a spiking gate needs before any work, shared by the synchronous sampler and the
// asynchronous chains.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "dropengine/gate.h"
#include "dropengine/network.h"

namespace dropengine::detail {

/// A coin of probability O needs O in [0, 1] (Eq. 125-127): spiking network inputs must
/// be probabilities, and a layer whose outputs spike must be logistic or softmax. Global
/// spikes name the spiking source layers (p[l]), connection-specific ones the receiving
/// layers whose sources all spike (gate.h). `who` prefixes the messages.
template <class T>
void check_spiking(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows, const char* who) {
    std::vector<bool> spikes(net.layers.size(), false);  // per source layer
    for (std::size_t h = 0; h < net.layers.size(); ++h) {
        if (gate.p[h].empty()) continue;
        if (gate.kind == GateKind::Spikes)
            spikes[h] = true;
        else
            for (const Source& s : net.sources_of(static_cast<std::int64_t>(h))) spikes[static_cast<std::size_t>(s.layer)] = true;
    }
    if (spikes[0])
        for (std::int64_t k = 0; k < n_rows * net.n_inputs(); ++k)
            if (!(X[k] >= 0 && X[k] <= 1))
                throw std::invalid_argument(std::string(who) + ": spiking inputs must be firing probabilities in [0, 1]");
    for (std::size_t l = 1; l < spikes.size(); ++l)
        if (spikes[l] && !net.layers[l - 1].f.bounded01())
            throw std::invalid_argument(std::string(who) + ": layer " + std::to_string(l - 1) +
                                        " spikes, so its outputs must be probabilities (logistic or softmax)");
}

}  // namespace dropengine::detail
