// The Monte Carlo sampler's parts (sampler.h), shared by its translation units, one
// concept each:
//   sampler.cpp              the block driver: sample(), blocks of samples per input,
//                            the layer pass, statistics folding and reduction (Eq. 35-37, 220)
//   sampler_plan.cpp         per-layer plans prepared once per call (thresholds, packed W)
//   sampler_units.cpp        unit gates: dropout (Eq. 22) and dropin on the inputs of a layer
//   sampler_connections.cpp  connection gates (Eq. 14, 23)
//   sampler_spikes.cpp       spikes (Eq. 125-129): global, and per connection with ties settled
//   sampler_gaussian.cpp     continuous noise: Gaussian gates, additive and weight noise
// Every gate function handles a whole block of samples, so a call across translation
// units costs once per block and layer; the per-sample loops stay with their kernels.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "aligned.h"
#include "dropengine/sampler.h"
#include "kernels/kernels.h"
#include "reduce.h"

// Connection gates and spikes read 16-bit halves and bytes of Philox words in memory order.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dropengine: the spike stream layout assumes little endian");

namespace dropengine::detail::sampling {

/// Row stride of the sums S: whole tiles plus one 64-byte vector, so that the rows of a
/// block do not fall on the same L1 sets (see train_detail.h, padded()).
template <class T>
std::int64_t row_stride_of(std::int64_t n) {
    return n_tiles<T>(n) * kTile<T> + 64 / static_cast<std::int64_t>(sizeof(T));
}

/// Rows of whole 64-byte lines: the kernel's loads of a row never straddle two lines.
inline std::int64_t th8_stride(std::int64_t n_in) { return (n_in + 63) / 64 * 64; }

/// Per-layer data prepared once per call. The gate's part is indexed as Gate::p is: by
/// source layer for the unit kinds, by receiving layer for the connection kinds.
template <class T>
struct LayerPlan {
    AlignedVector<T> Wp;                // packed W^T (unit dropout, dropin, none)
    AlignedVector<std::uint32_t> Wp2;   // the same in bfloat16 pairs, instead of Wp (SampleOptions::bf16)
    bool bf16 = false;                  // this layer's product takes Wp2
    std::vector<std::uint64_t> thr;     // per element keep / dropin thresholds (or 1 value)
    std::uint64_t bias_thr = std::uint64_t{1} << 32;
    bool gated = false;                 // draws needed for this layer's gate
    std::vector<double> r;              // spike sizes (per input unit, or per connection)
    std::int64_t r_row = 0;             // connection-specific: r of row i starts at r[i * r_row]
    std::vector<T> WR;                  // W_ij r_ij for connection-specific spikes (unless r = 1)
    const T* wr = nullptr;              // W_ij r_ij: WR, or W itself when every r_ij = 1
    std::int64_t in_offset = 0;         // where this layer's input statistics start
    std::vector<double> sd, mu;         // Gaussian kinds: std and mean of the noise (1 or n values)
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
    AlignedVector<T> act, S;             // B x n_in gated inputs; B x row_stride_of(n_out) sums
    std::vector<AlignedVector<T>> O;     // per layer, B x n_out
    std::vector<double> logO, logOc, dO;
    std::vector<std::int32_t> idx;
    std::vector<T> val;
    std::vector<std::uint32_t> val2;     // nonzero input pairs (SampleOptions::bf16)
    AlignedVector<std::uint32_t> words;  // Philox words of one row of units or connections
    std::vector<std::uint64_t> thr;      // spike thresholds of one row (global spikes)
    AlignedVector<std::uint8_t> th8;     // top 8 bits of the block's thresholds, rows of th8_stride(n_in)
    SpikeTies ties;                      // pending ties of one row (connection-specific firing)
    std::vector<double> gated;           // B x n_in gated inputs (input statistics)
};

/// One sample() call. The members are defined in the translation unit of their concept
/// (see the top of this file); each instantiates them for float and double.
template <class T>
class Sampler {
public:
    Sampler(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows, const SampleOptions& opt);
    /// The statistics of every input over opt.n_samples samples, with the input
    /// statistics (opt.input_stats) as extra columns after the network's units.
    SampleStats run();

private:
    // sampler.cpp
    void init_workspace(Workspace<T>& w) const;
    void run_block(Workspace<T>& w, std::int64_t x, std::int64_t s0, std::int64_t b, const RowRef& out) const;
    std::pair<const T*, std::int64_t> source_rows(const Workspace<T>& w, std::int64_t l, std::int64_t x) const;
    void layer_inputs(Workspace<T>& w, std::size_t h, std::int64_t x, std::uint64_t gx, std::uint64_t gs0,
                      std::int64_t b) const;
    void add_bias(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx,
                  std::uint64_t gs0, std::int64_t b, std::int64_t ldS) const;
    static void input_statistics(const Workspace<T>& w, const RowRef& out, std::int64_t off, std::int64_t b,
                                 std::int64_t ni);
    void record(const Workspace<T>& w, std::size_t h, std::int64_t x, std::int64_t s0, std::int64_t b) const;
    void pair_comoments(const Workspace<T>& w, const RowRef& out, std::int64_t b) const;
    std::pair<std::size_t, std::int64_t> locate(std::int64_t u) const;
    void sums_dense(Workspace<T>& w, const LayerPlan<T>& pl, std::int64_t b, std::int64_t ni, std::int64_t no,
                    std::int64_t ldS) const;
    // sampler_plan.cpp
    void pack_dense(LayerPlan<T>& pl, const LayerView<T>& l, std::size_t h) const;
    // sampler_units.cpp
    void gate_units(Workspace<T>& w, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx, std::uint64_t gs0,
                    std::int64_t b, const T* in0, std::int64_t in_stride, std::int64_t ni, std::int64_t act_off,
                    std::int64_t act_ld) const;
    // sampler_connections.cpp
    void connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h,
                         std::uint64_t gx, std::uint64_t gs0, std::int64_t b, std::int64_t ldS) const;
    // sampler_gaussian.cpp
    const std::uint32_t* normal_words(Workspace<T>& w, const DrawSite& site, std::uint64_t e0, std::int64_t n) const;
    void gaussian_units(Workspace<T>& w, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx, std::uint64_t gs0,
                        std::int64_t b, const T* in0, std::int64_t in_stride, std::int64_t ni, std::int64_t act_off,
                        std::int64_t act_ld) const;
    void gaussian_connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h,
                                  std::uint64_t gx, std::uint64_t gs0, std::int64_t b, std::int64_t ldS) const;
    // sampler_spikes.cpp
    void spike_units(Workspace<T>& w, const LayerPlan<T>& pl, std::size_t h, std::uint64_t gx, std::uint64_t gs0,
                     std::int64_t b, const T* in0, std::int64_t in_stride, std::int64_t ni, std::int64_t act_off,
                     std::int64_t act_ld) const;
    void spike_connection_sums(Workspace<T>& w, const LayerView<T>& l, const LayerPlan<T>& pl, std::size_t h,
                               std::uint64_t gx, std::uint64_t gs0, std::int64_t b, std::int64_t ldS, const T* in0,
                               std::int64_t in_stride) const;
    void settle_ties(Workspace<T>& w, const LayerPlan<T>& pl, std::int64_t i, std::int64_t ni, std::int64_t ldS,
                     const T* in0, std::int64_t in_stride) const;

    const NetworkView<T>& net_;
    const Gate& gate_;
    const T* X_;
    std::int64_t n_rows_;
    const SampleOptions& opt_;
    const Kernels<T>& kern_;
    std::vector<LayerPlan<T>> plans_;
    std::vector<std::vector<Source>> sources_;  // each layer's input blocks (net.sources_of)
    std::int64_t n_stats_ = 0, max_in_ = 0, max_pad_ = 0;
};

}  // namespace dropengine::detail::sampling
