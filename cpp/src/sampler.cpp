// Monte Carlo sampling of dropout subnetworks (Sections 5, 9; Eq. 22, 23, 49) with
// streaming statistics (Eq. 35-37, 220). See sampler.h for the execution model.
#include "dropengine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "dropengine/rng_streams.h"
#include "kernels/kernels.h"
#include "pack.h"
#include "reduce.h"
#include "spiking_checks.h"

// Connection gates and spikes read 16-bit halves and bytes of Philox words in memory order.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dropengine: the spike stream layout assumes little endian");

namespace dropengine {
namespace {

using detail::kFields;
using detail::RowRef;

/// a[j] = 0 where words[j] >= t (unit dropout with one keep threshold t < 2^32). Branch-
/// free so it vectorizes: the keep decisions are random, a branch would mispredict.
template <class T>
void mask_below(T* __restrict a, const std::uint32_t* __restrict words, std::uint32_t t, std::int64_t n) {
    for (std::int64_t j = 0; j < n; ++j) a[j] = words[j] < t ? a[j] : T(0);
}

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

/// Row stride of the sums S: whole tiles plus one 64-byte vector, so that the rows of a
/// block do not fall on the same L1 sets (see train_detail.h, padded()).
template <class T>
std::int64_t row_stride_of(std::int64_t n) {
    return detail::n_tiles<T>(n) * detail::kTile<T> + 64 / static_cast<std::int64_t>(sizeof(T));
}

/// Per-layer data prepared once per call.
template <class T>
struct LayerPlan {
    detail::AlignedVector<T> Wp;        // packed W^T (unit dropout, dropin, none)
    std::vector<std::uint64_t> thr;     // per element keep / dropin thresholds (or 1 value)
    std::uint64_t bias_thr = std::uint64_t{1} << 32;
    bool gated = false;                 // draws needed for this layer's gate
    std::vector<double> r;              // spike sizes (per input unit, or per connection)
    std::int64_t r_row = 0;             // connection-specific: r of row i starts at r[i * r_row]
    std::vector<T> WR;                  // W_ij r_ij for connection-specific spikes (unless r = 1)
    const T* wr = nullptr;              // W_ij r_ij: WR, or W itself when every r_ij = 1
    std::int64_t in_offset = 0;         // where this layer's input statistics start
};

/// Ties of connection-specific firing waiting for their 24 extra bits, settled in batches
/// (one scattered Philox word each, 8 per vector): entry k is sample s[k], input j[k].
struct SpikeTies {
    static constexpr std::int64_t kBatch = 256;
    std::vector<std::int32_t> s, j, pos;                  // pos: one kernel call's tie positions
    std::vector<std::uint32_t> c0, c1, c2, c3, word;
    std::vector<std::uint8_t> q;
    std::int64_t n = 0;

    void reserve(std::int64_t max_in) {
        const auto cap = static_cast<std::size_t>(kBatch + max_in);
        for (auto* v : {&s, &j}) v->assign(cap, 0);
        pos.assign(static_cast<std::size_t>(max_in), 0);
        for (auto* v : {&c0, &c1, &c2, &c3, &word}) v->assign(cap, 0u);
        q.assign(cap, 0);
    }
};

/// Scratch of one thread. Whole cache lines of its own: the workspaces sit side by side
/// in one vector, and a counter one thread bumps (ties.n) on a line another thread reads
/// (its buffer pointers) cost up to 15% of the two-thread speed, depending on the heap.
template <class T>
struct alignas(64) Workspace {
    detail::AlignedVector<T> act, S;
    std::vector<detail::AlignedVector<T>> O;  // per layer, B x n_out
    std::vector<double> logO, logOc, dO;
    std::vector<std::int32_t> idx;
    std::vector<T> val;
    detail::AlignedVector<std::uint32_t> words;  // Philox words of one row of connections
    std::vector<std::uint64_t> thr;              // B x n_in spike thresholds of the block's samples
    detail::AlignedVector<std::uint8_t> th8;     // their top 8 bits, rows of th8_stride(n_in)
    SpikeTies ties;                    // pending ties of one row (connection-specific firing)
    std::vector<double> gated;         // B x n_in gated inputs (input statistics)
};

template <class T>
class Sampler {
public:
    Sampler(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows, const SampleOptions& opt)
        : net_(net), gate_(gate), X_(X), n_rows_(n_rows), opt_(opt), kern_(detail::kernels<T>()) {
        const auto L = net.layers.size();
        n_units_ = net.n_units();
        n_stats_ = n_units_;
        plans_.resize(L);
        for (std::size_t h = 0; h < L; ++h) {
            const auto& l = net.layers[h];
            auto& pl = plans_[h];
            const auto& p = gate.kind == GateKind::None ? std::vector<double>{1.0} : gate.p[h];
            pl.in_offset = n_stats_;
            if (opt.input_stats) n_stats_ += l.n_in;
            if (gate.spiking()) {
                // Spike sizes r; the coin of each unit (or connection) is its own output O.
                pl.gated = !p.empty();
                if (gate.kind == GateKind::Spikes && pl.gated) {
                    pl.r.assign(static_cast<std::size_t>(l.n_in), p.size() == 1 ? p[0] : 0.0);
                    if (p.size() != 1) std::copy(p.begin(), p.end(), pl.r.begin());
                }
                if (gate.kind == GateKind::SpikesConnections && pl.gated) {
                    // r_ij as given (1, n_in or n_out * n_in values): a row of r is the
                    // whole vector unless r is per connection. W r is W itself for r = 1,
                    // so the common case copies nothing.
                    const bool per_connection = p.size() == static_cast<std::size_t>(l.n_out * l.n_in) && l.n_out > 1;
                    pl.r_row = per_connection ? l.n_in : 0;
                    pl.r.assign(static_cast<std::size_t>(per_connection ? l.n_out * l.n_in : l.n_in), p.size() == 1 ? p[0] : 0.0);
                    if (p.size() != 1) std::copy(p.begin(), p.end(), pl.r.begin());
                    if (std::all_of(p.begin(), p.end(), [](double v) { return v == 1.0; })) {
                        pl.wr = l.W;
                    } else {
                        pl.WR.resize(static_cast<std::size_t>(l.n_out * l.n_in));
                        for (std::int64_t i = 0; i < l.n_out; ++i)
                            for (std::int64_t j = 0; j < l.n_in; ++j) {
                                const std::size_t e = static_cast<std::size_t>(i * l.n_in + j);
                                pl.WR[e] = static_cast<T>(static_cast<double>(l.W[e]) * pl.r[static_cast<std::size_t>(i * pl.r_row + j)]);
                            }
                        pl.wr = pl.WR.data();
                    }
                }
                if (gate.kind != GateKind::SpikesConnections || !pl.gated)
                    pl.Wp = detail::pack_weights<T>(l.W, l.n_out, l.n_in, [](std::int64_t, std::int64_t) { return 1.0; });
                max_in_ = std::max(max_in_, l.n_in);
                max_pad_ = std::max(max_pad_, row_stride_of<T>(l.n_out));
                continue;
            }
            for (double v : p) pl.thr.push_back(keep_threshold(v));
            if (gate.kind == GateKind::Dropin)
                pl.gated = std::any_of(p.begin(), p.end(), [](double v) { return v > 0; });
            else
                pl.gated = std::any_of(p.begin(), p.end(), [](double v) { return v < 1; });
            if (gate.kind == GateKind::Units || gate.kind == GateKind::Connections)
                pl.bias_thr = keep_threshold(gate.bias_keep(h));
            // An ungated layer (keep 1) of a connection gate takes the plain product.
            if (gate.kind != GateKind::Connections || !pl.gated)
                pl.Wp = detail::pack_weights<T>(l.W, l.n_out, l.n_in, [](std::int64_t, std::int64_t) { return 1.0; });
            max_in_ = std::max(max_in_, l.n_in);
            max_pad_ = std::max(max_pad_, row_stride_of<T>(l.n_out));
        }
    }

    SampleStats run() {
        const std::int64_t B = kBlockSamples;
        const auto n = static_cast<std::int64_t>(opt_.n_samples);
        const std::int64_t nb = (n + B - 1) / B;
        const int threads = detail::resolve_threads(opt_.threads);
        // About 16 B x max_in_ bytes + the layers' outputs per thread: refuse a thread
        // count whose workspaces exceed memory before allocating any.
        std::int64_t outs = 0;
        for (const auto& l : net_.layers) outs += l.n_out;
        const double per_thread = static_cast<double>(kBlockSamples) *
                                  (static_cast<double>(max_in_) * (3 * sizeof(T) + 20) + static_cast<double>(outs + max_pad_) * sizeof(T));
        require_memory(per_thread * threads, "threads (" + std::to_string(threads) + " sampler workspaces)");
        std::vector<Workspace<T>> ws(static_cast<std::size_t>(threads));
        for (auto& w : ws) init_workspace(w);
        return detail::run_blocks(n_rows_, 0, nb, n_stats_, opt_.pairs, threads, opt_.interrupted,
                                  [&](int tid, std::int64_t x, std::int64_t blk, const RowRef& r) {
                                      run_block(ws[static_cast<std::size_t>(tid)], x, blk * B,
                                                std::min(B, n - blk * B), r);
                                  });
    }

private:
    void init_workspace(Workspace<T>& w) const {
        const std::int64_t B = kBlockSamples;
        const std::int64_t nkb = (max_in_ + detail::kSlabRows - 1) / detail::kSlabRows;
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
        w.words.assign(static_cast<std::size_t>(4 * (max_in_ / 4 + 2 + 16)), 0u);
        w.thr.assign(static_cast<std::size_t>(B * max_in_), 0u);
        w.th8.assign(static_cast<std::size_t>(B * th8_stride(max_in_)), 0u);
        w.ties.reserve(max_in_);
        w.gated.assign(static_cast<std::size_t>(B * max_in_), 0.0);
    }

    /// Propagates samples [s0, s0 + b) of input x and writes their block statistics.
    void run_block(Workspace<T>& w, std::int64_t x, std::int64_t s0, std::int64_t b, const RowRef& out) const {
        const std::uint64_t gx = opt_.first_input + static_cast<std::uint64_t>(x);
        const std::uint64_t gs0 = opt_.first_sample + static_cast<std::uint64_t>(s0);
        *out.count = static_cast<double>(b);
        for (std::size_t h = 0; h < net_.layers.size(); ++h) {
            const auto& l = net_.layers[h];
            const auto& pl = plans_[h];
            const std::int64_t ni = l.n_in, no = l.n_out;
            const T* src = h == 0 ? nullptr : w.O[h - 1].data();
            // Connection-specific spikes read their inputs (the coins' probabilities) in place.
            const bool spike_connections = gate_.kind == GateKind::SpikesConnections && pl.gated;
            const T* in0 = h == 0 ? X_ + x * ni : src;
            const std::int64_t in_stride = h == 0 ? 0 : ni;
            // 1. Inputs of layer h for each sample, gated on units (Eq. 22) or dropin.
            for (std::int64_t s = 0; s < b && !spike_connections; ++s) {
                T* a = w.act.data() + s * ni;
                const T* in = h == 0 ? X_ + x * ni : src + s * ni;
                std::copy(in, in + ni, a);
                if (!pl.gated || gate_.kind == GateKind::Connections || gate_.kind == GateKind::SpikesConnections)
                    continue;
                if (gate_.kind == GateKind::Spikes) {
                    spike_units(w, pl, h, gx, gs0 + s, a, ni);
                    continue;
                }
                const Stream st = gate_.kind == GateKind::Dropin ? Stream::Dropin : Stream::UnitGate;
                const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], st, static_cast<std::uint32_t>(h), gx, gs0 + s);
                const bool one = pl.thr.size() == 1;
                // The words of units 0 .. ni-1 (rng_streams.h), 16 Philox counters at a time.
                kern_.philox_fill(0, (ni + 3) / 4, site.c1, site.c2, site.c3, site.k0, site.k1, w.words.data());
                const std::uint32_t* words = w.words.data();
                if (gate_.kind == GateKind::Dropin) {
                    for (std::int64_t j = 0; j < ni; ++j)
                        if (words[j] < pl.thr[one ? 0 : static_cast<std::size_t>(j)]) a[j] = T(1);
                } else if (one) {
                    // keep iff word < t; t = 2^32 keeps all (the layer is not gated then).
                    const std::uint32_t t = static_cast<std::uint32_t>(pl.thr[0]);
                    if (pl.thr[0] < (std::uint64_t{1} << 32)) mask_below(a, words, t, ni);
                } else {
                    for (std::int64_t j = 0; j < ni; ++j) a[j] = words[j] < pl.thr[static_cast<std::size_t>(j)] ? a[j] : T(0);
                }
            }
            const bool per_connection =
                (gate_.kind == GateKind::Connections || gate_.kind == GateKind::SpikesConnections) && pl.gated;
            if (opt_.input_stats && !per_connection)
                for (std::int64_t k = 0; k < b * ni; ++k) w.gated[static_cast<std::size_t>(k)] = static_cast<double>(w.act[static_cast<std::size_t>(k)]);
            // 2. Sums S (Eq. 13/14 with Eq. 9 for the bias; Eq. 128/129 for spikes).
            const std::int64_t ldS = row_stride_of<T>(no);
            if (spike_connections)
                spike_connection_sums(w, l, pl, h, gx, gs0, b, ldS, in0, in_stride);
            else if (per_connection)
                connection_sums(w, l, pl, h, gx, gs0, b, ldS);
            else
                kern_.matmul_skip(w.act.data(), b, ni, pl.Wp.data(), no, w.S.data(), ldS, w.idx.data(), w.val.data());
            if (l.b) add_bias(w, l, pl, h, gx, gs0, b, ldS);
            if (opt_.input_stats) input_statistics(w, out, pl.in_offset, b, ni, nullptr);
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
                if constexpr (std::is_same_v<T, float>) {
                    if (l.f.kind == TransferKind::Logistic && l.f.c > 0) {  // fused, same bits
                        kern_.logistic_sums(Srow, Orow, no, static_cast<float>(l.f.lam),
                                            static_cast<float>(std::log(l.f.c)), mean, mS, sl, slc, md);
                        continue;
                    }
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

    /// Connection dropout (Eq. 14, 23): each w_ij gated by its own draw.
    void connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h,
                         std::uint64_t gx, std::uint64_t gs0, std::int64_t b, std::int64_t ldS) const {
        const std::int64_t ni = l.n_in, no = l.n_out;
        const bool one = pl.thr.size() == 1;
        for (std::int64_t s = 0; s < b; ++s)
            if (opt_.input_stats) std::fill(w.gated.begin() + s * ni, w.gated.begin() + (s + 1) * ni, 0.0);
        // Rows outside, samples inside: a row of W is read from memory once per block of
        // samples, not once per sample (connection gates are otherwise bandwidth-bound).
        for (std::int64_t i = 0; i < no; ++i) {
            const T* Wi = l.W + i * ni;
            const std::uint64_t e0 = static_cast<std::uint64_t>(i * ni);
            for (std::int64_t s = 0; s < b; ++s) {
                const T* a = w.act.data() + s * ni;
                double* g = w.gated.data() + s * ni;  // gated inputs, summed over the outgoing connections
                const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::ConnectionGate,
                                                     static_cast<std::uint32_t>(h), gx, gs0 + s);
                T acc = T(0);
                if (one && pl.thr[0] == (std::uint64_t{1} << 31)) {
                    // keep = 1/2: one random bit per connection (rng_streams.h, version 2).
                    const std::uint64_t b0 = e0 >> 7, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 7) - b0 + 1;
                    kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                                      site.c3, site.k0, site.k1, w.words.data());
                    const auto off = static_cast<std::int64_t>(e0 & 127u);
                    acc = kern_.gated_dot_bits(Wi, a, w.words.data(), off, ni);
                    if (opt_.input_stats) {
                        const auto* bytes = reinterpret_cast<const unsigned char*>(w.words.data());
                        for (std::int64_t j = 0; j < ni; ++j)
                            if ((bytes[(off + j) >> 3] >> ((off + j) & 7)) & 1) g[j] += static_cast<double>(a[j]);
                    }
                } else if (one) {
                    // One keep p for the layer: 16-bit draws, ties settled by 16 more bits
                    // (rng_streams.h, version 2): exactly the 32-bit rule with half the words.
                    const std::uint64_t t = pl.thr[0];
                    const auto thi = static_cast<std::uint32_t>(t >> 16);
                    const std::uint64_t b0 = e0 >> 3, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 3) - b0 + 1;
                    kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                                      site.c3, site.k0, site.k1, w.words.data());
                    const std::uint16_t* u = reinterpret_cast<const std::uint16_t*>(w.words.data()) + (e0 & 7u);
                    std::int64_t ties = 0;
                    acc = kern_.gated_dot16(Wi, a, u, thi, ni, &ties);
                    const DrawSite tie = DrawSite::make(opt_.key[0], opt_.key[1], Stream::ConnectionTie,
                                                        static_cast<std::uint32_t>(h), gx, gs0 + s);
                    for (std::int64_t j = 0; j < ni && (ties > 0 || opt_.input_stats); ++j) {
                        bool kept = u[j] < thi;
                        if (u[j] == thi) {
                            --ties;
                            kept = (tie.word(e0 + static_cast<std::uint64_t>(j)) & 0xFFFFu) < (t & 0xFFFFu);
                            if (kept) acc += Wi[j] * a[j];
                        }
                        if (opt_.input_stats && kept) g[j] += static_cast<double>(a[j]);
                    }
                } else {
                    // A keep per connection: word e (counter block e / 4), then the gated dot product.
                    const std::uint64_t b0 = e0 >> 2, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 2) - b0 + 1;
                    kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                                      site.c3, site.k0, site.k1, w.words.data());
                    const std::uint32_t* words = w.words.data() + (e0 & 3u);
                    acc = one ? kern_.gated_dot(Wi, a, words, pl.thr[0], ni)
                              : kern_.gated_dot_each(Wi, a, words, pl.thr.data() + e0, ni);
                    if (opt_.input_stats)
                        for (std::int64_t j = 0; j < ni; ++j)
                            g[j] += words[j] < pl.thr[one ? 0 : e0 + static_cast<std::uint64_t>(j)] ? static_cast<double>(a[j]) : 0.0;
                }
                w.S[static_cast<std::size_t>(s * ldS + i)] = acc;
            }
        }
        if (opt_.input_stats)
            for (std::int64_t k = 0; k < b * ni; ++k) w.gated[static_cast<std::size_t>(k)] /= static_cast<double>(no);
    }

    /// Rows of whole 64-byte lines: the kernel's loads of a row never straddle two lines.
    static std::int64_t th8_stride(std::int64_t n_in) { return (n_in + 63) / 64 * 64; }

    /// Connection-specific firing (Eq. 126, 129): connection (i, j) carries r_ij when its
    /// own coin, with probability O_j, comes up. Each coin is an 8-bit draw against the top
    /// 8 bits of t_j = round(O_j 2^32); a draw equal to them (a tie, 1 in 256) is settled by
    /// 24 more bits: exactly the 32-bit rule, with a quarter of the Philox words
    /// (rng_streams.h, Stream::Spike). Ties are settled in batches, 8 Philox blocks per vector.
    /// Sample s's input O (the coins' probabilities) is row s of in0, rows in_stride apart.
    void spike_connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h,
                               std::uint64_t gx, std::uint64_t gs0, std::int64_t b, std::int64_t ldS, const T* in0,
                               std::int64_t in_stride) const {
        const std::int64_t ni = l.n_in, no = l.n_out, ld8 = th8_stride(ni);
        for (std::int64_t s = 0; s < b; ++s) {
            if (opt_.input_stats) std::fill(w.gated.begin() + s * ni, w.gated.begin() + (s + 1) * ni, 0.0);
            const T* o = in0 + s * in_stride;
            std::uint8_t* th = w.th8.data() + s * ld8;
#pragma omp simd
            for (std::int64_t j = 0; j < ni; ++j)  // t = 2^32 (O = 1) becomes 255 with 2^24 to settle ties: always fires
                th[j] = static_cast<std::uint8_t>(std::min<std::uint64_t>(spike_threshold(o[j]) >> 24, 255));
        }
        SpikeTies& ties = w.ties;
        ties.n = 0;
        // Rows outside, samples inside: a row of WR stays in cache for the block's samples.
        for (std::int64_t i = 0; i < no; ++i) {
            const std::uint64_t e0 = static_cast<std::uint64_t>(i * ni);
            for (std::int64_t s = 0; s < b; ++s) {
                const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::Spike, static_cast<std::uint32_t>(h),
                                                     gx, gs0 + s);
                // Connection e draws byte e % 16 of block e / 16.
                const std::uint64_t b0 = e0 >> 4, nb = ((e0 + static_cast<std::uint64_t>(ni) - 1) >> 4) - b0 + 1;
                kern_.philox_fill(static_cast<std::uint32_t>(b0), static_cast<std::int64_t>(nb), site.c1, site.c2,
                                  site.c3, site.k0, site.k1, w.words.data());
                const std::uint8_t* u = reinterpret_cast<const std::uint8_t*>(w.words.data()) + (e0 & 15u);
                const std::uint8_t* th = w.th8.data() + s * ld8;
                std::int64_t nt = 0;
                w.S[static_cast<std::size_t>(s * ldS + i)] = kern_.spike_dot8(pl.wr + e0, u, th, ni, ties.pos.data(), &nt);
                if (opt_.input_stats) kern_.spike_accumulate8(w.gated.data() + s * ni, u, th, pl.r.data() + i * pl.r_row, ni);
                const DrawSite tie = DrawSite::make(opt_.key[0], opt_.key[1], Stream::SpikeTie, static_cast<std::uint32_t>(h),
                                                    gx, gs0 + s);
                for (std::int64_t k = 0; k < nt; ++k) {
                    const auto n = static_cast<std::size_t>(ties.n++);
                    const std::uint64_t e = e0 + static_cast<std::uint64_t>(ties.pos[static_cast<std::size_t>(k)]);
                    ties.s[n] = static_cast<std::int32_t>(s);
                    ties.j[n] = ties.pos[static_cast<std::size_t>(k)];
                    ties.c0[n] = static_cast<std::uint32_t>(e >> 2);  // word e of SpikeTie
                    ties.q[n] = static_cast<std::uint8_t>(e & 3u);
                    ties.c1[n] = tie.c1;
                    ties.c2[n] = tie.c2;
                    ties.c3[n] = tie.c3;
                }
                if (ties.n >= SpikeTies::kBatch) settle_ties(w, pl, i, ni, ldS, in0, in_stride);
            }
            settle_ties(w, pl, i, ni, ldS, in0, in_stride);
        }
        if (opt_.input_stats)
            for (std::int64_t k = 0; k < b * ni; ++k) w.gated[static_cast<std::size_t>(k)] /= static_cast<double>(no);
    }

    /// The pending ties of row i: connection (i, j) of sample s fires iff the low 24 bits
    /// of its SpikeTie word are below t_j - (top 8 bits << 24).
    void settle_ties(Workspace<T>& w, const LayerPlan<T>& pl, std::int64_t i, std::int64_t ni, std::int64_t ldS,
                     const T* in0, std::int64_t in_stride) const {
        SpikeTies& ties = w.ties;
        if (ties.n == 0) return;
        const std::int64_t ld8 = th8_stride(ni);
        kern_.philox_words(ties.n, ties.c0.data(), ties.c1.data(), ties.c2.data(), ties.c3.data(), ties.q.data(),
                           opt_.key[0], opt_.key[1], ties.word.data());
        // Selects, not branches: a tie fires with probability ~1/2, so a branch would
        // mispredict every other time.
        const T* WR = pl.wr + i * ni;
        const double* r = pl.r.data() + i * pl.r_row;
        for (std::int64_t k = 0; k < ties.n; ++k) {
            const auto kk = static_cast<std::size_t>(k);
            const std::int64_t s = ties.s[kk], j = ties.j[kk];
            const std::uint64_t rest = spike_threshold(in0[s * in_stride + j]) -
                                       (static_cast<std::uint64_t>(w.th8[static_cast<std::size_t>(s * ld8 + j)]) << 24);
            const bool fires = (ties.word[kk] & 0xFFFFFFu) < rest;
            const T pick[2] = {T(0), WR[j]};  // an indexed load: the compiler keeps no branch
            w.S[static_cast<std::size_t>(s * ldS + i)] += pick[fires];
            if (opt_.input_stats) {
                const double r_pick[2] = {0.0, r[j]};
                w.gated[static_cast<std::size_t>(s * ni + j)] += r_pick[fires];
            }
        }
        ties.n = 0;
    }

    /// Spike thresholds t_j = round(O_j 2^32): a coin fires iff its word < t_j (Eq. 125).
    /// keep_threshold without llround: for 0 < O < 1, x = O 2^32 has no bits below 2^-21,
    /// so x + 1/2 is exact and truncating it rounds half up, as llround does for x > 0.
    /// The loop vectorizes.
    static std::uint64_t spike_threshold(T a) {
        const double o = static_cast<double>(a);
        return o >= 1.0 ? (std::uint64_t{1} << 32) : o > 0.0 ? static_cast<std::uint64_t>(o * 4294967296.0 + 0.5) : 0;
    }
    static void spike_thresholds(const T* a, std::uint64_t* thr, std::int64_t n) {
#pragma omp simd
        for (std::int64_t j = 0; j < n; ++j) thr[j] = spike_threshold(a[j]);
    }

    /// Global firing (Eq. 125, 128): unit j of the row sends r_j with probability O_j = a[j].
    void spike_units(Workspace<T>& w, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx, std::uint64_t sample,
                     T* a, std::int64_t ni) const {
        const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::Spike, static_cast<std::uint32_t>(h),
                                             gx, sample);
        kern_.philox_fill(0, (ni + 3) / 4, site.c1, site.c2, site.c3, site.k0, site.k1, w.words.data());
        spike_thresholds(a, w.thr.data(), ni);
        for (std::int64_t j = 0; j < ni; ++j)
            a[j] = w.words[static_cast<std::size_t>(j)] < w.thr[static_cast<std::size_t>(j)]
                       ? static_cast<T>(pl.r[static_cast<std::size_t>(j)]) : T(0);
    }

    /// Block mean and squared deviations of the gated inputs (w.gated, b x ni).
    static void input_statistics(const Workspace<T>& w, const RowRef& out, std::int64_t off, std::int64_t b,
                                 std::int64_t ni, std::nullptr_t) {
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
    void add_bias(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx,
                  std::uint64_t gs0, std::int64_t b, std::int64_t ldS) const {
        const bool gated = pl.bias_thr < (std::uint64_t{1} << 32);
        for (std::int64_t s = 0; s < b; ++s) {
            T* S = w.S.data() + s * ldS;
            const DrawSite site = DrawSite::make(opt_.key[0], opt_.key[1], Stream::BiasGate,
                                                 static_cast<std::uint32_t>(h), gx, gs0 + s);
            if (gated && gate_.kind == GateKind::Units && !(site.word(0) < pl.bias_thr)) continue;
            for (std::int64_t i = 0; i < l.n_out; ++i) {
                if (gated && gate_.kind == GateKind::Connections && !(site.word(static_cast<std::uint64_t>(i)) < pl.bias_thr))
                    continue;
                S[i] += l.b[i];
            }
        }
    }

    void record(const Workspace<T>& w, std::size_t h, std::int64_t x, std::int64_t s0, std::int64_t b) const {
        for (std::size_t r = 0; r < opt_.record_layers.size(); ++r) {
            if (opt_.record_layers[r] != static_cast<std::int64_t>(h)) continue;
            const std::int64_t no = net_.layers[h].n_out;
            T* dst = static_cast<T*>(opt_.record_out[r]) +
                     (x * static_cast<std::int64_t>(opt_.n_samples) + s0) * no;
            std::copy(w.O[h].data(), w.O[h].data() + b * no, dst);
        }
    }

    void pair_comoments(const Workspace<T>& w, const RowRef& out, std::int64_t b) const {
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

    std::pair<std::size_t, std::int64_t> locate(std::int64_t u) const {
        std::size_t h = 0;
        while (u >= net_.layers[h].n_out) u -= net_.layers[h++].n_out;
        return {h, u};
    }

    const NetworkView<T>& net_;
    const Gate& gate_;
    const T* X_;
    std::int64_t n_rows_;
    const SampleOptions& opt_;
    const detail::Kernels<T>& kern_;
    std::vector<LayerPlan<T>> plans_;
    std::int64_t n_units_ = 0, n_stats_ = 0, max_in_ = 0, max_pad_ = 0;
};

}  // namespace

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
    if (gate.spiking()) detail::check_spiking(net, gate, X, n_rows, "sample");
    std::int64_t n_stats = nu;
    if (opt.input_stats)
        for (const auto& l : net.layers) n_stats += l.n_in;
    if (n_rows == 0) return SampleStats(0, n_stats, opt.pairs);
    return Sampler<T>(net, gate, X, n_rows, opt).run();
}

template SampleStats sample<float>(const NetworkView<float>&, const Gate&, const float*, std::int64_t, const SampleOptions&);
template SampleStats sample<double>(const NetworkView<double>&, const Gate&, const double*, std::int64_t, const SampleOptions&);

}  // namespace dropengine
