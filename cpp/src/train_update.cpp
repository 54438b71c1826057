// The SGD step with momentum and max-norm, and conversions between the weight layouts.
#include <algorithm>
#include <cmath>

#include "train_detail.h"

namespace dropengine {

template <class T>
void Trainer<T>::Impl::update_block(Layer& l, std::int64_t t, std::int64_t r0, std::int64_t r1, double eta) {
    constexpr std::int64_t TILE = detail::kTile<T>;
    // Elementwise, so the split into blocks changes no bit; the zero padding of the
    // packed tiles stays zero (its gradient is zero).
    const std::int64_t e0 = (t * l.n_in + r0) * TILE, e1 = (t * l.n_in + r1) * TILE;
    k.sgd_momentum(l.Wp.data() + e0, l.Vp.data() + e0, l.gWp.data() + e0, e1 - e0, static_cast<T>(opt.momentum),
                   static_cast<T>(eta), static_cast<T>(opt.weight_decay));
    if (!l.need_Wr || opt.max_norm > 0) return;
    k.tile_to_rows(l.Wp.data() + t * l.n_in * TILE, TILE, r0, r1, std::min(TILE, l.n_out - t * TILE),
                   l.Wr.data() + t * TILE * l.ldi, l.ldi);
}

template <class T>
void Trainer<T>::Impl::finish_update(Layer& l, double eta) {
    constexpr std::int64_t TILE = detail::kTile<T>;
    const T mu = static_cast<T>(opt.momentum), lr = static_cast<T>(eta);
    if (l.has_bias)
        for (std::size_t i = 0; i < l.b.size(); ++i) {
            l.vb[i] = mu * l.vb[i] - lr * l.gb[i];
            l.b[i] += l.vb[i];
        }
    if (opt.max_norm <= 0) return;
    // Each unit's incoming weight vector is a column of its packed tile.
    const std::int64_t nt = detail::n_tiles<T>(l.n_out);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t t = 0; t < nt; ++t) {
        T* Wt = l.Wp.data() + t * l.n_in * TILE;
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
    refresh_rows(l);
}

template <class T>
void Trainer<T>::Impl::refresh_rows(Layer& l) {
    if (!l.need_Wr) return;
    constexpr std::int64_t TILE = detail::kTile<T>, J = 64;
    const std::int64_t nt = detail::n_tiles<T>(l.n_out), nj = (l.n_in + J - 1) / J;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t item = 0; item < nt * nj; ++item) {
        const std::int64_t t = item / nj, j0 = (item % nj) * J, j1 = std::min(l.n_in, j0 + J);
        k.tile_to_rows(l.Wp.data() + t * l.n_in * TILE, TILE, j0, j1, std::min(TILE, l.n_out - t * TILE),
                       l.Wr.data() + t * TILE * l.ldi, l.ldi);
    }
}

template <class T>
void Trainer<T>::Impl::unpack(const detail::AlignedVector<T>& packed, const Layer& l, T* W) const {
    constexpr std::int64_t TILE = detail::kTile<T>;
    for (std::int64_t i = 0; i < l.n_out; ++i) {
        const T* col = packed.data() + (i / TILE) * l.n_in * TILE + i % TILE;
        for (std::int64_t j = 0; j < l.n_in; ++j) W[i * l.n_in + j] = col[j * TILE];
    }
}

template <class T>
void Trainer<T>::Impl::pack(const T* W, const Layer& l, detail::AlignedVector<T>& packed) const {
    constexpr std::int64_t TILE = detail::kTile<T>;
    for (std::int64_t i = 0; i < l.n_out; ++i) {
        T* col = packed.data() + (i / TILE) * l.n_in * TILE + i % TILE;
        for (std::int64_t j = 0; j < l.n_in; ++j) col[j * TILE] = W[i * l.n_in + j];
    }
}

template struct Trainer<float>::Impl;
template struct Trainer<double>::Impl;

}  // namespace dropengine
