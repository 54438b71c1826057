// The deterministic ensemble network (Eq. 24, 26, 54, 98, 167).
//
//   U^h_i = sum_j w_ij E(gate_ij) W^{h-1}_j + E(gate_b) b_i,   W^h = f(U^h),  W^0 = I
//
// i.e. every weight multiplied by its keep probability. For dropin the input of a
// unit is 1 with probability r and W_j otherwise, so (1 - r) W_j + r is used.
// With GateKind::None this is plain forward propagation.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "dropengine/gate.h"
#include "dropengine/network.h"

namespace dropengine {

/// Writes U[h] and W[h] (each n_rows x n_out(h), row-major, caller-allocated) for
/// the inputs X (n_rows x n_in). Throws std::invalid_argument on bad input, and
/// Interrupted when `interrupted` (polled between chunks of rows) returns true.
template <class T>
void ensemble(const NetworkView<T>& net, const Gate& gate, const T* X, std::int64_t n_rows,
              const std::vector<T*>& U, const std::vector<T*>& W, int threads = 0,
              const std::function<bool()>& interrupted = {});

}  // namespace dropengine
