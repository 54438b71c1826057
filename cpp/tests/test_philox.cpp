// Random123 known-answer vectors for Philox4x32-10, and the keep-threshold rule.
#include <cstdint>
#include <vector>

#include "check.h"
#include "kernels/kernels.h"
#include "dropengine/rng_streams.h"

using namespace dropengine;

int main() {
    const std::uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (const auto& v : kat) {
        const Philox4x32 r = philox4x32_10(v[0], v[1], v[2], v[3], v[4], v[5]);
        for (int k = 0; k < 4; ++k) CHECK(r.v[k] == v[6 + k]);
    }
    CHECK(keep_threshold(0.0) == 0);
    CHECK(keep_threshold(1.0) == (std::uint64_t{1} << 32));
    CHECK(keep_threshold(0.5) == (std::uint64_t{1} << 31));
    // Elements of one block share a Philox call; neighbouring blocks differ.
    const DrawSite s = DrawSite::make(1, 2, Stream::UnitGate, 3, 4, 5);
    CHECK(s.word(5) == s.block(1).v[1]);
    CHECK(s.word(0) != s.word(4));
    // The SIMD Philox of every compiled ISA equals the scalar one, awkward lengths included.
    for (const auto* k : {&detail::kernels<float>(), &detail::kernels_generic<float>()}) {
        for (std::int64_t nb : {1, 3, 15, 16, 17, 33, 100}) {
            std::vector<std::uint32_t> out(static_cast<std::size_t>(4 * nb));
            k->philox_fill(0xFFFFFFF0u, nb, 7, 8, 9, 0xDEADBEEFu, 42, out.data());  // counters wrap at 2^32
            for (std::int64_t b = 0; b < nb; ++b) {
                const Philox4x32 r = philox4x32_10(0xFFFFFFF0u + static_cast<std::uint32_t>(b), 7, 8, 9, 0xDEADBEEFu, 42);
                for (int q = 0; q < 4; ++q) CHECK(out[static_cast<std::size_t>(4 * b + q)] == r.v[q]);
            }
        }
    }
    // Scattered words (philox_words, used to settle spike ties): every entry its own counter.
    for (const auto* k : {&detail::kernels<float>(), &detail::kernels_generic<float>()}) {
        for (std::int64_t n : {1, 7, 8, 9, 31}) {
            std::vector<std::uint32_t> c0, c1, c2, c3, out(static_cast<std::size_t>(n));
            std::vector<std::uint8_t> q;
            for (std::int64_t i = 0; i < n; ++i) {
                const auto u = static_cast<std::uint32_t>(i);
                c0.push_back(0xFFFFFFF0u + 3u * u);
                c1.push_back(u * 2654435761u);
                c2.push_back(~u);
                c3.push_back(0x05000000u | u);
                q.push_back(static_cast<std::uint8_t>(i % 4));
            }
            k->philox_words(n, c0.data(), c1.data(), c2.data(), c3.data(), q.data(), 0xDEADBEEFu, 42, out.data());
            for (std::int64_t i = 0; i < n; ++i) {
                const auto ii = static_cast<std::size_t>(i);
                CHECK(out[ii] == philox4x32_10(c0[ii], c1[ii], c2[ii], c3[ii], 0xDEADBEEFu, 42).v[q[ii]]);
            }
        }
    }
    return finish("test_philox");
}
