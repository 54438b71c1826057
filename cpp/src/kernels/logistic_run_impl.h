// Body of the split-halves enumeration kernel (enumerate_halves.cpp), compiled once
// per ISA. For one outer half-configuration with factor A = c e^{-lam a} and a run of
// inner factors B_r = e^{-lam b_r} of equal probability, it sums over the run
//   O_r = sigma(a + b_r) = 1 / u_r,  u_r = 1 + A B_r           (Eq. 27)
//   s1 = sum (O_r - shift),  s2 = sum (O_r - shift)^2,  lp = sum log u_r = -sum log O_r
// with no transcendental call per element: log u_r is accumulated as a running
// product whose binary exponent is moved into an integer after every factor (u >= 1
// and the mantissa stays in [1, 2), so nothing overflows), and one logarithm is
// taken per call. The caller guarantees A B_r < 2^1000.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dropengine::detail {
// Internal linkage: every ISA's translation unit compiles its own copy of these bodies
// with its own flags. As ordinary inline functions the linker would keep one copy for
// all ISAs (for instance the portable one inside the AVX-512 kernels).
namespace {

typedef double v8d __attribute__((vector_size(64)));
typedef std::int64_t v8l __attribute__((vector_size(64)));

inline void logistic_run_body(const double* B, std::int64_t n, double A, double shift, double* out) {
    constexpr std::int64_t kMant = 0x000FFFFFFFFFFFFF, kOne = 0x3FF0000000000000;
    const v8d zero = {0, 0, 0, 0, 0, 0, 0, 0};
    const v8l izero = {0, 0, 0, 0, 0, 0, 0, 0};
    // Two independent sets of accumulators hide the latency of the product chain.
    v8d s1a = zero, s1b = zero, s2a = zero, s2b = zero, ma = zero + 1.0, mb = zero + 1.0;
    v8l ea = izero, eb = izero;
    std::int64_t r = 0;
    for (; r + 16 <= n; r += 16) {
        v8d b0, b1;
        std::memcpy(&b0, B + r, sizeof b0);
        std::memcpy(&b1, B + r + 8, sizeof b1);
        const v8d u0 = A * b0 + 1.0, u1 = A * b1 + 1.0;
        const v8d d0 = 1.0 / u0 - shift, d1 = 1.0 / u1 - shift;
        s1a += d0;
        s1b += d1;
        s2a += d0 * d0;
        s2b += d1 * d1;
        ma *= u0;
        mb *= u1;
        const v8l ba = (v8l)ma, bb = (v8l)mb;
        ea += ba >> 52;  // biased exponents; the 1023 per factor is removed below
        eb += bb >> 52;
        ma = (v8d)((ba & kMant) | kOne);
        mb = (v8d)((bb & kMant) | kOne);
    }
    double s1 = 0.0, s2 = 0.0, m = 1.0;
    std::int64_t e = -1023 * r;  // one biased exponent was added per element processed
    for (int l = 0; l < 8; ++l) {
        s1 += s1a[l] + s1b[l];
        s2 += s2a[l] + s2b[l];
        int ex;
        m = std::frexp(m * ma[l] * mb[l], &ex);  // each factor < 2: no overflow
        e += ea[l] + eb[l] + ex;
    }
    for (; r < n; ++r) {
        const double u = A * B[r] + 1.0, d = 1.0 / u - shift;
        s1 += d;
        s2 += d * d;
        int ex;
        m = std::frexp(m * u, &ex);
        e += ex;
    }
    out[0] = s1;
    out[1] = s2;
    // ln 2 in two parts: e ln2_hi is exact for |e| < 2^32, so the sum keeps full precision.
    const double ed = static_cast<double>(e);
    out[2] = std::log(m) + (ed * 6.93147180369123816490e-01 + ed * 1.90821492927058770002e-10);
}

}  // namespace
}  // namespace dropengine::detail
