// The random-stream registry: which Philox counter every draw of the engine uses.
//
// A draw is addressed by what it gates, never by the thread that makes it:
//
//   counter c0 = element / 4          (unit j, or connection i * n_in + j, or output unit i)
//           c1 = sample index, low 32 bits
//           c2 = input index
//           c3 = stream << 24 | layer << 16 | sample index bits 32..47
//   key        = two 32-bit words derived from the user's seed
//   word       = element % 4 of the 128-bit output
//
// Skip connections (network.h): a unit's coin (UnitGate, Dropin, Spike, and their Train*
// twins) has layer = its source layer l (0: the network input) and element = its unit j,
// and is read by every layer it feeds, so a unit is kept or dropped in all of them (Eq. 22);
// a connection's coin has layer = the receiving layer and element = i * n_in + j over the
// concatenated input (j = offset of the source's block + its unit). In a chain the source
// of layer h is h, so both are the chain's addresses: same bits.
//
// A gate keeps an element when the 32-bit word r satisfies r < round(keep * 2^32)
// (keep = 1 always keeps; keep = 0 never does), so keep probabilities are exact to 2^-32.
//
// Changing anything here changes every random result: bump kStreamVersion and the
// golden hash in the tests together, and say so in the changelog.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cmath>

#include "dropengine/philox.h"

namespace dropengine {

/// Version of the mapping from (seed, input, sample, layer, element) to random bits.
/// (Adding a stream leaves every existing draw unchanged and does not bump it.)
/// 2: connection gates with keep exactly 1/2 use one bit per connection, and with any
///    other keep shared by the layer 16-bit draws with exact ties (below).
/// 3: connection-specific spikes draw 8 bits per connection, with exact ties (below).
/// 4: no draw changed; the sampler's float64 logistic became a vectorized polynomial (one
///    exp and one log1p per unit, the same bits on every ISA) in place of libm, so float64
///    statistics move in their last bits.
constexpr int kStreamVersion = 4;

/// Purposes of random draws; each owns a disjoint counter range.
enum class Stream : std::uint32_t {
    UnitGate = 1,        ///< dropout on the units feeding layer h (element = unit j)
    ConnectionGate = 2,  ///< dropout on connections of layer h (element = i * n_in + j); with
                         ///< keep = 1/2 for the whole layer, connection e is kept iff bit e % 32
                         ///< of word e / 32 is set (so counter block e / 128): 32 connections
                         ///< per word instead of one. With another keep p shared by the layer,
                         ///< connection e draws the 16 bits 16 (e % 2) .. of word e / 2 (block
                         ///< e / 8) and is kept iff they are below t / 2^16 (t = round(p 2^32)),
                         ///< a tie settled by the low 16 bits of word e of ConnectionTie: exactly
                         ///< the 32-bit rule with half the words. Per-connection keeps: word e.
    BiasGate = 3,        ///< gate of the biases of layer h (element = 0 for units, i for connections)
    Dropin = 4,          ///< dropin on the units feeding layer h (element = unit j)
    Spike = 5,           ///< spikes of the units feeding layer h (element = unit j: its word);
                         ///< connection-specific firing: connection e = i * n_in + j draws
                         ///< byte e % 4 of word e / 4 (so block e / 16) and fires iff it is
                         ///< below T = min(t >> 24, 255), t = round(O_j 2^32); a draw equal to
                         ///< T (a tie, 1 in 256) fires iff the low 24 bits of word e of
                         ///< SpikeTie are below t - (T << 24): exactly the 32-bit rule, with a
                         ///< quarter of the Philox calls (t = 2^32 makes T = 255 and every tie fire)
    SpikeTie = 6,        ///< see Spike
    ConnectionTie = 8,   ///< see ConnectionGate
    AsyncSpike = 7,      ///< asynchronous spiking (spiking.h): sample index = step; layer 255,
                         ///< element 0: which neuron updates; layer h, element = unit (global)
                         ///< or connection (connection-specific): its spikes at that step
    // Training (train.h): input index = global minibatch step, sample index = row of the
    // minibatch, so a resumed run draws exactly what an uninterrupted one would.
    TrainUnitGate = 9,        ///< dropout on the units feeding layer h (element = unit j)
    TrainConnectionGate = 10, ///< dropout on connections of layer h (element = i * n_in + j)
    TrainDropin = 11,         ///< dropin on the units feeding layer h (element = unit j)
    Backpercolation = 12,     ///< the coin of unit j of layer h in the backward pass
    Shuffle = 13,             ///< order of the examples: input index = epoch, sample 0,
                              ///< element i: the swap partner of position i (Fisher-Yates)
    // Continuous noise (gate.h): one standard normal per element, gaussian_draw() below.
    GaussianUnit = 14,        ///< multiplicative N(mean, std^2) on unit j of source layer l
    GaussianConnection = 15,  ///< multiplicative N(mean, std^2) on connection e = i * n_in + j of layer h
    AdditiveNoise = 16,       ///< O_j + N(0, std^2) on unit j of source layer l
    WeightNoise = 17,         ///< w_ij + N(0, std^2) on connection e = i * n_in + j of layer h
    TrainGaussianUnit = 18,        ///< training twins of the four above (input index = step,
    TrainGaussianConnection = 19,  ///< sample index = row of the minibatch)
    TrainAdditiveNoise = 20,
    TrainWeightNoise = 21,
    BackwardNoise = 22,            ///< Gaussian noise on sigma' of unit j of layer h, backward pass
};

/// Key and address of one draw site: everything except the element index.
struct DrawSite {
    std::uint32_t k0, k1;  ///< key from the seed
    std::uint32_t c1, c2, c3;

    DROPENGINE_HD static DrawSite make(std::uint32_t k0, std::uint32_t k1, Stream stream,
                                       std::uint32_t layer, std::uint64_t input,
                                       std::uint64_t sample) {
        return DrawSite{k0, k1, static_cast<std::uint32_t>(sample),
                        static_cast<std::uint32_t>(input),
                        (static_cast<std::uint32_t>(stream) << 24) | ((layer & 0xFFu) << 16) |
                            static_cast<std::uint32_t>((sample >> 32) & 0xFFFFu)};
    }
    /// The 128 random bits covering elements 4*block .. 4*block + 3.
    DROPENGINE_HD Philox4x32 block(std::uint64_t blk) const {
        return philox4x32_10(static_cast<std::uint32_t>(blk), c1, c2, c3, k0, k1);
    }
    /// The 32-bit word of one element.
    DROPENGINE_HD std::uint32_t word(std::uint64_t element) const {
        return block(element >> 2).v[element & 3u];
    }
};

/// The standard normal of element e of a Gaussian stream (Box-Muller): words w0, w1 are
/// words 2 (e % 2) and 2 (e % 2) + 1 of counter block e / 2, u = (w + 1/2) 2^-32 lies in
/// (0, 1), and z = sqrt(-2 ln u1) cos(2 pi u2), in double.
inline double gaussian_from_words(std::uint32_t w0, std::uint32_t w1) {
    constexpr double kInv32 = 1.0 / 4294967296.0, kTwoPi = 6.283185307179586476925286766559;
    const double u1 = (static_cast<double>(w0) + 0.5) * kInv32, u2 = (static_cast<double>(w1) + 0.5) * kInv32;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}
/// The counter blocks holding the normals of elements e0 .. e0 + n - 1 (n >= 1): fill
/// n_blocks blocks from first_block on; element e0's two words start at word `offset`.
struct NormalSpan {
    std::uint64_t first_block;
    std::int64_t n_blocks;
    std::size_t offset;
};
inline NormalSpan normal_span(std::uint64_t e0, std::int64_t n) {
    const std::uint64_t b0 = e0 >> 1;
    return {b0, static_cast<std::int64_t>(((e0 + static_cast<std::uint64_t>(n) - 1) >> 1) - b0 + 1),
            static_cast<std::size_t>(2 * (e0 & 1u))};
}
inline double gaussian_draw(const DrawSite& site, std::uint64_t e) {
    const Philox4x32 r = site.block(e >> 1);
    const unsigned k = 2u * static_cast<unsigned>(e & 1u);
    return gaussian_from_words(r.v[k], r.v[k + 1]);
}

/// Integer threshold t such that "keep iff word < t" has probability exactly t / 2^32.
inline std::uint64_t keep_threshold(double keep) {
    if (!(keep > 0.0)) return 0;
    if (keep >= 1.0) return std::uint64_t{1} << 32;
    return static_cast<std::uint64_t>(std::llround(keep * 4294967296.0));
}

}  // namespace dropengine
