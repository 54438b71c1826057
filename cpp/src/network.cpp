#include "dropengine/network.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace dropengine {

template <class T>
std::int64_t NetworkView<T>::n_units() const {
    std::int64_t n = 0;
    for (const auto& l : layers) n += l.n_out;
    return n;
}

template <class T>
std::int64_t NetworkView<T>::unit_offset(std::int64_t h) const {
    std::int64_t n = 0;
    for (std::int64_t k = 0; k < h; ++k) n += layers[static_cast<std::size_t>(k)].n_out;
    return n;
}

template <class T>
bool NetworkView<T>::is_chain() const {
    for (std::size_t h = 0; h < layers.size(); ++h) {
        const auto& s = layers[h].sources;
        if (!s.empty() && !(s.size() == 1 && s[0].layer == static_cast<std::int64_t>(h))) return false;
    }
    return true;
}

template <class T>
std::vector<Source> NetworkView<T>::sources_of(std::int64_t h) const {
    const auto& l = layers[static_cast<std::size_t>(h)];
    if (l.sources.empty()) return {Source{h, 0, l.n_in}};
    return l.sources;
}

template <class T>
std::vector<std::vector<std::pair<std::size_t, std::int64_t>>> NetworkView<T>::receivers() const {
    std::vector<std::vector<std::pair<std::size_t, std::int64_t>>> r(layers.size());
    for (std::size_t h = 0; h < layers.size(); ++h)
        for (const Source& s : sources_of(static_cast<std::int64_t>(h)))
            if (s.layer < n_layers()) r[static_cast<std::size_t>(s.layer)].push_back({h, s.offset});
    return r;
}

template <class T>
void NetworkView<T>::validate() const {
    if (layers.empty()) throw std::invalid_argument("network: at least one layer is required");
    if (layers.size() > 255) throw std::invalid_argument("network: at most 255 layers are supported");
    for (std::size_t h = 0; h < layers.size(); ++h) {
        const auto& l = layers[h];
        const std::string name = "network layer " + std::to_string(h);
        if (l.n_out < 1 || l.n_in < 1) throw std::invalid_argument(name + ": weights must have shape (n_out >= 1, n_in >= 1)");
        if (!l.sources.empty()) {
            // Sorted, distinct, lower layers, contiguous blocks of the sources' widths.
            std::int64_t at = 0, prev = -1;
            for (const auto& src : l.sources) {
                if (src.layer <= prev || src.layer > static_cast<std::int64_t>(h))
                    throw std::invalid_argument(name + ": sources must be distinct lower layers in increasing order");
                if (src.offset != at || src.n != n_source(src.layer))
                    throw std::invalid_argument(name + ": the block of source " + std::to_string(src.layer) +
                                                " must start at column " + std::to_string(at) + " and hold " +
                                                std::to_string(n_source(src.layer)) + " columns");
                at += src.n;
                prev = src.layer;
            }
            if (at != l.n_in)
                throw std::invalid_argument(name + ": the sources' blocks hold " + std::to_string(at) +
                                            " columns, W has " + std::to_string(l.n_in));
        } else if (h > 0 && l.n_in != layers[h - 1].n_out)
            throw std::invalid_argument(name + ": n_in = " + std::to_string(l.n_in) + " does not match n_out = " +
                                        std::to_string(layers[h - 1].n_out) + " of layer " + std::to_string(h - 1));
        if (!l.W) throw std::invalid_argument(name + ": weights are missing");
        for (std::int64_t k = 0; k < l.n_out * l.n_in; ++k)
            if (!std::isfinite(l.W[k])) throw std::invalid_argument(name + ": weights must be finite");
        if (l.b)
            for (std::int64_t k = 0; k < l.n_out; ++k)
                if (!std::isfinite(l.b[k])) throw std::invalid_argument(name + ": biases must be finite");
        l.f.validate();
    }
}

template struct NetworkView<float>;
template struct NetworkView<double>;

}  // namespace dropengine
