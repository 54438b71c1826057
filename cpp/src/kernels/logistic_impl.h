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
// The float64 logistic must give the same bits on every ISA too (the golden hashes are
// float64): the same IEEE operations in the same order whether the loop runs in 8, 4, 2
// or 1 lanes, so it sits in the same region without contraction.
/// e^x for x <= 0 in float64 (clamped at -708 so the result stays normal): Cody-Waite
/// reduction by ln 2 and the Taylor polynomial of degree 13 on |r| <= ln 2 / 2 (its
/// remainder is below 2^-60), relative error a few ulp.
inline double exp_nonpos64(double x) {
    x = x < -708.0 ? -708.0 : x;
    constexpr double M = 6755399441055744.0;  // 1.5 2^52: x / ln 2 + M rounds to an integer
    const double t = x * 1.4426950408889634 + M, n = t - M;
    const double r = (x - n * 0.6931471803691238) - n * 1.9082149292705877e-10;  // ln 2 = hi + lo
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^n from the integer held in t's low bits (integer lanes on every ISA).
    std::int64_t tb, mb;
    std::memcpy(&tb, &t, 8);
    std::memcpy(&mb, &M, 8);
    const std::int64_t bits = ((tb - mb) + 1023) * (std::int64_t{1} << 52);
    double scale;
    std::memcpy(&scale, &bits, 8);
    return p * scale;
}

/// log(1 + e) for e in [0, 1] in float64, as 2 atanh(e / (2 + e)): s^2 <= 1/9, and the
/// series stops at s^33 / 33 (the next term is below 2^-56 of the sum).
inline double log1p_unit64(double e) {
    const double s = e / (2.0 + e), s2 = s * s;
    double p = 1.0 / 33.0;
    p = p * s2 + 1.0 / 31.0;
    p = p * s2 + 1.0 / 29.0;
    p = p * s2 + 1.0 / 27.0;
    p = p * s2 + 1.0 / 25.0;
    p = p * s2 + 1.0 / 23.0;
    p = p * s2 + 1.0 / 21.0;
    p = p * s2 + 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    return 2.0 * s * p;
}

/// The sampler's fused pass for float64 (logistic_sums in double precision): the same
/// formulas as logistic_point, one exp and one log1p per unit, vectorized.
inline void logistic_sums64_body(const double* S, double* O, std::int64_t n, double lam, double logc,
                                 double* __restrict mean, double* __restrict mS, double* __restrict sl,
                                 double* __restrict slc, double* __restrict md) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) {
        const double z = lam * S[i] - logc;
        const double az = z < 0 ? -z : z;
        const double e = exp_nonpos64(-az);
        const double t = log1p_unit64(e);
        const double big = 1.0 / (1.0 + e), small = e * big;  // sigma(|z|), sigma(-|z|)
        const double o = z >= 0 ? big : small, oc = z >= 0 ? small : big;
        O[i] = o;
        mean[i] += o;
        mS[i] += S[i];
        sl[i] += -((z < 0 ? az : 0.0) + t);
        slc[i] += -((z > 0 ? az : 0.0) + t);
        md[i] += lam * o * oc;
    }
}

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
