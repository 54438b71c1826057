// Transfer functions of the paper: linear, logistic (Eq. 27), tanh, rectified
// linear (Eq. 69), softplus (Eq. 76) and the normalized exponential (Eq. 43).
#pragma once
#include <cstdint>
#include <string>

namespace dropengine {

enum class TransferKind : std::int32_t {
    Linear = 0,    ///< O = S
    Logistic = 1,  ///< O = 1 / (1 + c exp(-lam S))                         (Eq. 27)
    Tanh = 2,      ///< O = tanh(lam S)
    ReLU = 3,      ///< O = 0 if S <= t else slope (S - t)                    (Eq. 69)
    Softplus = 4,  ///< O = log(1 + exp(lam S)) / lam, the integral of the logistic (Eq. 76)
    Softmax = 5,   ///< O_i = exp(lam S_i) / sum_j exp(lam S_j) over the layer   (Eq. 43)
};

/// A transfer function with its parameters (unused ones are ignored).
struct Transfer {
    TransferKind kind = TransferKind::Linear;
    double c = 1.0;          ///< logistic: c >= 0
    double lam = 1.0;        ///< logistic, tanh, softplus, softmax: gain lambda
    double threshold = 0.0;  ///< ReLU: threshold t
    double slope = 1.0;      ///< ReLU: slope lambda

    /// Throws std::invalid_argument when a parameter is out of its domain.
    void validate() const;
    /// Human-readable name, e.g. "logistic(c=1, lam=1)".
    std::string describe() const;
    /// True when outputs lie in [0, 1], so that G, G' and NWGM are defined.
    bool bounded01() const { return kind == TransferKind::Logistic || kind == TransferKind::Softmax; }
};

/// Applies the transfer function to one row of sums S[0..n) (a layer, for softmax),
/// writing the outputs O and, in float64, log O, log(1 - O) and the derivative
/// dO_i/dS_i (sigma'(S), Eq. 220). Logs are computed from S, not from the rounded O,
/// so that G and G' keep their precision when O rounds to 0 or 1.
/// Any of logO, logOc, dO may be null.
template <class T>
void apply_transfer(const Transfer& f, const T* S, T* O, double* logO, double* logOc,
                    double* dO, std::int64_t n);

/// Scalar form of the transfer (not for softmax): O = f(S).
double transfer_value(const Transfer& f, double S);

}  // namespace dropengine
