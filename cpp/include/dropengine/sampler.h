// Monte Carlo sampling of dropout subnetworks with streaming statistics
// (Sections 5 and 9; Eq. 22-23, 49).
//
// For every input x (row of X) and sample s, a subnetwork is drawn by the gate
// with Philox draws addressed by (seed, first_input + x, first_sample + s, layer,
// element) (rng_streams.h), propagated, and its S, O folded into SampleStats.
//
// Execution: samples of one input are processed in blocks of kBlockSamples rows,
// each a GEMM-shaped pass per layer; blocks run in parallel (OpenMP) and their
// statistics are combined along a fixed binary tree over block indices, so the
// result is bit-identical for every thread count. Two runs over aligned halves
// (each covering 2^k whole blocks) merge to exactly the bits of a single run.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "dropengine/errors.h"  // Interrupted
#include "dropengine/gate.h"
#include "dropengine/network.h"
#include "dropengine/stats.h"

namespace dropengine {

/// Number of samples per block: the unit of work and of the reduction tree.
constexpr std::int64_t kBlockSamples = 64;

struct SampleOptions {
    std::uint64_t n_samples = 0;     ///< samples per input, >= 1
    std::uint64_t first_sample = 0;  ///< global index of the first sample (splitting runs)
    std::uint64_t first_input = 0;   ///< global index of the first input (splitting inputs)
    std::uint32_t key[2] = {0, 0};   ///< Philox key derived from the seed
    int threads = 0;                 ///< 0: OpenMP default
    std::vector<UnitPair> pairs;     ///< unit pairs whose covariance is accumulated
    /// Layers whose raw outputs O are written out, and for each a buffer of
    /// n_inputs * n_samples * n_out(h) values (input-major, then sample).
    std::vector<std::int64_t> record_layers;
    std::vector<void*> record_out;
    /// Also accumulate E and Var of the gated inputs of every layer h (dropout delta a,
    /// dropin, spikes Delta; for connection gates the mean over a sending unit's
    /// outgoing connections), returned in SampleStats::E_in and var_in.
    bool input_stats = false;
    /// float32 networks only: the products of the layers gated on units (or not gated)
    /// take W and the gated inputs rounded to bfloat16, with float32 sums and the
    /// statistics in float64 as always; connection-gated layers stay in float32. Faster
    /// where the CPU has AVX512_BF16 (vdpbf16ps), emulated with the same bits elsewhere.
    /// Opt-in: it changes the numbers (by about 2^-9 relative per weight and input).
    bool bf16 = false;
    /// Polled from the calling thread between rounds of work (every few ms);
    /// returning true stops the run by throwing Interrupted.
    std::function<bool()> interrupted;
};

/// Samples n_samples subnetworks for each of the n_rows inputs X (row-major,
/// n_rows x net.n_inputs()). Validates everything before any work; throws
/// std::invalid_argument on bad input.
template <class T>
SampleStats sample(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                   const SampleOptions& opt);

}  // namespace dropengine
