// Exact enumeration of dropout subnetworks in Gray-code order (see enumerate.h).
#include "dropengine/enumerate.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include "dropengine/sampler.h"  // Interrupted
#include "enumerate_detail.h"

namespace dropengine {
namespace detail {

template <class T>
std::vector<Site> all_sites(const NetworkView<T>& net, const Gate& gate) {
    std::vector<Site> s;
    // Spiking and continuous noise: refused by enumerate().
    if (gate.any_spiking() || gate.any_gaussian()) return s;
    // A unit's coin lives on its outgoing connections (Eq. 22): a layer that feeds no
    // other (possible with skip connections) has no unit gates, and induces no subnetworks.
    const auto receivers = net.receivers();
    for (std::size_t hh = 0; hh < net.layers.size(); ++hh) {
        const auto& l = net.layers[hh];
        const auto h = static_cast<std::int32_t>(hh);
        const GateKind k = gate.kind_of(hh);
        if (k == GateKind::None) continue;
        if (k == GateKind::Connections) {
            for (std::int64_t i = 0; i < l.n_out; ++i)
                for (std::int64_t j = 0; j < l.n_in; ++j) s.push_back({h, SiteKind::Conn, i, j, gate.prob(hh, i * l.n_in + j)});
            if (l.b)
                for (std::int64_t i = 0; i < l.n_out; ++i) s.push_back({h, SiteKind::ConnBias, i, 0, gate.bias_keep(hh)});
        } else {
            // The units of source layer hh (gate.h): the inputs of layer hh in a chain.
            const std::int64_t n = net.n_source(static_cast<std::int64_t>(hh));
            if (!receivers[hh].empty())
                for (std::int64_t j = 0; j < n; ++j) s.push_back({h, SiteKind::Unit, 0, j, gate.prob(hh, j)});
            if (l.b && k == GateKind::Units) s.push_back({h, SiteKind::Bias, 0, 0, gate.bias_keep(hh)});
        }
    }
    return s;
}

std::vector<double> pattern_probabilities(const std::vector<Site>& sites, int n) {
    std::vector<double> t(std::size_t{1} << n, 1.0);
    for (int k = 0; k < n; ++k) {
        const double p = sites[static_cast<std::size_t>(k)].p, q = 1.0 - p;
        const std::size_t half = std::size_t{1} << k;
        for (std::size_t g = 0; g < half; ++g) {
            t[g + half] = t[g] * p;
            t[g] = t[g] * q;
        }
    }
    return t;
}

}  // namespace detail

namespace {

using detail::RowRef;
using detail::Site;
using detail::SiteKind;

/// log2 of the number of subnetworks in one block of the Gray code.
constexpr int kBlockLog2 = 12;

/// Everything about the walk that does not depend on the input.
struct Plan {
    struct Layer {
        std::vector<double> W, b;  // float64 copies; b empty when the layer has none
        std::int64_t n_out, n_in, offset;
        Transfer f;
        std::vector<Source> sources;  // the input's blocks (network.h)
    };
    std::vector<Layer> layers;
    std::vector<std::int64_t> n_src;  // units of source layer l (0: the network input)
    /// The layers source l feeds, lowest first, with the column of its block in each.
    std::vector<std::vector<std::pair<std::size_t, std::int64_t>>> receivers;
    std::vector<GateKind> kinds;  // per entry (gate.h)
    std::vector<Site> free;        // free gates, top layer first: bit k of the code is free[k]
    std::vector<Site> fixed;       // gates with p = 0 or 1
    int block_log2;                // bits walked inside a block
    std::vector<double> low_prob;  // probability of each pattern of the low block_log2 bits
    std::vector<std::vector<std::int64_t>> pairs_at;  // pairs whose later unit is in layer h
    std::vector<UnitPair> pairs;
    /// Steps between polls for Ctrl-C: 2^k - 1 with 2^k steps about 10^6 multiply-adds
    /// at most (every step on the paper's network, once per block on small ones).
    std::uint64_t poll_mask = 0;
};

/// A sum kept as an unevaluated pair hi + lo (Knuth's TwoSum): adding and later
/// removing a term restores the bits exactly, so the Gray-code updates never drift
/// and S is the correctly rounded sum of its terms, whatever the walk order.
struct TwoSumAcc {
    double hi = 0.0, lo = 0.0;
    void add(double v) {
        const double s = hi + v, bv = s - hi, e = (hi - (s - bv)) + (v - bv);
        const double t = lo + e;
        hi = s + t;
        lo = t - (hi - s);
    }
};

/// The state of one walk: gate bits, sums and outputs of every layer, and the
/// probability mass waiting to be folded into each layer's statistics.
class Walker {
public:
    explicit Walker(const Plan& p) : P_(p) {
        const auto L = P_.layers.size();
        unit_on_.resize(L); conn_on_.resize(L); bias_on_.resize(L); gin_.resize(L); acc_.resize(L);
        S_.resize(L); O_.resize(L); lo_.resize(L); loc_.resize(L); dO_.resize(L);
        for (std::size_t h = 0; h < L; ++h) {
            const auto& l = P_.layers[h];
            unit_on_[h].assign(static_cast<std::size_t>(P_.n_src[h]), 1);  // source layer h
            bias_on_[h].assign(static_cast<std::size_t>(l.n_out), 1);
            if (P_.kinds[h] == GateKind::Connections) conn_on_[h].assign(static_cast<std::size_t>(l.n_out * l.n_in), 1);
            gin_[h].assign(static_cast<std::size_t>(l.n_in), 0.0);
            acc_[h].assign(static_cast<std::size_t>(l.n_out), TwoSumAcc{});
            for (auto* v : {&S_[h], &O_[h], &lo_[h], &loc_[h], &dO_[h]}) v->assign(static_cast<std::size_t>(l.n_out), 0.0);
        }
        pend_.assign(L, 0.0);
        wsum_.assign(L, 0.0);
        pma_.assign(P_.pairs.size(), 0.0);
        pmb_.assign(P_.pairs.size(), 0.0);
        for (const auto& s : P_.fixed) set_bit(s, s.p >= 1.0);
    }

    /// Visits the subnetworks of block `blk` for input x (float64, n_in values).
    void run(const double* x, std::int64_t blk, const RowRef& out) {
        x_ = x;
        const int B = P_.block_log2, n = static_cast<int>(P_.free.size());
        const std::uint64_t t0 = static_cast<std::uint64_t>(blk) << B, g0 = t0 ^ (t0 >> 1);
        double p_high = 1.0;
        for (int k = 0; k < n; ++k) {
            const bool on = (g0 >> k) & 1;
            set_bit(P_.free[static_cast<std::size_t>(k)], on);
            if (k >= B) p_high *= on ? P_.free[static_cast<std::size_t>(k)].p : 1.0 - P_.free[static_cast<std::size_t>(k)].p;
        }
        std::fill(pend_.begin(), pend_.end(), 0.0);
        std::fill(wsum_.begin(), wsum_.end(), 0.0);
        std::fill(pma_.begin(), pma_.end(), 0.0);
        std::fill(pmb_.begin(), pmb_.end(), 0.0);
        for (std::size_t h = 0; h < P_.layers.size(); ++h) recompute(h);
        const std::uint64_t mask = (std::uint64_t{1} << B) - 1;
        for (std::uint64_t t = t0; t < t0 + (std::uint64_t{1} << B); ++t) {
            // A block on a deep network can take seconds: Ctrl-C is polled every few
            // steps (the block's statistics are then discarded by the interrupted run).
            if ((t & P_.poll_mask) == 0 && detail::job_cancelled()) return;
            if (t != t0) flip(P_.free[static_cast<std::size_t>(__builtin_ctzll(t))], out);
            const double prob = p_high * P_.low_prob[static_cast<std::size_t>((t ^ (t >> 1)) & mask)];
            for (auto& w : pend_) w += prob;
        }
        for (std::size_t h = 0; h < P_.layers.size(); ++h) flush(h, out);
        *out.count = wsum_.back();
    }

private:
    double gated(const Site& s, double a) const {
        const bool on = unit_on_[static_cast<std::size_t>(s.h)][static_cast<std::size_t>(s.j)];
        return P_.kinds[static_cast<std::size_t>(s.h)] == GateKind::Dropin ? (on ? 1.0 : a) : (on ? a : 0.0);
    }

    void set_bit(const Site& s, bool on) {
        const auto h = static_cast<std::size_t>(s.h);
        switch (s.kind) {
            case SiteKind::Unit: unit_on_[h][static_cast<std::size_t>(s.j)] = on; break;
            case SiteKind::Bias: std::fill(bias_on_[h].begin(), bias_on_[h].end(), on); break;
            case SiteKind::Conn: conn_on_[h][static_cast<std::size_t>(s.i * P_.layers[h].n_in + s.j)] = on; break;
            case SiteKind::ConnBias: bias_on_[h][static_cast<std::size_t>(s.i)] = on; break;
        }
    }

    /// The outputs of source layer l (0: the network input).
    const double* source(std::int64_t l) const { return l == 0 ? x_ : O_[static_cast<std::size_t>(l - 1)].data(); }

    /// Layer h from scratch: gated inputs (Eq. 22; dropin), each block with its source's
    /// gates, sums (Eq. 21, 23), outputs.
    void recompute(std::size_t h) {
        const auto& l = P_.layers[h];
        auto& g = gin_[h];
        for (const Source& src : l.sources) {
            const double* in = source(src.layer);
            const auto& on_l = unit_on_[static_cast<std::size_t>(src.layer)];
            const bool dropin = P_.kinds[static_cast<std::size_t>(src.layer)] == GateKind::Dropin;
            for (std::int64_t j = 0; j < src.n; ++j) {
                const bool on = on_l[static_cast<std::size_t>(j)];
                g[static_cast<std::size_t>(src.offset + j)] =
                    dropin ? (on ? 1.0 : in[j]) : (on ? in[j] : 0.0);
            }
        }
        for (std::int64_t i = 0; i < l.n_out; ++i) {
            const double* Wi = l.W.data() + i * l.n_in;
            TwoSumAcc s;
            if (P_.kinds[h] == GateKind::Connections) {
                const auto* c = conn_on_[h].data() + i * l.n_in;
                for (std::int64_t j = 0; j < l.n_in; ++j)
                    if (c[j]) s.add(Wi[j] * g[static_cast<std::size_t>(j)]);
            } else {
                for (std::int64_t j = 0; j < l.n_in; ++j) s.add(Wi[j] * g[static_cast<std::size_t>(j)]);
            }
            if (!l.b.empty() && bias_on_[h][static_cast<std::size_t>(i)]) s.add(l.b[static_cast<std::size_t>(i)]);
            acc_[h][static_cast<std::size_t>(i)] = s;
            S_[h][static_cast<std::size_t>(i)] = s.hi;
        }
        evaluate(h);
    }

    void evaluate(std::size_t h) {
        apply_transfer<double>(P_.layers[h].f, S_[h].data(), O_[h].data(), lo_[h].data(), loc_[h].data(),
                               dO_[h].data(), P_.layers[h].n_out);
    }

    /// Toggles one gate: the sums of the lowest layer it feeds are updated, the layers
    /// above recomputed. A unit gate of source layer l feeds every layer l sends to.
    void flip(const Site& s, const RowRef& out) {
        if (s.kind == SiteKind::Unit && P_.receivers[static_cast<std::size_t>(s.h)].empty()) {
            auto& on = unit_on_[static_cast<std::size_t>(s.h)][static_cast<std::size_t>(s.j)];
            on = !on;  // a unit nothing receives from changes no output
            return;
        }
        const auto h = s.kind == SiteKind::Unit ? P_.receivers[static_cast<std::size_t>(s.h)].front().first
                                                : static_cast<std::size_t>(s.h);
        for (std::size_t k = h; k < P_.layers.size(); ++k) flush(k, out);  // these layers change now
        const auto& l = P_.layers[h];
        auto& S = acc_[h];
        switch (s.kind) {
            case SiteKind::Unit: {
                const auto src = static_cast<std::size_t>(s.h);
                const auto j = static_cast<std::size_t>(s.j);
                unit_on_[src][j] = !unit_on_[src][j];
                const double* in = source(s.h);
                const auto col = j + static_cast<std::size_t>(P_.receivers[src].front().second);
                const double was = gin_[h][col], now = gated(s, in[j]);
                gin_[h][col] = now;
                // Remove the old term and add the new one: the same products recompute() sums
                // (a mixed gate may also gate the connections of layer h; gate.h).
                const std::uint8_t* conn = P_.kinds[h] == GateKind::Connections ? conn_on_[h].data() : nullptr;
                for (std::int64_t i = 0; i < l.n_out; ++i) {
                    if (conn && !conn[static_cast<std::size_t>(i * l.n_in) + col]) continue;
                    const double w = l.W[static_cast<std::size_t>(i * l.n_in) + col];
                    if (was != 0.0) S[static_cast<std::size_t>(i)].add(-(w * was));
                    if (now != 0.0) S[static_cast<std::size_t>(i)].add(w * now);
                }
                break;
            }
            case SiteKind::Bias: {
                const bool on = !bias_on_[h][0];
                std::fill(bias_on_[h].begin(), bias_on_[h].end(), on);
                for (std::int64_t i = 0; i < l.n_out; ++i)
                    S[static_cast<std::size_t>(i)].add(on ? l.b[static_cast<std::size_t>(i)] : -l.b[static_cast<std::size_t>(i)]);
                break;
            }
            case SiteKind::Conn: {
                auto& c = conn_on_[h][static_cast<std::size_t>(s.i * l.n_in + s.j)];
                c = !c;
                const double v = l.W[static_cast<std::size_t>(s.i * l.n_in + s.j)] * gin_[h][static_cast<std::size_t>(s.j)];
                S[static_cast<std::size_t>(s.i)].add(c ? v : -v);
                break;
            }
            case SiteKind::ConnBias: {
                auto& c = bias_on_[h][static_cast<std::size_t>(s.i)];
                c = !c;
                const double v = l.b[static_cast<std::size_t>(s.i)];
                S[static_cast<std::size_t>(s.i)].add(c ? v : -v);
                break;
            }
        }
        for (std::int64_t i = 0; i < l.n_out; ++i) S_[h][static_cast<std::size_t>(i)] = S[static_cast<std::size_t>(i)].hi;
        evaluate(h);
        for (std::size_t k = h + 1; k < P_.layers.size(); ++k) recompute(k);
    }

    /// Folds layer h's current values, with the probability mass visited since its
    /// last change, into the block statistics (weighted Welford updates).
    void flush(std::size_t h, const RowRef& out) {
        const double w = pend_[h];
        pend_[h] = 0.0;
        if (!(w > 0.0)) return;
        wsum_[h] += w;
        const double r = w / wsum_[h];
        const auto& l = P_.layers[h];
        const std::int64_t o = l.offset;
        for (std::int64_t i = 0; i < l.n_out; ++i) {
            const auto ii = static_cast<std::size_t>(i);
            detail::welford_unit(out, o + i, w, r, O_[h][ii], S_[h][ii], lo_[h][ii], loc_[h][ii], dO_[h][ii]);
        }
        for (std::int64_t k : P_.pairs_at[h]) {
            const auto kk = static_cast<std::size_t>(k);
            const double a = value(P_.pairs[kk].a), b = value(P_.pairs[kk].b);
            const double da = a - pma_[kk];
            pma_[kk] += r * da;
            pmb_[kk] += r * (b - pmb_[kk]);
            out.comoment[k] += w * da * (b - pmb_[kk]);
        }
    }

    double value(std::int64_t unit) const {
        std::size_t h = 0;
        while (unit >= P_.layers[h].offset + P_.layers[h].n_out) ++h;
        return O_[h][static_cast<std::size_t>(unit - P_.layers[h].offset)];
    }

    const Plan& P_;
    const double* x_ = nullptr;
    std::vector<std::vector<std::uint8_t>> unit_on_, conn_on_, bias_on_;
    std::vector<std::vector<double>> gin_, S_, O_, lo_, loc_, dO_;
    std::vector<std::vector<TwoSumAcc>> acc_;  // S of every layer, exact to rounding
    std::vector<double> pend_, wsum_, pma_, pmb_;
};

template <class T>
Plan make_plan(const NetworkView<T>& net, const Gate& gate, const std::vector<UnitPair>& pairs) {
    Plan P;
    for (std::size_t h = 0; h < net.layers.size(); ++h) P.kinds.push_back(gate.kind_of(h));
    std::int64_t off = 0, macs = 1;
    for (const auto& l : net.layers) macs += l.n_out * l.n_in;
    while (P.poll_mask < 4095 && static_cast<std::int64_t>(2 * (P.poll_mask + 1)) * macs <= 1'000'000)
        P.poll_mask = 2 * P.poll_mask + 1;
    for (const auto& l : net.layers) {
        Plan::Layer pl;
        pl.W.assign(l.W, l.W + l.n_out * l.n_in);
        if (l.b) pl.b.assign(l.b, l.b + l.n_out);
        pl.n_out = l.n_out;
        pl.n_in = l.n_in;
        pl.offset = off;
        pl.f = l.f;
        pl.sources = net.sources_of(static_cast<std::int64_t>(P.layers.size()));
        off += l.n_out;
        P.layers.push_back(std::move(pl));
    }
    P.receivers = net.receivers();
    for (std::size_t h = 0; h < net.layers.size(); ++h) P.n_src.push_back(net.n_source(static_cast<std::int64_t>(h)));
    const auto sites = detail::all_sites(net, gate);
    // Top layer first, so that the gates flipped most often are those with the least
    // network above them.
    for (auto it = sites.rbegin(); it != sites.rend(); ++it) {
        if (it->p > 0.0 && it->p < 1.0)
            P.free.push_back(*it);
        else
            P.fixed.push_back(*it);
    }
    P.block_log2 = std::min<int>(kBlockLog2, static_cast<int>(P.free.size()));
    P.low_prob = detail::pattern_probabilities(P.free, P.block_log2);
    P.pairs = pairs;
    P.pairs_at.resize(net.layers.size());
    auto layer_of = [&](std::int64_t u) {
        std::size_t h = 0;
        while (u >= P.layers[h].offset + P.layers[h].n_out) ++h;
        return h;
    };
    for (std::size_t k = 0; k < pairs.size(); ++k)
        P.pairs_at[std::max(layer_of(pairs[k].a), layer_of(pairs[k].b))].push_back(static_cast<std::int64_t>(k));
    return P;
}

template <class T>
void validate(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
              const EnumerateOptions& opt) {
    net.validate();
    gate.validate(net);
    if (gate.any_spiking())
        throw std::invalid_argument("enumerate: spiking gates are not enumerated (their coins depend on the outputs); "
                                    "use sample");
    if (gate.any_gaussian())
        throw std::invalid_argument("enumerate: Gaussian noise is continuous, there are no subnetworks to enumerate; "
                                    "use sample (or linear_moments for linear networks)");
    if (n_rows < 0) throw std::invalid_argument("enumerate: the number of inputs must be >= 0");
    for (std::int64_t k = 0; k < n_rows * net.n_inputs(); ++k)
        if (!std::isfinite(X[k])) throw std::invalid_argument("enumerate: inputs must be finite");
    const std::int64_t nu = net.n_units();
    for (const auto& p : opt.pairs)
        if (p.a < 0 || p.a >= nu || p.b < 0 || p.b >= nu)
            throw std::invalid_argument("enumerate: pair unit index out of range [0, " + std::to_string(nu) + ")");
    if (opt.max_log2 < 0 || opt.max_log2 > 62) throw std::invalid_argument("enumerate: max_log2 must be in [0, 62]");
    const std::int64_t n = free_gates(net, gate);
    if (n > opt.max_log2)
        throw std::invalid_argument("enumerate: " + std::to_string(n) + " free gates give 2^" + std::to_string(n) +
                                    " subnetworks, above the limit of 2^" + std::to_string(opt.max_log2) +
                                    "; raise the limit or use sampling");
    const std::int64_t most = max_parts(net, gate);
    if (opt.n_parts < 1 || opt.n_parts > most || (opt.n_parts & (opt.n_parts - 1)) != 0)
        throw std::invalid_argument("enumerate: n_parts must be a power of two in [1, " + std::to_string(most) + "]");
    if (opt.part < 0 || opt.part >= opt.n_parts)
        throw std::invalid_argument("enumerate: part must be in [0, n_parts)");
}

}  // namespace

template <class T>
std::int64_t free_gates(const NetworkView<T>& net, const Gate& gate) {
    std::int64_t n = 0;
    for (const auto& s : detail::all_sites(net, gate)) n += (s.p > 0.0 && s.p < 1.0);
    return n;
}

template <class T>
std::int64_t max_parts(const NetworkView<T>& net, const Gate& gate) {
    // Saturates at 2^62: no enumeration that can run has more parts (max_log2 <= 62).
    const std::int64_t n = free_gates(net, gate);
    return std::int64_t{1} << std::clamp<std::int64_t>(n - kPartsLog2Offset, 0, 62);
}

template <class T>
SampleStats enumerate(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                      const EnumerateOptions& opt) {
    validate(net, gate, X, n_rows, opt);
    const int threads = detail::resolve_threads(opt.threads);
    SampleStats out;
    if (n_rows == 0) return SampleStats(0, net.n_units(), opt.pairs);
    if (opt.allow_halves && detail::enumerate_halves(net, gate, X, n_rows, opt, out)) return out;

    const Plan P = make_plan(net, gate, opt.pairs);
    const std::int64_t n_in = net.n_inputs();
    std::vector<double> Xd(X, X + n_rows * n_in);
    const std::int64_t n_blocks = std::int64_t{1} << (static_cast<int>(P.free.size()) - P.block_log2);
    const auto [first, count] = detail::part_range(n_blocks, opt);
    std::vector<std::unique_ptr<Walker>> walkers(static_cast<std::size_t>(threads));
    return detail::run_blocks(n_rows, first, count, net.n_units(), opt.pairs, threads, opt.interrupted,
                              [&](int tid, std::int64_t x, std::int64_t blk, const RowRef& r) {
                                  auto& w = walkers[static_cast<std::size_t>(tid)];
                                  if (!w) w = std::make_unique<Walker>(P);
                                  w->run(Xd.data() + x * n_in, blk, r);
                              });
}

template std::int64_t max_parts<float>(const NetworkView<float>&, const Gate&);
template std::int64_t max_parts<double>(const NetworkView<double>&, const Gate&);
template std::int64_t free_gates<float>(const NetworkView<float>&, const Gate&);
template std::int64_t free_gates<double>(const NetworkView<double>&, const Gate&);
template SampleStats enumerate<float>(const NetworkView<float>&, const Gate&, const float*, std::int64_t,
                                      const EnumerateOptions&);
template SampleStats enumerate<double>(const NetworkView<double>&, const Gate&, const double*, std::int64_t,
                                       const EnumerateOptions&);
template std::vector<detail::Site> detail::all_sites<float>(const NetworkView<float>&, const Gate&);
template std::vector<detail::Site> detail::all_sites<double>(const NetworkView<double>&, const Gate&);

}  // namespace dropengine
