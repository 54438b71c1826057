// Micro-benchmark of the narrow last tile: matmul_skip_body<float> before (old/, the header at 9d9be8a) and after
// (new/, the header at 8bb30e8), each compiled in its own translation unit with the package's AVX-512 flags
// (g++ 12.2 -O3 -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma -mprefer-vector-width=512 -ffp-contract=fast), linked
// into this driver (-O2). B = 64 rows (a sampler block), keep 1/2, 15 alternating rounds, medians. The same driver with
// av2.cpp (the new header compiled with -mavx2 -mfma) in place of old.cpp gave the AVX2-vs-AVX-512 rows of the log.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <random>
#include <vector>
#include <algorithm>
void old_matmul(const float*, long, long, const float*, long, float*, long, int*, float*);
void new_matmul(const float*, long, long, const float*, long, float*, long, int*, float*);
int main() {
  const long B = 64;
  std::mt19937 g(1); std::uniform_real_distribution<float> u(0, 1);
  for (auto [ni, no] : {std::pair<long,long>{1200, 1200}, {1200, 10}, {64, 64}, {64, 5}}) {
    const long nt = (no + 127) / 128, ld = nt * 128;
    std::vector<float> A(B * ni), Wp(nt * ni * 128, 0.f), S1(B * ld), S2(B * ld), val(B * ni);
    std::vector<int> idx(B * ni + B * (ni / 16 + 2));
    for (auto& a : A) a = u(g) < 0.5f ? 0.f : u(g);
    for (long t = 0; t < nt; ++t) for (long j = 0; j < ni; ++j) for (long c = 0; c < 128; ++c) if (t * 128 + c < no) Wp[(t * ni + j) * 128 + c] = u(g) - 0.5f;
    double kept = 0; for (auto a : A) kept += a != 0;
    const double flop = 2 * kept * no;
    std::vector<double> to, tn;
    const int reps = no >= 1000 ? 20 : 2000;
    for (int round = 0; round < 15; ++round) {
      for (int which = 0; which < 2; ++which) {
        auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < reps; ++r) {
          if ((which ^ (round & 1)) == 0) old_matmul(A.data(), B, ni, Wp.data(), no, S1.data(), ld, idx.data(), val.data());
          else new_matmul(A.data(), B, ni, Wp.data(), no, S2.data(), ld, idx.data(), val.data());
        }
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
        ((which ^ (round & 1)) == 0 ? to : tn).push_back(s);
      }
    }
    double md = 0; for (long s = 0; s < B; ++s) for (long i = 0; i < no; ++i) md = std::max(md, (double)std::fabs(S1[s * ld + i] - S2[s * ld + i]));
    std::sort(to.begin(), to.end()); std::sort(tn.begin(), tn.end());
    std::vector<double> ratio; for (size_t i = 0; i < to.size(); ++i) {}
    printf("%4ld -> %4ld: old %.1f GF/s, new %.1f GF/s (useful, medians), new/old time %.3f, max|diff| %g\n", ni, no,
           flop / to[7] / 1e9, flop / tn[7] / 1e9, tn[7] / to[7], md);
  }
}
