// Asynchronous stochastic spiking networks (Section 10.1; see spiking.h).
#include "dropengine/spiking.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "dropengine/rng_streams.h"
#include "reduce.h"
#include "spiking_checks.h"

namespace dropengine {
namespace {

using detail::RowRef;

constexpr std::uint32_t kChoiceLayer = 255;

/// One input's chain: the state of every neuron and of the signals between layers.
template <class T>
class Chain {
public:
    Chain(const NetworkView<T>& net, const Gate& gate, const AsyncOptions& opt, std::uint64_t input)
        : net_(net), gate_(gate), opt_(opt), input_(input) {
        const auto L = net.layers.size();
        S_.resize(L); O_.resize(L); in_.resize(L); held_.resize(L); since_.resize(L);
        for (std::size_t h = 0; h < L; ++h) {
            const auto& l = net.layers[h];
            S_[h].assign(static_cast<std::size_t>(l.n_out), 0.0);
            O_[h].assign(static_cast<std::size_t>(l.n_out), 0.0);
            since_[h].assign(static_cast<std::size_t>(l.n_out), 0);
            // What layer h sees of its inputs: one value per unit, or per connection.
            const bool per_conn = gate.kind == GateKind::SpikesConnections && !gate.p[h].empty();
            in_[h].assign(static_cast<std::size_t>(per_conn ? l.n_out * l.n_in : l.n_in), 0.0);
            held_[h].assign(static_cast<std::size_t>(l.n_in), 0);
            offset_.push_back(n_units_);
            n_units_ += l.n_out;
        }
        receivers_ = net.receivers();  // skip connections (network.h): where each source's signals go
        // The signal statistics (input_stats) follow the units, layer by layer.
        std::int64_t u = n_units_;
        for (const auto& l : net.layers) {
            signal_offset_.push_back(u);
            u += l.n_in;
        }
        wsum_.assign(static_cast<std::size_t>(opt.input_stats ? u : n_units_), 0.0);
    }

    void run(const T* x, const RowRef& out) {
        const auto L = net_.layers.size();
        // Step 0: a synchronous pass sets every state.
        for (std::size_t h = 0; h < L; ++h) {
            const auto& l = net_.layers[h];
            if (h == 0) set_inputs_from_network_input(x);
            for (std::int64_t i = 0; i < l.n_out; ++i) update_sum(h, i);
            for (std::int64_t i = 0; i < l.n_out; ++i) send(h, i, 0);
        }
        const std::uint64_t start = opt_.burn_in, end = opt_.burn_in + opt_.n_steps;
        for (auto& v : since_) std::fill(v.begin(), v.end(), start);
        for (auto& v : held_) std::fill(v.begin(), v.end(), start);
        const DrawSite pick_site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::AsyncSpike, kChoiceLayer, input_, 0);
        for (std::uint64_t t = 1; t <= end; ++t) {
            // One input's chain is one job, as long as the caller asks: poll for Ctrl-C.
            if ((t & 4095) == 0 && detail::job_cancelled()) return;
            DrawSite site = pick_site;
            site.c1 = static_cast<std::uint32_t>(t);
            site.c3 = (site.c3 & 0xFFFF0000u) | static_cast<std::uint32_t>((t >> 32) & 0xFFFFu);
            const std::uint64_t k = (static_cast<std::uint64_t>(site.word(0)) * static_cast<std::uint64_t>(n_units_)) >> 32;
            std::size_t h = 0;
            while (static_cast<std::int64_t>(k) >= offset_[h] + net_.layers[h].n_out) ++h;
            const std::int64_t i = static_cast<std::int64_t>(k) - offset_[h];
            const std::uint64_t now = std::max(t, start);
            fold_unit(out, h, i, now);
            fold_sent(out, h + 1, i, now);
            update_sum(h, i);
            send(h, i, t);
        }
        for (std::size_t h = 0; h < L; ++h) {
            for (std::int64_t i = 0; i < net_.layers[h].n_out; ++i) {
                fold_unit(out, h, i, end);
                fold_sent(out, h + 1, i, end);
            }
            if (h == 0)
                for (std::int64_t j = 0; j < net_.n_inputs(); ++j) fold_sent(out, 0, j, end);
        }
        *out.count = static_cast<double>(opt_.n_steps);
    }

private:
    /// Global spikes are set per source layer l, connection-specific ones per receiving
    /// layer h (gate.h).
    bool spiking(std::size_t h, std::size_t l) const {
        return !gate_.p[gate_.kind == GateKind::Spikes ? l : h].empty();
    }

    /// r of connection (i, column c) of layer h; j: the unit within its source layer l.
    double r_of(std::size_t h, std::size_t l, std::int64_t i, std::int64_t c, std::int64_t j) const {
        if (gate_.kind == GateKind::Spikes) {
            const auto& r = gate_.p[l];
            return r.size() == 1 ? r[0] : r[static_cast<std::size_t>(j)];
        }
        const auto& r = gate_.p[h];
        const auto ni = net_.layers[h].n_in;
        if (r.size() == 1) return r[0];
        if (r.size() == static_cast<std::size_t>(ni)) return r[static_cast<std::size_t>(c)];
        return r[static_cast<std::size_t>(i * ni + c)];
    }

    bool coin(std::size_t layer, std::uint64_t element, std::uint64_t t, double O) const {
        const DrawSite s = DrawSite::make(opt_.key[0], opt_.key[1], Stream::AsyncSpike,
                                          static_cast<std::uint32_t>(layer), input_, t);
        return s.word(element) < keep_threshold(O);
    }

    /// The network input seen by the layers it feeds (spiking inputs draw their spikes once).
    void set_inputs_from_network_input(const T* x) {
        for (std::int64_t j = 0; j < net_.n_inputs(); ++j) send_value(0, j, static_cast<double>(x[j]), 0);
    }

    /// Unit j of source layer l sends v at step t into every layer it feeds.
    void send_value(std::size_t l, std::int64_t j, double v, std::uint64_t t) {
        for (const auto& [h, off] : receivers_[l]) set_signal(h, l, off + j, j, v, t);
    }

    /// The value unit j of source layer l sends into column c of layer h: passed, or
    /// spiked (one coin, addressed by the source so every receiver sees it, or one per
    /// connection, addressed by the receiving layer).
    void set_signal(std::size_t h, std::size_t l, std::int64_t c, std::int64_t j, double v, std::uint64_t t) {
        const auto& lay = net_.layers[h];
        if (!spiking(h, l)) {
            in_[h][static_cast<std::size_t>(c)] = v;
        } else if (gate_.kind == GateKind::Spikes) {
            in_[h][static_cast<std::size_t>(c)] = coin(l, static_cast<std::uint64_t>(j), t, v) ? r_of(h, l, 0, c, j) : 0.0;
        } else {
            for (std::int64_t i = 0; i < lay.n_out; ++i) {
                const std::uint64_t e = static_cast<std::uint64_t>(i * lay.n_in + c);
                in_[h][e] = coin(h, e, t, v) ? r_of(h, l, i, c, j) : 0.0;
            }
        }
    }

    void update_sum(std::size_t h, std::int64_t i) {
        const auto& l = net_.layers[h];
        const bool per_conn = in_[h].size() != static_cast<std::size_t>(l.n_in);
        const T* Wi = l.W + i * l.n_in;
        const double* v = in_[h].data() + (per_conn ? i * l.n_in : 0);
        double s = l.b ? static_cast<double>(l.b[i]) : 0.0;
        for (std::int64_t j = 0; j < l.n_in; ++j) s += static_cast<double>(Wi[j]) * v[j];
        S_[h][static_cast<std::size_t>(i)] = s;
        O_[h][static_cast<std::size_t>(i)] = transfer_value(l.f, s);
    }

    /// Neuron i of layer h has updated at step t: its new signal into the layers it feeds
    /// (it is unit i of source layer h + 1).
    void send(std::size_t h, std::int64_t i, std::uint64_t t) {
        if (h + 1 < net_.layers.size()) send_value(h + 1, i, O_[h][static_cast<std::size_t>(i)], t);
    }

    /// fold_signal for every column unit j of source layer l occupies.
    void fold_sent(const RowRef& out, std::size_t l, std::int64_t j, std::uint64_t now) {
        if (l >= receivers_.size()) return;
        for (const auto& [h, off] : receivers_[l]) fold_signal(out, h, off + j, now);
    }

    /// Time-weighted statistics of neuron (h, i) for the steps since its last update.
    void fold_unit(const RowRef& out, std::size_t h, std::int64_t i, std::uint64_t now) {
        auto& since = since_[h][static_cast<std::size_t>(i)];
        if (now <= since) return;
        const double w = static_cast<double>(now - since);
        const std::int64_t u = offset_[h] + i;
        wsum_[u] += w;
        const double O = O_[h][static_cast<std::size_t>(i)], S = S_[h][static_cast<std::size_t>(i)];
        double o, lo, loc, d;  // log O and log(1 - O) from S (precise at saturation), f'(S)
        apply_transfer<double>(net_.layers[h].f, &S, &o, &lo, &loc, &d, 1);
        detail::welford_unit(out, u, w, w / wsum_[u], O, S, lo, loc, d);
        since = now;
    }

    /// Time-weighted statistics of the signal unit j sends into layer h.
    void fold_signal(const RowRef& out, std::size_t h, std::int64_t j, std::uint64_t now) {
        if (!opt_.input_stats) return;
        auto& since = held_[h][static_cast<std::size_t>(j)];
        if (now <= since) return;
        const auto& l = net_.layers[h];
        double v = in_[h][static_cast<std::size_t>(j)];
        if (in_[h].size() != static_cast<std::size_t>(l.n_in)) {  // mean over the outgoing connections
            v = 0.0;
            for (std::int64_t i = 0; i < l.n_out; ++i) v += in_[h][static_cast<std::size_t>(i * l.n_in + j)];
            v /= static_cast<double>(l.n_out);
        }
        const std::int64_t u = signal_offset_[h] + j;
        const double w = static_cast<double>(now - since);
        wsum_[u] += w;
        const double r = w / wsum_[u], d = v - out.field[0][u];
        out.field[0][u] += r * d;
        out.field[1][u] += w * d * (v - out.field[0][u]);
        since = now;
    }


    const NetworkView<T>& net_;
    const Gate& gate_;
    const AsyncOptions& opt_;
    std::uint64_t input_;
    std::vector<std::vector<double>> S_, O_, in_;
    std::vector<std::vector<std::uint64_t>> held_, since_;
    std::vector<std::int64_t> offset_, signal_offset_;
    std::vector<std::vector<std::pair<std::size_t, std::int64_t>>> receivers_;  // per source: (layer, column)
    std::int64_t n_units_ = 0;
    std::vector<double> wsum_;  // per statistics unit: weight folded so far
};

}  // namespace

template <class T>
SampleStats sample_async(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                         const AsyncOptions& opt) {
    net.validate();
    gate.validate(net);
    if (!gate.any_spiking()) throw std::invalid_argument("sample_async: the gate must be Spikes");
    for (std::size_t h = 0; h < net.layers.size(); ++h)
        if (net.layers[h].f.kind == TransferKind::Softmax)
            throw std::invalid_argument("sample_async: layer " + std::to_string(h) +
                                        " is softmax; asynchronous updates need elementwise transfer functions");
    if (opt.n_steps < 1) throw std::invalid_argument("sample_async: n_steps must be >= 1");
    if (opt.burn_in + opt.n_steps >= (std::uint64_t{1} << 48))
        throw std::invalid_argument("sample_async: burn_in + n_steps must stay below 2^48");
    for (std::int64_t k = 0; k < n_rows * net.n_inputs(); ++k)
        if (!std::isfinite(X[k])) throw std::invalid_argument("sample_async: inputs must be finite");
    detail::check_spiking(net, gate, X, n_rows, "sample_async");
    // The signal statistics are accumulated as extra columns after the units, then split off.
    std::int64_t n_stats = net.n_units();
    std::vector<std::int64_t> n_in;
    for (const auto& l : net.layers) n_in.push_back(l.n_in);
    if (opt.input_stats)
        for (const std::int64_t n : n_in) n_stats += n;
    // One chain per input, each a single "block" of the shared driver: chains run in
    // parallel and Ctrl-C is seen between rounds of them.
    SampleStats all = detail::run_blocks(n_rows, 0, 1, n_stats, {}, detail::resolve_threads(opt.threads), opt.interrupted,
                              [&](int, std::int64_t x, std::int64_t, const RowRef& r) {
                                  Chain<T> c(net, gate, opt, opt.first_input + static_cast<std::uint64_t>(x));
                                  c.run(X + x * net.n_inputs(), r);
                              });
    if (!opt.input_stats) return all;
    return detail::split_input_stats(std::move(all), net.n_units(), n_in);
}

template SampleStats sample_async<float>(const NetworkView<float>&, const Gate&, const float*, std::int64_t,
                                         const AsyncOptions&);
template SampleStats sample_async<double>(const NetworkView<double>&, const Gate&, const double*, std::int64_t,
                                          const AsyncOptions&);

}  // namespace dropengine
