// Deterministic reduction of per-block statistics, shared by the sampler and the
// enumerator: results depend on the sequence of blocks only, never on threads.
#pragma once
#include <atomic>
#include <chrono>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "dropengine/stats.h"

namespace dropengine::detail {

/// Accumulator storage for one (input, block) or one tree node: count, fields, co-moments.
struct RowBuf {
    std::vector<double> data;
    RowBuf(std::int64_t n_units, std::int64_t n_pairs) : data(1 + kFields * n_units + n_pairs, 0.0) {}
    RowRef ref(std::int64_t n_units) {
        RowRef r{data.data(), {}, data.data() + 1 + kFields * n_units};
        for (int f = 0; f < kFields; ++f) r.field[f] = data.data() + 1 + f * n_units;
        return r;
    }
};

/// The binary-counter reduction of one input's blocks: block k is merged with its
/// neighbours exactly as in a perfect binary tree over block indices, so the result
/// depends on the sequence of blocks only, never on threads or rounds.
struct TreeStack {
    std::vector<std::pair<int, RowBuf>> nodes;
    void push(RowBuf&& b, std::int64_t n_units, const std::vector<UnitPair>& pairs) {
        int level = 0;
        while (!nodes.empty() && nodes.back().first == level) {
            merge_row(nodes.back().second.ref(n_units), b.ref(n_units), n_units, pairs.data(),
                      static_cast<std::int64_t>(pairs.size()));
            b = std::move(nodes.back().second);
            nodes.pop_back();
            ++level;
        }
        nodes.emplace_back(level, std::move(b));
    }
};

/// Folds a value held with weight w into unit u's weighted Welford accumulators; r is
/// w divided by the unit's total weight after this addition (West 1979). Used where
/// values carry unequal weights: exact enumeration (P(N)) and asynchronous spiking
/// (time held).
inline void welford_unit(const RowRef& out, std::int64_t u, double w, double r, double O, double S, double lo,
                         double loc, double dO) {
    const double d = O - out.field[0][u];
    out.field[0][u] += r * d;
    out.field[1][u] += w * d * (O - out.field[0][u]);
    out.field[2][u] += w * lo;
    out.field[3][u] += w * loc;
    const double ds = S - out.field[4][u];
    out.field[4][u] += r * ds;
    out.field[5][u] += w * ds * (S - out.field[4][u]);
    out.field[6][u] += r * (dO - out.field[6][u]);
}

/// Copies one input's reduced row into the statistics object.
inline void store_row(SampleStats& out, std::int64_t x, const RowRef& r) {
    const std::int64_t nu = out.n_units, np = out.n_pairs();
    out.count[static_cast<std::size_t>(x)] = *r.count;
    std::vector<double>* dst[kFields] = {&out.mean, &out.m2, &out.slog, &out.slogc, &out.mean_S, &out.m2_S, &out.mean_dO};
    for (int f = 0; f < kFields; ++f) std::copy(r.field[f], r.field[f] + nu, dst[f]->begin() + x * nu);
    std::copy(r.comoment, r.comoment + np, out.comoment.begin() + x * np);
}

/// Folds a TreeStack's subtrees, oldest (largest) first, i.e. blocks in order.
inline RowBuf fold(TreeStack& st, std::int64_t n_units, const std::vector<UnitPair>& pairs) {
    RowBuf acc(n_units, static_cast<std::int64_t>(pairs.size()));
    for (auto& node : st.nodes)
        merge_row(acc.ref(n_units), node.second.ref(n_units), n_units, pairs.data(),
                  static_cast<std::int64_t>(pairs.size()));
    return acc;
}

/// The number of threads to use: `threads` if positive, else OpenMP's default (1 without OpenMP).
int resolve_threads(int threads);

/// Runs fn(thread, input, block, out) for every input and block first_block + k,
/// k < n_blocks, in rounds of jobs spread over OpenMP threads; reduces each input's
/// blocks along the fixed binary tree above (so the result never depends on threads or
/// rounds) and polls `interrupted` between rounds (throwing Interrupted). fn sets the
/// `count` of its block; an exception in fn is rethrown as std::runtime_error.
/// A job that may run for long (an enumeration block on a deep network) calls
/// job_cancelled() now and then and returns early when it is true: the calling thread
/// polls `interrupted` there at most every 50 ms, and the whole run then throws
/// Interrupted. Outside run_blocks it is always false.
using BlockFn = std::function<void(int, std::int64_t, std::int64_t, const RowRef&)>;
bool job_cancelled();

/// The state behind job_cancelled() (one per run_blocks call).
struct CancelPoint {
    std::atomic<bool> stop{false};
    const std::function<bool()>* interrupted = nullptr;
    std::chrono::steady_clock::time_point next;
    std::uint64_t calls = 0;  ///< the calling thread's checks (only it reads the clock)
    bool check(int tid);
};

SampleStats run_blocks(std::int64_t n_rows, std::int64_t first_block, std::int64_t n_blocks, std::int64_t n_units,
                       const std::vector<UnitPair>& pairs, int threads, const std::function<bool()>& interrupted,
                       const BlockFn& fn);

/// The statistics of n_units units followed by the input statistics of every layer (n_in[h]
/// columns each, mean and m2 only), as the sampler and the asynchronous chains accumulate
/// them, split into the units' statistics and SampleStats::E_in, var_in (Var = m2 / count).
SampleStats split_input_stats(SampleStats&& all, std::int64_t n_units, const std::vector<std::int64_t>& n_in);

}  // namespace dropengine::detail
