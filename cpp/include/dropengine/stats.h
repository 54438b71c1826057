// Streaming per-unit statistics of Monte Carlo dropout (Sections 5, 8, 9).
//
// For every input x and non-input unit u (all layers concatenated in layer order)
// the accumulator holds, in float64:
//   mean, m2          of O        -> E(O), Var(O) = m2 / n          (Welford / Chan)
//   slog, slogc       sum log O, sum log(1 - O) -> G, G' (Eq. 35, 36), NWGM (Eq. 37)
//   mean_S, m2_S      of S        -> E(S), Var(S)
//   mean_dO           of sigma'(S) -> E(sigma'(S))                  (Eq. 220)
// and, for requested unit pairs, the co-moment of (O_a, O_b) -> Cov, E(O_a O_b).
// Memory is O(inputs x units), independent of the number of samples. Two
// accumulators merge (merge()) exactly as one run over both sample sets would.
#pragma once
#include <cstdint>
#include <vector>

namespace dropengine {

/// A pair of non-input units whose covariance is accumulated (global unit indices).
struct UnitPair {
    std::int64_t a, b;
};

/// Per-unit accumulators; arrays are row-major (n_inputs, n_units) or (n_inputs, n_pairs).
struct SampleStats {
    std::int64_t n_inputs = 0;
    std::int64_t n_units = 0;
    std::vector<UnitPair> pairs;
    std::vector<double> count;  ///< (n_inputs): samples seen per input
    std::vector<double> mean, m2, slog, slogc, mean_S, m2_S, mean_dO;  ///< (n_inputs, n_units)
    std::vector<double> comoment;                                      ///< (n_inputs, n_pairs)
    /// With SampleOptions::input_stats or AsyncOptions::input_stats: for every layer h, E and Var of
    /// the gated inputs of layer h (dropout delta O, dropin, spikes Delta; for connection gates the mean
    /// over a sending unit's outgoing connections), row-major (n_inputs, n_in(h)). Empty otherwise.
    /// Not merged (merge() clears them) and not saved.
    std::vector<std::vector<double>> E_in, var_in;

    SampleStats() = default;
    SampleStats(std::int64_t n_inputs, std::int64_t n_units, std::vector<UnitPair> pairs);

    std::int64_t n_pairs() const { return static_cast<std::int64_t>(pairs.size()); }
    /// Adds b's samples to this accumulator (Chan et al. pairwise update). Shapes and
    /// pairs must match; throws std::invalid_argument otherwise. Clears E_in and var_in.
    void merge(const SampleStats& b);
};

namespace detail {
/// Number of per-unit accumulator fields (mean, m2, slog, slogc, mean_S, m2_S, mean_dO).
constexpr int kFields = 7;
/// Pointers to one input's accumulators: count, the kFields per-unit arrays, co-moments.
struct RowRef {
    double* count;
    double* field[kFields];
    double* comoment;
};
/// The one merge formula of the library, a += b (Chan, Golub & LeVeque 1979):
///   n = na + nb, d = mean_b - mean_a, mean = mean_a + d nb / n,
///   m2 = m2_a + m2_b + d^2 na nb / n,  C_xy = C_a + C_b + dx dy na nb / n;
/// sums of logs add. Used by the sampler's reduction tree and by SampleStats::merge,
/// so a merged run has the same bits as the tree would have given.
void merge_row(const RowRef& a, const RowRef& b, std::int64_t n_units, const UnitPair* pairs,
               std::int64_t n_pairs);
}  // namespace detail

}  // namespace dropengine
