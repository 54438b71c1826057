// Forward and backward pass over one minibatch (Eq. 166, 172-175; Section 10.2).
//
// Unit dropout, dropin and no gate: the forward product and the weight gradient are the
// zero-skipping kernel (skip_gemm) with different strides, so dropped units and zero
// inputs cost nothing in them; the error signal is a dense product against the same
// packed weights (dot_rows), so no row-major copy of W has to be kept current:
//   forward     S[b, :]  = sum over the nonzero A[b, j] of A[b, j] W[:, j]   (skip_gemm, packed W^T)
//   backward    G[b, j]  = sum over i of D[b, i] W[i, j]                     (dot_rows, packed W^T)
//   gradient    gW[:, j] = sum over the nonzero A[b, j] of A[b, j] D[b, :]   (skip_gemm, into packed form)
// each block of the gradient then updates the weights while in cache (sgd_momentum).
// Connection dropout gates each (row, connection) with its own Philox word, drawn in the
// forward pass and kept as one bit per connection for the backward pass (TrainLayer::masks).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "train_detail.h"

namespace dropengine {
namespace {

constexpr double kTwo32 = 4294967296.0;

/// The calling OpenMP thread's index into the per-thread scratch.
inline std::size_t thread_index() {
#ifdef _OPENMP
    return static_cast<std::size_t>(omp_get_thread_num());
#else
    return 0;
#endif
}

/// sigma'(S) from S and O = f(S) (softmax is only an output layer and never reaches here).
template <class T>
inline double derivative(const Transfer& f, T S, T O) {
    const double s = static_cast<double>(S), o = static_cast<double>(O);
    switch (f.kind) {
        case TransferKind::Linear: return 1.0;
        case TransferKind::Logistic: return f.lam * o * (1.0 - o);
        case TransferKind::Tanh: return f.lam * (1.0 - o * o);
        case TransferKind::ReLU: return s <= f.threshold ? 0.0 : f.slope;
        case TransferKind::Softplus: return 1.0 / (1.0 + std::exp(-f.lam * s));
        case TransferKind::Softmax: return 1.0;
    }
    return 1.0;
}

/// log O_i of the output layer, computed from S in float64 so the loss stays finite
/// when O rounds to 0 or 1.
inline void log_outputs(const Transfer& f, const double* S, double* logO, double* logOc, std::int64_t n) {
    if (f.kind == TransferKind::Softmax) {
        double mx = -std::numeric_limits<double>::infinity();
        for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, f.lam * S[i]);
        double z = 0;
        for (std::int64_t i = 0; i < n; ++i) z += std::exp(f.lam * S[i] - mx);
        const double lz = mx + std::log(z);
        for (std::int64_t i = 0; i < n; ++i) logO[i] = f.lam * S[i] - lz;
        return;
    }
    // Logistic: O = 1 / (1 + c e^{-lam S}), so log O = -log(1 + e^x) and
    // log(1 - O) = x - log(1 + e^x) with x = log c - lam S.
    const double lc = std::log(f.c);
    for (std::int64_t i = 0; i < n; ++i) {
        const double x = lc - f.lam * S[i];
        const double sp = std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
        logO[i] = -sp;
        logOc[i] = x - sp;
    }
}

}  // namespace

template <class T>
void Trainer<T>::Impl::step(const TrainData<T>& data, const std::int64_t* rows, std::int64_t nb, std::uint64_t s,
                            double eta) {
    forward(data.X, rows, nb, s);
    top_errors(data, rows, nb);
    backward(nb, s, eta);
}

template <class T>
std::vector<std::uint32_t>& Trainer<T>::Impl::thread_words() {
    return words[thread_index()];
}

template <class T>
T* Trainer<T>::Impl::noise_row() {
    return noise[thread_index()].data();
}

template <class T>
const std::uint32_t* Trainer<T>::Impl::connection_words(std::size_t h, std::uint64_t s, std::int64_t b,
                                                        std::int64_t i, std::vector<std::uint32_t>& buf) const {
    const Layer& l = L[h];
    const std::int64_t e0 = i * l.n_in, blk0 = e0 / 4, nblk = (e0 + l.n_in + 3) / 4 - blk0;
    buf.resize(static_cast<std::size_t>(4 * ((nblk + 15) / 16 * 16)));
    const DrawSite site = DrawSite::make(opt.key[0], opt.key[1], Stream::TrainConnectionGate,
                                         static_cast<std::uint32_t>(h), s, static_cast<std::uint64_t>(b));
    k.philox_fill(static_cast<std::uint32_t>(blk0), nblk, site.c1, site.c2, site.c3, site.k0, site.k1, buf.data());
    return buf.data() + (e0 - 4 * blk0);
}

template <class T>
void Trainer<T>::Impl::forward(const T* X, const std::int64_t* rows, std::int64_t nb, std::uint64_t s,
                               bool ensemble) {
    constexpr std::int64_t TILE = detail::kTile<T>;
    for (std::size_t h = 0; h < L.size(); ++h) {
        Layer& l = L[h];
        const std::int64_t ni = l.n_in, no = l.n_out;
        // Weight noise has mean zero: its ensemble is the plain product.
        const bool per_connection = gate.per_connection(h) && !(ensemble && l.kind == GateKind::WeightNoise);
        if (ensemble && per_connection)
            throw std::invalid_argument("predict: connection gates need dropengine::ensemble");
        // 1. Gated inputs (Eq. 166): dropout zeroes a unit, dropin sets it to 1 (Section 11.6),
        // block by block with the coins of each source layer (Eq. 22), so a unit feeding
        // several layers is kept or dropped in all of them.
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t b = 0; b < nb; ++b) {
            for (const Source& src : l.sources) {
                const Layer& g = L[static_cast<std::size_t>(src.layer)];  // the source's gate (unit kinds)
                const bool dropin = g.kind == GateKind::Dropin, unit_kind = g.kind == GateKind::Units || dropin;
                const bool gaussian_units = is_gaussian_kind(g.kind) && is_unit_kind(g.kind);
                const std::int64_t n = src.n;
                T* a = l.A.data() + b * ni + src.offset;
                std::uint8_t* ps = l.pass.data() + b * ni + src.offset;
                const T* in = src.layer == 0 ? X + rows[b] * n
                                             : L[static_cast<std::size_t>(src.layer - 1)].O.data() +
                                                   b * L[static_cast<std::size_t>(src.layer - 1)].ldo;
                std::copy(in, in + n, a);
                std::fill(ps, ps + n, std::uint8_t{1});
                if (ensemble && (unit_kind || gaussian_units) && !g.expect.empty()) {
                    const T* e = g.expect.data();
                    if (dropin)
                        for (std::int64_t j = 0; j < n; ++j) a[j] = (T(1) - e[j]) * a[j] + e[j];
                    else
                        for (std::int64_t j = 0; j < n; ++j) a[j] *= e[j];
                }
                if (gaussian_units && g.gated && !ensemble) {
                    gaussian_inputs(g, src, s, b, a, l.mult.empty() ? nullptr : l.mult.data() + b * ni + src.offset);
                    continue;
                }
                if (!(unit_kind && g.gated) || ensemble) continue;
                auto& w = thread_words();
                w.resize(static_cast<std::size_t>(4 * ((n + 3) / 4 + 16)));
                const DrawSite site = DrawSite::make(opt.key[0], opt.key[1], dropin ? Stream::TrainDropin : Stream::TrainUnitGate,
                                                     static_cast<std::uint32_t>(src.layer), s, static_cast<std::uint64_t>(b));
                k.philox_fill(0, (n + 3) / 4, site.c1, site.c2, site.c3, site.k0, site.k1, w.data());
                // Branch-free loops: keep decisions are random, a branch would mispredict.
                const std::uint32_t* wd = w.data();
                if (!dropin && g.thr.size() == 1) {
                    const auto t = static_cast<std::uint32_t>(g.thr[0]);  // gated, so below 2^32
                    for (std::int64_t j = 0; j < n; ++j) {
                        const bool keep = wd[j] < t;
                        ps[j] = static_cast<std::uint8_t>(keep);
                        a[j] = keep ? a[j] : T(0);
                    }
                } else {
                    const bool one = g.thr.size() == 1;
                    for (std::int64_t j = 0; j < n; ++j) {
                        const bool hit = wd[j] < g.thr[one ? 0 : static_cast<std::size_t>(j)];
                        const bool passes = dropin ? !hit : hit;
                        ps[j] = static_cast<std::uint8_t>(passes);
                        a[j] = passes ? a[j] : (dropin ? T(1) : T(0));
                    }
                }
            }
            // The row's nonzero list for the product, while the row is in this thread's cache.
            if (!per_connection) k.sparse_lists(l.A.data(), ni, 1, b, b + 1, ni, idx.data(), val.data(), start.data());
        }
        // 2. Sums S = W a (+ b).
        if (per_connection) {
            connection_forward(h, nb, s);
        } else {
            const detail::SparseRows<T> A{idx.data(), val.data(), start.data(), ni};
            // Each work item streams one column tile of W through L1 slab by slab, for as
            // many rows as possible: rows are split only when tiles alone cannot feed
            // every thread.
            const std::int64_t nt = detail::n_tiles<T>(no), nrc = std::max<std::int64_t>(1, (2 * threads + nt - 1) / nt),
                               rc = (nb + nrc - 1) / nrc;
#pragma omp parallel for num_threads(threads) schedule(static)
            for (std::int64_t item = 0; item < nt * nrc; ++item) {
                const std::int64_t t = item / nrc, r0 = (item % nrc) * rc, r1 = std::min(nb, r0 + rc);
                k.skip_gemm(A, r0, r1, l.Wp.data(), ni * TILE, TILE, t, t + 1, no, l.S.data(), l.ldo, TILE, false);
            }
        }
        // 3. Outputs O = f(S).
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t b = 0; b < nb; ++b) {
            T* Sr = l.S.data() + b * l.ldo;
            if constexpr (std::is_same_v<T, float>) {
                if (l.f.kind == TransferKind::Logistic && l.f.c > 0) {
                    k.logistic_bias(Sr, l.has_bias ? l.b.data() : nullptr, l.O.data() + b * l.ldo, no,
                                    static_cast<float>(l.f.lam), static_cast<float>(std::log(l.f.c)));
                    continue;
                }
            }
            if (l.has_bias)
                for (std::int64_t i = 0; i < no; ++i) Sr[i] += l.b[static_cast<std::size_t>(i)];
            apply_transfer<T>(l.f, Sr, l.O.data() + b * l.ldo, nullptr, nullptr, nullptr, no);
        }
    }
}

template <class T>
void Trainer<T>::Impl::top_errors(const TrainData<T>& data, const std::int64_t* rows, std::int64_t nb) {
    Layer& l = L.back();
    const std::int64_t no = l.n_out;
    const double inv = 1.0 / static_cast<double>(nb);  // the gradient is the minibatch mean
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t b = 0; b < nb; ++b) {
        const T* Sr = l.S.data() + b * l.ldo;
        const T* O = l.O.data() + b * l.ldo;
        T* D = l.D.data() + b * l.ldo;
        double* scratch = top_scratch[thread_index()].data();
        double *t = scratch, *S = scratch + no, *lo = scratch + 2 * no, *loc = scratch + 3 * no, *g = scratch + 4 * no;
        std::fill(t, t + no, 0.0);
        const std::int64_t r = rows[b];
        if (data.labels) {
            t[static_cast<std::size_t>(data.labels[r])] = 1.0;
        } else {
            for (std::int64_t i = 0; i < no; ++i) t[static_cast<std::size_t>(i)] = static_cast<double>(data.targets[r * no + i]);
        }
        for (std::int64_t i = 0; i < no; ++i) S[static_cast<std::size_t>(i)] = static_cast<double>(Sr[i]);
        double E = 0;
        if (opt.loss == Loss::Squared) {
            // (1/2) sum (t - O)^2 (Eq. 55); dE/dS through the transfer's Jacobian.
            double gO = 0;
            for (std::int64_t i = 0; i < no; ++i) {
                const double e = static_cast<double>(O[i]) - t[static_cast<std::size_t>(i)];
                g[static_cast<std::size_t>(i)] = e;
                gO += e * static_cast<double>(O[i]);
                E += 0.5 * e * e;
            }
            for (std::int64_t i = 0; i < no; ++i) {
                const double d = l.f.kind == TransferKind::Softmax
                                     ? l.f.lam * static_cast<double>(O[i]) * (g[static_cast<std::size_t>(i)] - gO)
                                     : g[static_cast<std::size_t>(i)] * derivative(l.f, Sr[i], O[i]);
                D[i] = static_cast<T>(d * inv);
            }
        } else {
            // Relative entropy (Eq. 156) for logistic outputs, cross entropy for softmax:
            // both give dE/dS = lam (O - t) (Eq. 174).
            log_outputs(l.f, S, lo, loc, no);
            for (std::int64_t i = 0; i < no; ++i) {
                const double ti = t[static_cast<std::size_t>(i)];
                if (ti != 0) E -= ti * lo[static_cast<std::size_t>(i)];
                if (opt.loss == Loss::RelativeEntropy && ti != 1) E -= (1 - ti) * loc[static_cast<std::size_t>(i)];
                D[i] = static_cast<T>(l.f.lam * (static_cast<double>(O[i]) - ti) * inv);
            }
        }
        std::fill(D + no, D + l.ldo, T(0));
        loss[static_cast<std::size_t>(b)] = E;
        const auto am = [no](auto get) {
            std::int64_t best = 0;
            for (std::int64_t i = 1; i < no; ++i)
                if (get(i) > get(best)) best = i;
            return best;
        };
        const std::int64_t guess = am([&](std::int64_t i) { return static_cast<double>(O[i]); });
        const std::int64_t want = am([&](std::int64_t i) { return t[static_cast<std::size_t>(i)]; });
        wrong[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(guess != want);
    }
}

template <class T>
void Trainer<T>::Impl::backward(std::int64_t nb, std::uint64_t s, double eta) {
    constexpr std::int64_t TILE = detail::kTile<T>;
    for (auto& u : L)
        if (u.fan_out) std::fill(u.Gout.begin(), u.Gout.end(), T(0));
    for (std::size_t hh = L.size(); hh-- > 0;) {
        Layer& l = L[hh];
        const std::int64_t ni = l.n_in, no = l.n_out;
        // The error signal is needed when some input block is a layer's outputs.
        const bool data_grad = std::any_of(l.sources.begin(), l.sources.end(), [](const Source& s) { return s.layer >= 1; });
        // Bias gradient: sum over the minibatch, in row order; the threads take blocks of
        // units (each sum is still one thread's, in the same order: the same bits).
        {
            constexpr std::int64_t U = 256;
            const std::int64_t nu = (no + U - 1) / U;
#pragma omp parallel for num_threads(threads) schedule(static)
            for (std::int64_t item = 0; item < nu; ++item) {
                const std::int64_t i0 = item * U, i1 = std::min(no, i0 + U);
                T* gb = l.gb.data();
                for (std::int64_t i = i0; i < i1; ++i) gb[i] = T(0);
                for (std::int64_t b = 0; b < nb; ++b) {
                    const T* d = l.D.data() + b * l.ldo;
                    for (std::int64_t i = i0; i < i1; ++i) gb[i] += d[i];
                }
            }
        }
        if (l.need_Wr) {
            connection_backward(hh, nb, s, data_grad);
            if (eta > 0) {
                const std::int64_t nt = detail::n_tiles<T>(no);
#pragma omp parallel for num_threads(threads) schedule(static)
                for (std::int64_t t = 0; t < nt; ++t) update_block(l, t, 0, ni, eta);
                finish_update(l, eta);
            }
        } else {
            if (data_grad) {
                // Error signal reaching the layer below (Eq. 173), before its derivative;
                // computed first, with the weights this step started from. Dot products
                // against the packed weights: no row-major copy of W to keep current.
                const std::int64_t J = 16, nj = (ni + J - 1) / J;
#pragma omp parallel for num_threads(threads) schedule(static)
                for (std::int64_t item = 0; item < nj; ++item) {
                    const std::int64_t j0 = item * J, j1 = std::min(ni, j0 + J);
                    k.dot_rows(l.D.data(), l.ldo, 0, nb, l.Wp.data(), ni, no, j0, j1, G.data(), l.ldi);
                }
            }
            // Weight gradient (Eq. 172, 175): lists run down the columns of A. Each work
            // item's block of the gradient is applied to the weights while in cache.
#pragma omp parallel for num_threads(threads) schedule(static)
            for (std::int64_t j = 0; j < ni; ++j)
                k.sparse_lists(l.A.data(), 1, ni, j, j + 1, nb, idx.data(), val.data(), start.data());
            const detail::SparseRows<T> At{idx.data(), val.data(), start.data(), nb};
            const std::int64_t nt = detail::n_tiles<T>(no), rc = 64, nrc = (ni + rc - 1) / rc;
            // Items differ in cost (the lists' lengths; the last tile is narrow), so threads
            // take them as they finish; the bits do not depend on which thread does which.
#pragma omp parallel for num_threads(threads) schedule(dynamic)
            for (std::int64_t item = 0; item < nt * nrc; ++item) {
                const std::int64_t t = item / nrc, r0 = (item % nrc) * rc, r1 = std::min(ni, r0 + rc);
                k.skip_gemm(At, r0, r1, l.D.data(), TILE, l.ldo, t, t + 1, no, l.gWp.data(), TILE, ni * TILE, false);
                if (eta > 0) update_block(l, t, r0, r1, eta);
            }
            if (eta > 0) finish_update(l, eta);
        }
        // Multiplicative Gaussian units: the signal reaching a unit's output is dE/da times
        // da/dO = delta (the input block of the network itself needs none).
        if (!l.mult.empty() && data_grad) {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (std::int64_t b = 0; b < nb; ++b)
                for (std::int64_t j = 0; j < ni; ++j)
                    G[static_cast<std::size_t>(b * l.ldi + j)] *= l.mult[static_cast<std::size_t>(b * ni + j)];
        }
        // Skip connections: each source's block of the gated signal joins the sum its
        // layer collects from every layer it feeds.
        for (const Source& src : l.sources) {
            if (src.layer < 1 || !L[static_cast<std::size_t>(src.layer - 1)].fan_out) continue;
            Layer& u = L[static_cast<std::size_t>(src.layer - 1)];
#pragma omp parallel for num_threads(threads) schedule(static)
            for (std::int64_t b = 0; b < nb; ++b) {
                const T* g = G.data() + b * l.ldi + src.offset;
                const std::uint8_t* ps = l.pass.data() + b * ni + src.offset;
                T* o = u.Gout.data() + b * u.ldo;
                for (std::int64_t j = 0; j < src.n; ++j) o[j] += ps[j] ? g[j] : T(0);
            }
        }
        if (hh == 0) break;
        // Through the units of the layer below: the gate (delta, Eq. 173), then sigma'(S)
        // (backpropagation) or a coin (backpercolation, Section 10.2). All of the layers it
        // feeds are done now (they are above it): a chain's takes the signal of the layer
        // above with its gate, a layer with skip connections its gated sum.
        Layer& u = L[hh - 1];
        const double mode = u.back;
        const std::int64_t nu = u.n_out;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t b = 0; b < nb; ++b) {
            const T* g = u.fan_out ? u.Gout.data() + b * u.ldo : G.data() + b * l.ldi;
            const std::uint8_t* ps = u.fan_out ? ones.data() : l.pass.data() + b * ni;  // the sum is gated already
            const T* S = u.S.data() + b * u.ldo;
            const T* O = u.O.data() + b * u.ldo;
            T* D = u.D.data() + b * u.ldo;
            if (mode == kBackprop && u.back_noise > 0.0) {
                // Section 10.2: Gaussian noise added to sigma' on the way down.
                auto& w = thread_words();
                w.resize(static_cast<std::size_t>(4 * ((nu + 1) / 2 + 16)));
                const DrawSite site = DrawSite::make(opt.key[0], opt.key[1], Stream::BackwardNoise,
                                                     static_cast<std::uint32_t>(hh - 1), s, static_cast<std::uint64_t>(b));
                k.philox_fill(0, (nu + 1) / 2, site.c1, site.c2, site.c3, site.k0, site.k1, w.data());
                for (std::int64_t j = 0; j < nu; ++j) {
                    const auto jj = static_cast<std::size_t>(j);
                    const double d = derivative(u.f, S[j], O[j]) + u.back_noise * gaussian_from_words(w[2 * jj], w[2 * jj + 1]);
                    D[j] = ps[j] ? static_cast<T>(static_cast<double>(g[j]) * d) : T(0);
                }
            } else if (mode == kBackprop && u.f.kind == TransferKind::Logistic) {
                const T lam = static_cast<T>(u.f.lam);
                for (std::int64_t j = 0; j < nu; ++j) D[j] = ps[j] ? g[j] * (lam * O[j] * (T(1) - O[j])) : T(0);
            } else if (mode == kBackprop) {
                for (std::int64_t j = 0; j < nu; ++j)
                    D[j] = ps[j] ? static_cast<T>(static_cast<double>(g[j]) * derivative(u.f, S[j], O[j])) : T(0);
            } else {
                auto& w = thread_words();
                w.resize(static_cast<std::size_t>(4 * ((nu + 3) / 4 + 16)));
                const DrawSite site = DrawSite::make(opt.key[0], opt.key[1], Stream::Backpercolation,
                                                     static_cast<std::uint32_t>(hh - 1), s, static_cast<std::uint64_t>(b));
                k.philox_fill(0, (nu + 3) / 4, site.c1, site.c2, site.c3, site.k0, site.k1, w.data());
                for (std::int64_t j = 0; j < nu; ++j) {
                    const double p = mode == kBackpercolation ? derivative(u.f, S[j], O[j]) : mode;
                    // The signal passes whole with probability p: word < p 2^32.
                    const bool on = ps[j] && static_cast<double>(w[static_cast<std::size_t>(j)]) < p * kTwo32;
                    D[j] = on ? g[j] : T(0);
                }
            }
            std::fill(D + nu, D + u.ldo, T(0));
        }
    }
}

template <class T>
void Trainer<T>::Impl::gaussian_inputs(const Layer& g, const Source& src, std::uint64_t s, std::int64_t b, T* a,
                                       T* mult) {
    const std::int64_t n = src.n;
    auto& w = thread_words();
    w.resize(static_cast<std::size_t>(4 * ((n + 1) / 2 + 16)));
    const bool additive = g.kind == GateKind::AdditiveNoise;
    const DrawSite site = DrawSite::make(opt.key[0], opt.key[1], additive ? Stream::TrainAdditiveNoise : Stream::TrainGaussianUnit,
                                         static_cast<std::uint32_t>(src.layer), s, static_cast<std::uint64_t>(b));
    k.philox_fill(0, (n + 1) / 2, site.c1, site.c2, site.c3, site.k0, site.k1, w.data());
    const bool one_sd = g.sd.size() == 1, one_mu = g.mu.size() == 1;
    for (std::int64_t j = 0; j < n; ++j) {
        const auto jj = static_cast<std::size_t>(j);
        const double z = gaussian_from_words(w[2 * jj], w[2 * jj + 1]), sd = g.sd[one_sd ? 0 : jj];
        if (additive) {
            a[j] += static_cast<T>(sd * z);
        } else {
            const T d = static_cast<T>(g.mu[one_mu ? 0 : jj] + sd * z);
            a[j] *= d;
            mult[j] = d;
        }
    }
}

template <class T>
const std::uint32_t* Trainer<T>::Impl::normal_words(std::size_t h, std::uint64_t s, std::int64_t b, std::int64_t i,
                                                     std::vector<std::uint32_t>& buf) const {
    const Layer& l = L[h];
    const NormalSpan span = normal_span(static_cast<std::uint64_t>(i * l.n_in), l.n_in);
    buf.resize(static_cast<std::size_t>(4 * ((span.n_blocks + 15) / 16 * 16)));
    const Stream st = l.kind == GateKind::WeightNoise ? Stream::TrainWeightNoise : Stream::TrainGaussianConnection;
    const DrawSite site = DrawSite::make(opt.key[0], opt.key[1], st, static_cast<std::uint32_t>(h), s, static_cast<std::uint64_t>(b));
    k.philox_fill(static_cast<std::uint32_t>(span.first_block), span.n_blocks, site.c1, site.c2, site.c3, site.k0, site.k1,
                  buf.data());
    return buf.data() + span.offset;
}

template <class T>
void Trainer<T>::Impl::connection_noise(std::size_t h, std::uint64_t s, std::int64_t b, std::int64_t i,
                                        std::vector<std::uint32_t>& buf, T* out) const {
    const Layer& l = L[h];
    const std::int64_t ni = l.n_in;
    const std::uint32_t* w = normal_words(h, s, b, i, buf);
    const bool one_sd = l.sd.size() == 1, one_mu = l.mu.size() == 1, additive = l.kind == GateKind::WeightNoise;
    for (std::int64_t j = 0; j < ni; ++j) {
        const auto jj = static_cast<std::size_t>(j), e = static_cast<std::size_t>(i * ni + j);
        const double z = gaussian_from_words(w[2 * jj], w[2 * jj + 1]), sd = l.sd[one_sd ? 0 : e];
        out[j] = additive ? static_cast<T>(sd * z) : static_cast<T>(l.mu[one_mu ? 0 : e] + sd * z);
    }
}

template <class T>
void Trainer<T>::Impl::connection_forward(std::size_t h, std::int64_t nb, std::uint64_t s) {
    Layer& l = L[h];
    const std::int64_t ni = l.n_in, no = l.n_out;
    const bool one = l.thr.size() == 1;
    if (gate.gaussian(h)) {
        // S_i = sum_j W_ij delta_ij a_j (Gaussian connections) or sum_j (W_ij + eps_ij) a_j.
        const bool additive = l.kind == GateKind::WeightNoise;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t b = 0; b < nb; ++b) {
            auto& buf = thread_words();
            T* f = noise_row();
            const T* a = l.A.data() + b * ni;
            T* Sr = l.S.data() + b * l.ldo;
            for (std::int64_t i = 0; i < no; ++i) {
                const T* W = l.Wr.data() + i * l.ldi;
                T acc = 0;
                if (l.gated) {
                    connection_noise(h, s, b, i, buf, f);
                    for (std::int64_t j = 0; j < ni; ++j) acc += (additive ? W[j] + f[j] : W[j] * f[j]) * a[j];
                } else {
                    for (std::int64_t j = 0; j < ni; ++j) acc += W[j] * a[j];
                }
                Sr[i] = acc;
            }
        }
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t b = 0; b < nb; ++b) {
        auto& buf = thread_words();
        const T* a = l.A.data() + b * ni;
        T* Sr = l.S.data() + b * l.ldo;
        for (std::int64_t i = 0; i < no; ++i) {
            const T* W = l.Wr.data() + i * l.ldi;
            if (!l.gated) {
                T acc = 0;
                for (std::int64_t j = 0; j < ni; ++j) acc += W[j] * a[j];
                Sr[i] = acc;
                continue;
            }
            const std::uint32_t* w = connection_words(h, s, b, i, buf);
            Sr[i] = one ? k.gated_dot(W, a, w, l.thr[0], ni)
                        : k.gated_dot_each(W, a, w, l.thr.data() + i * ni, ni);
            if (!l.masks.empty())
                k.keep_bits(w, one ? l.thr[0] : 0, one ? nullptr : l.thr.data() + i * ni, ni,
                            l.masks.data() + (b * no + i) * detail::mask_words(ni));
        }
    }
}

template <class T>
void Trainer<T>::Impl::connection_backward(std::size_t h, std::int64_t nb, std::uint64_t s, bool data_grad) {
    Layer& l = L[h];
    const std::int64_t ni = l.n_in, no = l.n_out;
    const bool one = l.thr.size() == 1;
    if (gate.gaussian(h)) {
        // dS_i/dw_ij = delta_ij a_j (or a_j for weight noise); dS_i/da_j = W_ij delta_ij
        // (or W_ij + eps_ij): the same draws, regenerated.
        const bool additive = l.kind == GateKind::WeightNoise;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t i = 0; i < no; ++i) {
            auto& buf = thread_words();
            T* f = noise_row();
            T* g = gr.data() + i * ni;
            std::fill(g, g + ni, T(0));
            for (std::int64_t b = 0; b < nb; ++b) {
                const T d = l.D[static_cast<std::size_t>(b * l.ldo + i)];
                if (d == T(0)) continue;
                const T* a = l.A.data() + b * ni;
                if (!l.gated || additive) {
                    for (std::int64_t j = 0; j < ni; ++j) g[j] += d * a[j];
                } else {
                    connection_noise(h, s, b, i, buf, f);
                    for (std::int64_t j = 0; j < ni; ++j) g[j] += d * (f[j] * a[j]);
                }
            }
        }
        pack(gr.data(), l, l.gWp);
        if (!data_grad) return;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t b = 0; b < nb; ++b) {
            auto& buf = thread_words();
            T* f = noise_row();
            T* g = G.data() + b * l.ldi;
            std::fill(g, g + l.ldi, T(0));
            for (std::int64_t i = 0; i < no; ++i) {
                const T d = l.D[static_cast<std::size_t>(b * l.ldo + i)];
                if (d == T(0)) continue;
                const T* W = l.Wr.data() + i * l.ldi;
                if (!l.gated) {
                    for (std::int64_t j = 0; j < ni; ++j) g[j] += d * W[j];
                    continue;
                }
                connection_noise(h, s, b, i, buf, f);
                for (std::int64_t j = 0; j < ni; ++j) g[j] += d * (additive ? W[j] + f[j] : W[j] * f[j]);
            }
        }
        return;
    }
    // Connection (i, j) passes iff its word is below its threshold (gated_axpy).
    const std::uint64_t thr = !l.gated ? std::uint64_t{1} << 32 : one ? l.thr[0] : 0;
    const auto each = [&](std::int64_t i) { return l.gated && !one ? l.thr.data() + i * ni : nullptr; };
    // y += delta_ij d x for row (b, i): from the forward pass's masks where they were
    // kept, else from the Philox words drawn again (the same bits either way).
    const std::int64_t nw = detail::mask_words(ni);
    const auto axpy = [&](T* y, T d, const T* x, std::int64_t b, std::int64_t i, std::vector<std::uint32_t>& buf) {
        if (l.gated && !l.masks.empty()) {
            k.bits_axpy(y, d, x, l.masks.data() + (b * no + i) * nw, ni);
            return;
        }
        const std::uint32_t* w = l.gated ? connection_words(h, s, b, i, buf) : nullptr;
        k.gated_axpy(y, d, x, w, thr, each(i), ni);
    };
    // Weight gradient rows i (Eq. 172, 175 with the connection's own delta), each summed
    // over the minibatch in row order.
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < no; ++i) {
        auto& buf = thread_words();
        T* g = gr.data() + i * ni;
        std::fill(g, g + ni, T(0));
        for (std::int64_t b = 0; b < nb; ++b) {
            const T d = l.D[static_cast<std::size_t>(b * l.ldo + i)];
            if (d == T(0)) continue;
            axpy(g, d, l.A.data() + b * ni, b, i, buf);
        }
    }
    pack(gr.data(), l, l.gWp);
    if (!data_grad) return;
    // Error signal to the layer below: G[b, j] = sum_i delta_ij w_ij D[b, i].
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t b = 0; b < nb; ++b) {
        auto& buf = thread_words();
        T* g = G.data() + b * l.ldi;
        std::fill(g, g + l.ldi, T(0));
        for (std::int64_t i = 0; i < no; ++i) {
            const T d = l.D[static_cast<std::size_t>(b * l.ldo + i)];
            if (d == T(0)) continue;
            axpy(g, d, l.Wr.data() + i * l.ldi, b, i, buf);
        }
    }
}

template struct Trainer<float>::Impl;
template struct Trainer<double>::Impl;

}  // namespace dropengine
