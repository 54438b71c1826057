// Shared by the two enumeration routes (enumerate.cpp, enumerate_halves.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "dropengine/enumerate.h"
#include "reduce.h"

namespace dropengine::detail {

enum class SiteKind : std::int32_t {
    Unit,      ///< input unit j of layer h (dropout: kept; dropin: set to 1)
    Bias,      ///< the bias of layer h under unit dropout (one gate for the layer, Eq. 9)
    Conn,      ///< connection (i, j) of layer h (Eq. 14, 23)
    ConnBias,  ///< the bias of unit i of layer h under connection dropout
};

/// One Bernoulli gate; p is the probability of bit 1 (kept, or set to 1 for dropin).
struct Site {
    std::int32_t h;
    SiteKind kind;
    std::int64_t i, j;
    double p;
};

/// Every gate of `gate` on the layers' shapes, bottom layer first.
template <class T>
std::vector<Site> all_sites(const NetworkView<T>& net, const Gate& gate);

/// Probability of each pattern of the first n sites: t[g] = prod_k (g_k ? p_k : 1 - p_k),
/// the factors multiplied in site order (so every entry has fixed rounding).
std::vector<double> pattern_probabilities(const std::vector<Site>& sites, int n);

/// The blocks [first, first + count) of part opt.part of opt.n_parts, out of n_blocks.
inline std::pair<std::int64_t, std::int64_t> part_range(std::int64_t n_blocks, const EnumerateOptions& opt) {
    const std::int64_t per = n_blocks / opt.n_parts;
    return {opt.part * per, per};
}

/// The split-halves route for one logistic layer; false when it does not apply.
template <class T>
bool enumerate_halves(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
                      const EnumerateOptions& opt, SampleStats& out);

}  // namespace dropengine::detail
