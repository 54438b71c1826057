// The SGD step with momentum and max-norm, and conversions between the weight layouts.
#include <algorithm>
#include <cmath>

#include "train_detail.h"

namespace dropengine {

template <class T>
void Trainer<T>::Impl::update(double eta) {
    constexpr std::int64_t TILE = detail::kTile<T>;
    const T mu = static_cast<T>(opt.momentum), lr = static_cast<T>(eta), wd = static_cast<T>(opt.weight_decay);
    for (Layer& l : L) {
        // v = mu v - eta (g + decay w); w += v. Elementwise, so the split among threads
        // changes no bit; the zero padding of the packed tiles stays zero.
        const auto n = static_cast<std::int64_t>(l.Wp.size());
        T* __restrict W = l.Wp.data();
        T* __restrict V = l.Vp.data();
        const T* __restrict g = l.gWp.data();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t c = 0; c < n; c += 4096) {
            const std::int64_t c1 = std::min(n, c + 4096);
            for (std::int64_t e = c; e < c1; ++e) {
                V[e] = mu * V[e] - lr * (g[e] + wd * W[e]);
                W[e] += V[e];
            }
        }
        if (l.has_bias)
            for (std::size_t i = 0; i < l.b.size(); ++i) {
                l.vb[i] = mu * l.vb[i] - lr * l.gb[i];
                l.b[i] += l.vb[i];
            }
        if (opt.max_norm > 0) {
            // Each unit's incoming weight vector is a column of its packed tile.
            const std::int64_t nt = detail::n_tiles<T>(l.n_out);
#pragma omp parallel for num_threads(threads) schedule(static)
            for (std::int64_t t = 0; t < nt; ++t) {
                T* Wt = W + t * l.n_in * TILE;
                double n2[TILE] = {};
                for (std::int64_t j = 0; j < l.n_in; ++j)
                    for (std::int64_t c = 0; c < TILE; ++c) n2[c] += static_cast<double>(Wt[j * TILE + c]) * Wt[j * TILE + c];
                T scale[TILE];
                for (std::int64_t c = 0; c < TILE; ++c) {
                    const double nr = std::sqrt(n2[c]);
                    scale[c] = nr > opt.max_norm ? static_cast<T>(opt.max_norm / nr) : T(1);
                }
                for (std::int64_t j = 0; j < l.n_in; ++j)
                    for (std::int64_t c = 0; c < TILE; ++c) Wt[j * TILE + c] *= scale[c];
            }
        }
        refresh_rows(l);
    }
}

template <class T>
void Trainer<T>::Impl::refresh_rows(Layer& l) {
    if (!l.need_Wr) return;
    constexpr std::int64_t TILE = detail::kTile<T>, J = 16;
    const std::int64_t nt = detail::n_tiles<T>(l.n_out), nj = (l.n_in + J - 1) / J;
    // Transposes the packed tiles in J x TILE blocks, so reads and writes stay in cache lines.
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t item = 0; item < nt * nj; ++item) {
        const std::int64_t t = item / nj, j0 = (item % nj) * J, j1 = std::min(l.n_in, j0 + J);
        const std::int64_t c1 = std::min(TILE, l.n_out - t * TILE);
        const T* Wt = l.Wp.data() + t * l.n_in * TILE;
        for (std::int64_t c = 0; c < c1; ++c) {
            T* row = l.Wr.data() + (t * TILE + c) * l.ldi;
            for (std::int64_t j = j0; j < j1; ++j) row[j] = Wt[j * TILE + c];
        }
    }
}

template <class T>
void Trainer<T>::Impl::unpack(const std::vector<T>& packed, const Layer& l, T* W) const {
    constexpr std::int64_t TILE = detail::kTile<T>;
    for (std::int64_t i = 0; i < l.n_out; ++i) {
        const T* col = packed.data() + (i / TILE) * l.n_in * TILE + i % TILE;
        for (std::int64_t j = 0; j < l.n_in; ++j) W[i * l.n_in + j] = col[j * TILE];
    }
}

template <class T>
void Trainer<T>::Impl::pack(const T* W, const Layer& l, std::vector<T>& packed) const {
    constexpr std::int64_t TILE = detail::kTile<T>;
    for (std::int64_t i = 0; i < l.n_out; ++i) {
        T* col = packed.data() + (i / TILE) * l.n_in * TILE + i % TILE;
        for (std::int64_t j = 0; j < l.n_in; ++j) col[j * TILE] = W[i * l.n_in + j];
    }
}

template struct Trainer<float>::Impl;
template struct Trainer<double>::Impl;

}  // namespace dropengine
