// Monte Carlo sampling of dropout subnetworks (Sections 5, 9; Eq. 22, 23, 49) with
// streaming statistics (Eq. 35-37, 220): the block driver. See sampler.h for the
// execution model and sampler_detail.h for the other parts (plans, gates, spikes).
#include "dropengine/sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "dropengine/rng_streams.h"
#include "sampler_detail.h"
#include "spiking_checks.h"

namespace dropengine {
namespace detail::sampling {
namespace {

/// Block sums of one sample row. Elementwise, so vectorizing changes no bit.
template <class T>
void add_sums(const T* __restrict O, const T* __restrict S, const double* __restrict lo, const double* __restrict loc,
              const double* __restrict d, double* __restrict mean, double* __restrict mS, double* __restrict sl,
              double* __restrict slc, double* __restrict md, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
        mean[i] += static_cast<double>(O[i]);
        mS[i] += static_cast<double>(S[i]);
        sl[i] += lo[i];
        slc[i] += loc[i];
        md[i] += d[i];
    }
}

}  // namespace

template <class T>
SampleStats Sampler<T>::run() {
    const std::int64_t B = kBlockSamples;
    const auto n = static_cast<std::int64_t>(opt_.n_samples);
    const std::int64_t nb = (n + B - 1) / B;
    const int threads = resolve_threads(opt_.threads);
    // About 16 B x max_in_ bytes + the layers' outputs per thread: refuse a thread
    // count whose workspaces exceed memory before allocating any.
    std::int64_t outs = 0;
    for (const auto& l : net_.layers) outs += l.n_out;
    const double per_thread = static_cast<double>(kBlockSamples) *
                              (static_cast<double>(max_in_) * (3 * sizeof(T) + 20) + static_cast<double>(outs + max_pad_) * sizeof(T));
    require_memory(per_thread * threads, "threads (" + std::to_string(threads) + " sampler workspaces)");
    std::vector<Workspace<T>> ws(static_cast<std::size_t>(threads));
    for (auto& w : ws) init_workspace(w);
    return run_blocks(n_rows_, 0, nb, n_stats_, opt_.pairs, threads, opt_.interrupted,
                              [&](int tid, std::int64_t x, std::int64_t blk, const RowRef& r) {
                                  run_block(ws[static_cast<std::size_t>(tid)], x, blk * B,
                                            std::min(B, n - blk * B), r);
                              });
}

template <class T>
void Sampler<T>::init_workspace(Workspace<T>& w) const {
    const std::int64_t B = kBlockSamples;
    const std::int64_t nkb = (max_in_ + kSlabRows - 1) / kSlabRows;
    w.act.assign(static_cast<std::size_t>(B * max_in_), T(0));
    w.S.assign(static_cast<std::size_t>(B * max_pad_), T(0));
    w.O.resize(net_.layers.size());
    for (std::size_t h = 0; h < net_.layers.size(); ++h)
        w.O[h].assign(static_cast<std::size_t>(B * net_.layers[h].n_out), T(0));
    w.logO.assign(static_cast<std::size_t>(max_pad_), 0.0);
    w.logOc.assign(static_cast<std::size_t>(max_pad_), 0.0);
    w.dO.assign(static_cast<std::size_t>(max_pad_), 0.0);
    w.idx.assign(static_cast<std::size_t>(B * max_in_ + B * (nkb + 1)), 0);
    w.val.assign(static_cast<std::size_t>(B * max_in_), T(0));
    if (opt_.bf16) w.val2.assign(static_cast<std::size_t>(B * n_pairs(max_in_)), 0u);
    // A row's words: one per unit or connection, two per Gaussian draw, 16 blocks of slack.
    w.words.assign(static_cast<std::size_t>(4 * ((gate_.any_gaussian() ? max_in_ / 2 : max_in_ / 4) + 2 + 16)), 0u);
    w.thr.assign(static_cast<std::size_t>(B * max_in_), 0u);
    w.th8.assign(static_cast<std::size_t>(B * th8_stride(max_in_)), 0u);
    w.ties.reserve(max_in_);
    w.gated.assign(static_cast<std::size_t>(B * max_in_), 0.0);
}

/// Propagates samples [s0, s0 + b) of input x and writes their block statistics.
template <class T>
void Sampler<T>::run_block(Workspace<T>& w, std::int64_t x, std::int64_t s0, std::int64_t b, const RowRef& out) const {
    const std::uint64_t gx = opt_.first_input + static_cast<std::uint64_t>(x);
    const std::uint64_t gs0 = opt_.first_sample + static_cast<std::uint64_t>(s0);
    *out.count = static_cast<double>(b);
    for (std::size_t h = 0; h < net_.layers.size(); ++h) {
        const auto& l = net_.layers[h];
        const auto& pl = plans_[h];
        const std::int64_t ni = l.n_in, no = l.n_out;
        // Connection-specific spikes read their inputs (the coins' probabilities) in place
        // when they are one layer's outputs, else from their concatenation in w.act.
        const bool spike_connections = gate_.kind_of(h) == GateKind::SpikesConnections && pl.gated;
        const bool in_place = spike_connections && sources_[h].size() == 1;
        const auto [in0, in_stride] =
            in_place ? source_rows(w, sources_[h][0].layer, x) : std::pair<const T*, std::int64_t>{w.act.data(), ni};
        // 1. Inputs of layer h for each sample.
        if (!in_place) layer_inputs(w, h, x, gx, gs0, b);
        const bool per_connection = gate_.per_connection(h) && pl.gated;
        if (opt_.input_stats && !per_connection)
            for (std::int64_t k = 0; k < b * ni; ++k) w.gated[static_cast<std::size_t>(k)] = static_cast<double>(w.act[static_cast<std::size_t>(k)]);
        // 2. Sums S (Eq. 13/14 with Eq. 9 for the bias; Eq. 128/129 for spikes).
        const std::int64_t ldS = row_stride_of<T>(no);
        if (spike_connections)
            spike_connection_sums(w, l, pl, h, gx, gs0, b, ldS, in0, in_stride);
        else if (per_connection && gate_.gaussian(h))
            gaussian_connection_sums(w, l, pl, h, gx, gs0, b, ldS);
        else if (per_connection)
            connection_sums(w, l, pl, h, gx, gs0, b, ldS);
        else
            sums_dense(w, pl, b, ni, no, ldS);
        if (l.b) add_bias(w, l, pl, h, gx, gs0, b, ldS);
        if (opt_.input_stats) input_statistics(w, out, pl.in_offset, b, ni);
        // 3. Outputs and their block statistics (two passes: sums, then squared deviations).
        const std::int64_t off = net_.unit_offset(static_cast<std::int64_t>(h));
        double* mean = out.field[0] + off;
        double* m2 = out.field[1] + off;
        double* sl = out.field[2] + off;
        double* slc = out.field[3] + off;
        double* mS = out.field[4] + off;
        double* m2S = out.field[5] + off;
        double* md = out.field[6] + off;
        for (std::int64_t s = 0; s < b; ++s) {
            const T* Srow = w.S.data() + s * ldS;
            T* Orow = w.O[h].data() + s * no;
            if (l.f.kind == TransferKind::Logistic && l.f.c > 0) {  // fused
                if constexpr (std::is_same_v<T, float>)
                    kern_.logistic_sums(Srow, Orow, no, static_cast<float>(l.f.lam),
                                        static_cast<float>(std::log(l.f.c)), mean, mS, sl, slc, md);
                else
                    kern_.logistic_sums64(Srow, Orow, no, l.f.lam, std::log(l.f.c), mean, mS, sl, slc, md);
                continue;
            }
            apply_transfer(l.f, Srow, Orow, w.logO.data(), w.logOc.data(), w.dO.data(), no);
            add_sums(Orow, Srow, w.logO.data(), w.logOc.data(), w.dO.data(), mean, mS, sl, slc, md, no);
        }
        const double inv = 1.0 / static_cast<double>(b);
        for (std::int64_t i = 0; i < no; ++i) { mean[i] *= inv; mS[i] *= inv; md[i] *= inv; }
        for (std::int64_t s = 0; s < b; ++s)
            kern_.square_sums(w.O[h].data() + s * no, w.S.data() + s * ldS, mean, mS, m2, m2S, no);
        record(w, h, x, s0, b);
    }
    pair_comoments(w, out, b);
}

/// S = act W^T over the nonzero inputs (Eq. 13 with the gates applied to act), in the
/// network's precision or, opted in, in bfloat16 with float32 sums.
template <class T>
void Sampler<T>::sums_dense(Workspace<T>& w, const LayerPlan<T>& pl, std::int64_t b, std::int64_t ni,
                            std::int64_t no, std::int64_t ldS) const {
    if constexpr (std::is_same_v<T, float>) {
        if (pl.bf16) {
            kern_.matmul_bf16(w.act.data(), b, ni, pl.Wp2.data(), no, w.S.data(), ldS, w.idx.data(), w.val2.data());
            return;
        }
    }
    kern_.matmul_skip(w.act.data(), b, ni, pl.Wp.data(), no, w.S.data(), ldS, w.idx.data(), w.val.data());
}

/// Row s of source layer l for sample s of input x: (first row, rows' stride); the
/// network input is the same row for every sample.
template <class T>
std::pair<const T*, std::int64_t> Sampler<T>::source_rows(const Workspace<T>& w, std::int64_t l, std::int64_t x) const {
    if (l == 0) return {X_ + x * net_.n_inputs(), 0};
    return {w.O[static_cast<std::size_t>(l - 1)].data(), net_.n_source(l)};
}

/// Row s of w.act: layer h's input blocks side by side (network.h), each gated with the
/// coins of its source layer on units (Eq. 22), by dropin or by spikes (Eq. 125), so a
/// unit feeding several layers is kept or dropped in all of them; connection gates
/// (Eq. 23) take the blocks as they are.
template <class T>
void Sampler<T>::layer_inputs(Workspace<T>& w, std::size_t h, std::int64_t x, std::uint64_t gx, std::uint64_t gs0,
                              std::int64_t b) const {
    const std::int64_t ld = net_.layers[h].n_in;
    for (const Source& src : sources_[h]) {
        const auto [in0, in_stride] = source_rows(w, src.layer, x);
        const auto l = static_cast<std::size_t>(src.layer);
        const bool gated = gate_.per_unit(l) && plans_[l].gated;
        if (gated && gate_.gaussian(l))
            gaussian_units(w, plans_[l], l, gx, gs0, b, in0, in_stride, src.n, src.offset, ld);
        else if (gated && gate_.kind_of(l) == GateKind::Spikes)
            spike_units(w, plans_[l], l, gx, gs0, b, in0, in_stride, src.n, src.offset, ld);
        else if (gated)
            gate_units(w, plans_[l], l, gx, gs0, b, in0, in_stride, src.n, src.offset, ld);
        else
            for (std::int64_t s = 0; s < b; ++s)
                std::copy(in0 + s * in_stride, in0 + s * in_stride + src.n, w.act.data() + s * ld + src.offset);
    }
}

/// Block mean and squared deviations of the gated inputs (w.gated, b x ni).
template <class T>
void Sampler<T>::input_statistics(const Workspace<T>& w, const RowRef& out, std::int64_t off, std::int64_t b,
                                   std::int64_t ni) {
    double* mean = out.field[0] + off;
    double* m2 = out.field[1] + off;
    for (std::int64_t s = 0; s < b; ++s)
        for (std::int64_t j = 0; j < ni; ++j) mean[j] += w.gated[static_cast<std::size_t>(s * ni + j)];
    for (std::int64_t j = 0; j < ni; ++j) mean[j] /= static_cast<double>(b);
    for (std::int64_t s = 0; s < b; ++s)
        for (std::int64_t j = 0; j < ni; ++j) {
            const double d = w.gated[static_cast<std::size_t>(s * ni + j)] - mean[j];
            m2[j] += d * d;
        }
}

/// Biases (Eq. 9): one gate per layer and sample for unit dropout, one per unit for
/// connection dropout, none otherwise.
template <class T>
void Sampler<T>::add_bias(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx,
                          std::uint64_t gs0, std::int64_t b, std::int64_t ldS) const {
    const bool gated = pl.bias_thr < (std::uint64_t{1} << 32);
    for (std::int64_t s = 0; s < b; ++s) {
        T* S = w.S.data() + s * ldS;
        const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::BiasGate,
                                             static_cast<std::uint32_t>(h), gx, gs0 + s);
        if (gated && gate_.kind_of(h) == GateKind::Units && !(site.word(0) < pl.bias_thr)) continue;
        for (std::int64_t i = 0; i < l.n_out; ++i) {
            if (gated && gate_.kind_of(h) == GateKind::Connections && !(site.word(static_cast<std::uint64_t>(i)) < pl.bias_thr))
                continue;
            S[i] += l.b[i];
        }
    }
}

template <class T>
void Sampler<T>::record(const Workspace<T>& w, std::size_t h, std::int64_t x, std::int64_t s0, std::int64_t b) const {
    for (std::size_t r = 0; r < opt_.record_layers.size(); ++r) {
        if (opt_.record_layers[r] != static_cast<std::int64_t>(h)) continue;
        const std::int64_t no = net_.layers[h].n_out;
        T* dst = static_cast<T*>(opt_.record_out[r]) +
                 (x * static_cast<std::int64_t>(opt_.n_samples) + s0) * no;
        std::copy(w.O[h].data(), w.O[h].data() + b * no, dst);
    }
}

template <class T>
void Sampler<T>::pair_comoments(const Workspace<T>& w, const RowRef& out, std::int64_t b) const {
    for (std::size_t k = 0; k < opt_.pairs.size(); ++k) {
        const auto [ha, ia] = locate(opt_.pairs[k].a);
        const auto [hb, ib] = locate(opt_.pairs[k].b);
        const double ma = out.field[0][opt_.pairs[k].a], mb = out.field[0][opt_.pairs[k].b];
        const std::int64_t na = net_.layers[ha].n_out, nbw = net_.layers[hb].n_out;
        double c = 0.0;
        for (std::int64_t s = 0; s < b; ++s)
            c += (static_cast<double>(w.O[ha][static_cast<std::size_t>(s * na + ia)]) - ma) *
                 (static_cast<double>(w.O[hb][static_cast<std::size_t>(s * nbw + ib)]) - mb);
        out.comoment[k] = c;
    }
}

template <class T>
std::pair<std::size_t, std::int64_t> Sampler<T>::locate(std::int64_t u) const {
    std::size_t h = 0;
    while (u >= net_.layers[h].n_out) u -= net_.layers[h++].n_out;
    return {h, u};
}

template SampleStats Sampler<float>::run();
template SampleStats Sampler<double>::run();

}  // namespace detail::sampling

template <class T>
SampleStats sample(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                   const SampleOptions& opt) {
    net.validate();
    gate.validate(net);
    if (n_rows < 0) throw std::invalid_argument("sample: the number of inputs must be >= 0");
    if (opt.n_samples < 1) throw std::invalid_argument("sample: n_samples must be >= 1");
    if (opt.first_sample + opt.n_samples > (std::uint64_t{1} << 48))
        throw std::invalid_argument("sample: sample indices must stay below 2^48");
    if (opt.first_input + static_cast<std::uint64_t>(n_rows) > (std::uint64_t{1} << 32))
        throw std::invalid_argument("sample: input indices must stay below 2^32");
    // The block driver counts jobs (inputs x blocks) in 64 bits: 2^32 x 2^42 would wrap.
    const std::uint64_t blocks = (opt.n_samples + kBlockSamples - 1) / kBlockSamples;
    if (n_rows > 0 && blocks > (std::uint64_t{1} << 60) / static_cast<std::uint64_t>(n_rows))
        throw std::invalid_argument("sample: n_inputs x n_samples is too large (more than 2^60 blocks of " +
                                    std::to_string(kBlockSamples) + " samples)");
    for (std::int64_t k = 0; k < n_rows * net.n_inputs(); ++k)
        if (!std::isfinite(X[k])) throw std::invalid_argument("sample: inputs must be finite");
    const std::int64_t nu = net.n_units();
    for (const auto& p : opt.pairs)
        if (p.a < 0 || p.a >= nu || p.b < 0 || p.b >= nu)
            throw std::invalid_argument("sample: pair unit index out of range [0, " + std::to_string(nu) + ")");
    if (opt.record_layers.size() != opt.record_out.size())
        throw std::invalid_argument("sample: one output buffer per recorded layer is required");
    for (std::int64_t h : opt.record_layers)
        if (h < 0 || h >= net.n_layers()) throw std::invalid_argument("sample: recorded layer out of range");
    if (gate.any_spiking()) detail::check_spiking(net, gate, X, n_rows, "sample");
    if (opt.bf16 && !std::is_same_v<T, float>)
        throw std::invalid_argument("sample: precision bf16 needs a float32 network (the weights round to bfloat16 "
                                    "from float32)");
    // The input statistics are accumulated as extra columns after the units, then split off.
    std::int64_t n_stats = nu;
    std::vector<std::int64_t> n_in;
    for (const auto& l : net.layers) n_in.push_back(l.n_in);
    if (opt.input_stats)
        for (const std::int64_t n : n_in) n_stats += n;
    SampleStats all =
        n_rows == 0 ? SampleStats(0, n_stats, opt.pairs) : detail::sampling::Sampler<T>(net, gate, X, n_rows, opt).run();
    if (!opt.input_stats) return all;
    return detail::split_input_stats(std::move(all), nu, n_in);
}

template SampleStats sample<float>(const NetworkView<float>&, const Gate&, const float*, std::int64_t, const SampleOptions&);
template SampleStats sample<double>(const NetworkView<double>&, const Gate&, const double*, std::int64_t, const SampleOptions&);

}  // namespace dropengine
