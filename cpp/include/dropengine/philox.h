// Philox4x32-10 counter-based generator (Salmon, Moraes, Dror, Shaw, SC'11),
// bit-compatible with Random123's philox4x32 with 10 rounds.
//
// A draw is a pure function of (counter, key): no state, no thread affinity.
// That is what makes every dropout mask addressable by what it gates
// (see rng_streams.h) and so identical for any thread count or process split.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define DROPENGINE_HD __host__ __device__ __forceinline__
#else
#define DROPENGINE_HD inline
#endif

namespace dropengine {

/// Four 32-bit words: a Philox counter or output block.
struct Philox4x32 {
    std::uint32_t v[4];
};

namespace detail {
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1

DROPENGINE_HD void philox_round(std::uint32_t c[4], std::uint32_t k0, std::uint32_t k1) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * c[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * c[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c[0] = hi1 ^ c[1] ^ k0;
    c[1] = lo1;
    c[2] = hi0 ^ c[3] ^ k1;
    c[3] = lo0;
}
}  // namespace detail

/// Philox4x32-10: 128 random bits for counter (c0, c1, c2, c3) under key (k0, k1).
DROPENGINE_HD Philox4x32 philox4x32_10(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                                       std::uint32_t c3, std::uint32_t k0, std::uint32_t k1) {
    std::uint32_t c[4] = {c0, c1, c2, c3};
    for (int r = 0; r < 9; ++r) {
        detail::philox_round(c, k0, k1);
        k0 += detail::kPhiloxW0;
        k1 += detail::kPhiloxW1;
    }
    detail::philox_round(c, k0, k1);
    return Philox4x32{{c[0], c[1], c[2], c[3]}};
}

}  // namespace dropengine
