// Transfer functions (Eq. 27, 43, 69, 76) with their logs and derivatives, in float64.
#include "dropengine/transfer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace dropengine {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

/// log(1 + exp(x)) without overflow.
inline double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }
}  // namespace

void Transfer::validate() const {
    auto finite = [](double v) { return std::isfinite(v); };
    switch (kind) {
        case TransferKind::Linear:
            return;
        case TransferKind::Logistic:
            if (!finite(c) || c < 0) throw std::invalid_argument("logistic: c must be finite and >= 0 (Eq. 27)");
            [[fallthrough]];
        case TransferKind::Tanh:
        case TransferKind::Softmax:
            if (!finite(lam)) throw std::invalid_argument(describe() + ": lam must be finite");
            return;
        case TransferKind::Softplus:
            if (!finite(lam) || lam <= 0) throw std::invalid_argument("softplus: lam must be finite and > 0 (Eq. 76)");
            return;
        case TransferKind::ReLU:
            if (!finite(threshold) || !finite(slope))
                throw std::invalid_argument("relu: threshold and slope must be finite (Eq. 69)");
            return;
    }
    throw std::invalid_argument("unknown transfer kind " + std::to_string(static_cast<int>(kind)));
}

std::string Transfer::describe() const {
    std::ostringstream s;
    switch (kind) {
        case TransferKind::Linear: s << "linear"; break;
        case TransferKind::Logistic: s << "logistic(c=" << c << ", lam=" << lam << ")"; break;
        case TransferKind::Tanh: s << "tanh(lam=" << lam << ")"; break;
        case TransferKind::ReLU: s << "relu(threshold=" << threshold << ", slope=" << slope << ")"; break;
        case TransferKind::Softplus: s << "softplus(lam=" << lam << ")"; break;
        case TransferKind::Softmax: s << "softmax(lam=" << lam << ")"; break;
    }
    return s.str();
}

double transfer_value(const Transfer& f, double S) {
    switch (f.kind) {
        case TransferKind::Linear: return S;
        case TransferKind::Logistic: return f.c == 0 ? 1.0 : 1.0 / (1.0 + f.c * std::exp(-f.lam * S));
        case TransferKind::Tanh: return std::tanh(f.lam * S);
        case TransferKind::ReLU: return S <= f.threshold ? 0.0 : f.slope * (S - f.threshold);
        case TransferKind::Softplus: return softplus(f.lam * S) / f.lam;
        case TransferKind::Softmax: break;
    }
    throw std::invalid_argument("transfer_value: softmax is defined on a whole layer");
}

template <class T>
void apply_transfer(const Transfer& f, const T* S, T* O, double* logO, double* logOc, double* dO,
                    std::int64_t n) {
    if (f.kind == TransferKind::Softmax) {
        // log O_i = lam S_i - M - log Z with M the largest lam S_i;
        // log Z = log1p(sum of the non-maximal terms), exact when one unit dominates;
        // log(1 - O_i) = log1p(-O_i) except for the dominant unit, where it is
        // log(rest) - log Z. Both keep relative precision at saturation.
        double M = -kInf;
        std::int64_t imax = 0;
        for (std::int64_t i = 0; i < n; ++i)
            if (f.lam * static_cast<double>(S[i]) > M) { M = f.lam * static_cast<double>(S[i]); imax = i; }
        double rest = 0.0;
        for (std::int64_t i = 0; i < n; ++i)
            if (i != imax) rest += std::exp(f.lam * static_cast<double>(S[i]) - M);
        const double logZ = std::log1p(rest);
        for (std::int64_t i = 0; i < n; ++i) {
            const double lo = f.lam * static_cast<double>(S[i]) - M - logZ;
            const double o = std::exp(lo);
            const double loc = i == imax ? std::log(rest) - logZ : std::log1p(-o);
            O[i] = static_cast<T>(o);
            if (logO) logO[i] = lo;
            if (logOc) logOc[i] = loc;
            if (dO) dO[i] = f.lam * std::exp(lo + loc);
        }
        return;
    }
    for (std::int64_t i = 0; i < n; ++i) {
        const double s = static_cast<double>(S[i]);
        double o, lo, loc, d;
        switch (f.kind) {
            case TransferKind::Logistic:
                if (f.c == 0) {
                    o = 1.0; lo = 0.0; loc = -kInf; d = 0.0;
                } else {
                    // With z = lam S - log c: log O = -softplus(-z), log(1 - O) = -softplus(z).
                    const double z = f.lam * s - std::log(f.c);
                    lo = -softplus(-z);
                    loc = -softplus(z);
                    o = std::exp(lo);
                    d = f.lam * o * std::exp(loc);
                }
                break;
            case TransferKind::Tanh:
                o = std::tanh(f.lam * s); d = f.lam * (1.0 - o * o);
                lo = std::log(o); loc = std::log1p(-o);
                break;
            case TransferKind::ReLU:
                o = s <= f.threshold ? 0.0 : f.slope * (s - f.threshold);
                d = s <= f.threshold ? 0.0 : f.slope;
                lo = std::log(o); loc = std::log1p(-o);
                break;
            case TransferKind::Softplus:
                o = softplus(f.lam * s) / f.lam; d = 1.0 / (1.0 + std::exp(-f.lam * s));
                lo = std::log(o); loc = std::log1p(-o);
                break;
            default:  // Linear
                o = s; d = 1.0;
                lo = std::log(o); loc = std::log1p(-o);
                break;
        }
        O[i] = static_cast<T>(o);
        if (logO) logO[i] = lo;
        if (logOc) logOc[i] = loc;
        if (dO) dO[i] = d;
    }
}

template void apply_transfer<float>(const Transfer&, const float*, float*, double*, double*, double*, std::int64_t);
template void apply_transfer<double>(const Transfer&, const double*, double*, double*, double*, double*, std::int64_t);

}  // namespace dropengine
