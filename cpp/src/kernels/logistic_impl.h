// Body of the float32 logistic transfer (Eq. 27) with its logs and derivative,
// compiled once per ISA. Branch-free polynomial exp and log1p so the loop
// vectorizes; relative error below 3e-7, i.e. float32 rounding, and the logs come
// from S (not from the rounded O) so G' keeps its precision at saturation.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dropengine::detail {
// Internal linkage: every ISA's translation unit compiles its own copy of these bodies
// with its own flags. As ordinary inline functions the linker would keep one copy for
// all ISAs (for instance the portable one inside the AVX-512 kernels).
namespace {

/// e^x for x <= 0 (clamped at -87 so the result stays normal).
inline float exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
    const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return p * scale;
}

/// log(1 + e) for e in [0, 1], as 2 atanh(e / (2 + e)) (exact relative precision at e -> 0).
inline float log1p_unit(float e) {
    const float s = e / (2.0f + e), s2 = s * s;
    float p = 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

/// One logistic value: O = 1 / (1 + exp(-z)), z = lam S - log c; log O = -softplus(-z),
/// log(1 - O) = -softplus(z), dO/dS = lam O (1 - O) (Eq. 220).
struct LogisticPoint {
    float o, lo, loc, d;
};
inline LogisticPoint logistic_point(float S, float lam, float logc) {
    const float z = lam * S - logc;
    const float az = z < 0 ? -z : z;
    const float e = exp_nonpos(-az);
    const float t = log1p_unit(e);
    const float big = 1.0f / (1.0f + e), small = e * big;  // sigma(|z|), sigma(-|z|)
    const float o = z >= 0 ? big : small, oc = z >= 0 ? small : big;
    return {o, -((z < 0 ? az : 0.0f) + t), -((z > 0 ? az : 0.0f) + t), lam * o * oc};
}

/// The sampler's fused pass over one sample row: O = sigma(S), and its block sums
/// mean += O, mS += S, sl += log O, slc += log(1 - O), md += sigma'(S) (the sums have
/// no products, so contraction cannot change them).
inline void logistic_sums_body(const float* S, float* O, std::int64_t n, float lam, float logc,
                               double* __restrict mean, double* __restrict mS, double* __restrict sl,
                               double* __restrict slc, double* __restrict md) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) {
        const LogisticPoint p = logistic_point(S[i], lam, logc);
        O[i] = p.o;
        mean[i] += static_cast<double>(p.o);
        mS[i] += static_cast<double>(S[i]);
        sl[i] += static_cast<double>(p.lo);
        slc[i] += static_cast<double>(p.loc);
        md[i] += static_cast<double>(p.d);
    }
}

// The sampler's second pass must give the bits of the baseline build, which does not
// contract d * d + m2 into a fused multiply-add: contraction is off for this function.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
/// Squared deviations of one sample row from the block means: m2 += (O - mean)^2,
/// m2S += (S - mS)^2.
template <class T>
inline void square_sums_body(const T* __restrict O, const T* __restrict S, const double* __restrict mean,
                             const double* __restrict mS, double* __restrict m2, double* __restrict m2S,
                             std::int64_t n) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(O[i]) - mean[i];
        const double dS = static_cast<double>(S[i]) - mS[i];
        m2[i] += d * d;
        m2S[i] += dS * dS;
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/// Training's forward transfer: S += b (when b is given), O = 1 / (1 + c e^{-lam S}).
inline void logistic_bias_body(float* S, const float* b, float* O, std::int64_t n, float lam, float logc) {
    if (b) {
#pragma omp simd
        for (std::int64_t i = 0; i < n; ++i) S[i] += b[i];
    }
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) {
        const float z = lam * S[i] - logc;
        const float az = z < 0 ? -z : z;
        const float e = exp_nonpos(-az);
        const float big = 1.0f / (1.0f + e), small = e * big;  // sigma(|z|), sigma(-|z|)
        O[i] = z >= 0 ? big : small;
    }
}

}  // namespace
}  // namespace dropengine::detail
