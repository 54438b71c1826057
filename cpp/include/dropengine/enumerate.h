// Exact enumeration of every dropout subnetwork (Sections 2-4; Eq. 2-5, 30-39).
//
// Each configuration N of the free Bernoulli gates (those with 0 < p < 1) is visited
// once with its probability P(N), and the statistics the sampler streams are formed
// as P-weighted sums: E(O) = sum_N P(N) O(N) (Eq. 2, 7), Var, G = prod O^P(N)
// (Eq. 35), G' (Eq. 36), NWGM (Eq. 37), E(S), Var(S), E(sigma'(S)) and requested
// covariances. The result is a SampleStats whose `count` is sum_N P(N) (= 1 up to
// rounding), so every derived quantity reads the same as for a Monte Carlo run.
//
// Walk: the gates are ordered from the top layer down and visited in Gray-code
// order, so consecutive subnetworks differ by one gate, most often one feeding the
// top layer; the sums S of that gate's layer are updated (O(n_out), or O(1) for a
// connection), and only the layers above it are recomputed. Statistics of a layer
// are folded in once per change of that layer, with the probability mass of every
// subnetwork visited meanwhile. The code is cut into blocks of 2^12 subnetworks that
// start from a fresh forward pass; blocks run in parallel (OpenMP) and are merged
// along a fixed binary tree, so the result is bit-identical for any thread count.
//
// A single logistic layer under unit dropout with a uniform-enough p takes a faster
// route (enumerate_halves.cpp): the gates are split in two halves, S = a + b, and
// sigma(a + b) = 1 / (1 + c e^{-lam a} e^{-lam b}) uses precomputed factors of the
// halves; sums of log(1 + ...) are accumulated as running products with one
// logarithm per run of equal probability.
#pragma once
#include <cstdint>
#include <functional>

#include "dropengine/gate.h"
#include "dropengine/network.h"
#include "dropengine/stats.h"

namespace dropengine {

struct EnumerateOptions {
    int threads = 0;              ///< 0: OpenMP default
    std::vector<UnitPair> pairs;  ///< unit pairs whose covariance is computed
    /// Refuse (std::invalid_argument, before any work) when there are more than
    /// 2^max_log2 subnetworks.
    int max_log2 = 30;
    /// Allow the split-halves route when it applies (tests turn it off to compare).
    bool allow_halves = true;
    /// Enumerate only part `part` of `n_parts` equal, contiguous ranges of the code
    /// (n_parts a power of two, at most max_parts()); the parts' statistics merge
    /// (SampleStats::merge) into the whole, to rounding. For distributing one enumeration.
    std::int64_t part = 0, n_parts = 1;
    /// Polled between rounds of blocks; returning true throws Interrupted.
    std::function<bool()> interrupted;
};

/// Number of free gates (0 < p < 1) of `gate` on `net`: there are 2^n subnetworks.
template <class T>
std::int64_t free_gates(const NetworkView<T>& net, const Gate& gate);

/// Parts of 2^16 subnetworks or more: the largest n_parts an enumeration accepts,
/// 2^max(0, n - 16) for n free gates (whichever route runs).
constexpr std::int64_t kPartsLog2Offset = 16;
template <class T>
std::int64_t max_parts(const NetworkView<T>& net, const Gate& gate);

/// Exact statistics over all subnetworks for each of the n_rows inputs X (row-major,
/// n_rows x net.n_inputs()). Computed in float64 whatever T is. Validates before any
/// work; throws std::invalid_argument on bad input or too many subnetworks.
template <class T>
SampleStats enumerate(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                      const EnumerateOptions& opt);

}  // namespace dropengine
