// Harness for dot_rows_kept_2026-12-03.patch: g++ -O3 -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma
// -mprefer-vector-width=512 -ffp-contract=fast -std=c++17 -Icpp/src -Icpp/include (with the patch applied).
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>
#include "aligned.h"
#include "kernels/dot_rows_impl.h"
using namespace dropengine::detail;
int main() {
  const std::int64_t B = 100, n_in = 1200, n_out = 1200, TILE = kTile<float>, nt = n_tiles<float>(n_out), ldo = nt * TILE;
  std::mt19937 g(3); std::uniform_real_distribution<float> u(-1, 1);
  AlignedVector<float> D(B * ldo), Wp(nt * n_in * TILE), G1(B * n_in), G2(B * n_in);
  for (std::int64_t b = 0; b < B; ++b) for (std::int64_t i = 0; i < n_out; ++i) D[b * ldo + i] = u(g) < 0 ? 0.f : u(g);
  for (auto& w : Wp) w = u(g);
  std::vector<std::uint8_t> need(B * n_in); for (auto& x : need) x = u(g) < 0;
  double t1 = 1e9, t2 = 1e9;
  for (int rep = 0; rep < 15; ++rep) {
    auto a = std::chrono::steady_clock::now();
    for (std::int64_t j0 = 0; j0 < n_in; j0 += 16) dot_rows_body<float>(D.data(), ldo, 0, B, Wp.data(), n_in, n_out, j0, std::min(n_in, j0 + 16), G1.data(), n_in);
    auto b = std::chrono::steady_clock::now();
    for (std::int64_t j0 = 0; j0 < n_in; j0 += 16) dot_rows_kept_body<float>(D.data(), ldo, 0, B, Wp.data(), n_in, n_out, j0, std::min(n_in, j0 + 16), need.data(), n_in, G2.data(), n_in);
    auto c = std::chrono::steady_clock::now();
    t1 = std::min(t1, std::chrono::duration<double>(b - a).count()); t2 = std::min(t2, std::chrono::duration<double>(c - b).count());
  }
  long bad = 0; for (std::int64_t e = 0; e < B * n_in; ++e) if (need[e] ? G1[e] != G2[e] : G2[e] != 0.f) ++bad;
  printf("dense %.2f ms, kept %.2f ms, %.2fx, mismatches %ld\n", t1 * 1e3, t2 * 1e3, t1 / t2, bad);
}
