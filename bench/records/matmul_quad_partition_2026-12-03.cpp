// Build: g++ -O3 -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma -mprefer-vector-width=512 -ffp-contract=fast -std=c++17
// Prototype: four samples (rows) share each load of W; the kept inputs of a quad are split by which rows keep
// them (15 codes), each code's loop does only its members' FMAs (no wasted FMAs), sums reordered by code.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>
typedef float V __attribute__((vector_size(64)));
constexpr int KC = 64, TILE = 128;
static inline V ld(const float* p) { V v; memcpy(&v, p, 64); return v; }
static inline void st(float* p, V v) { memcpy(p, &v, 64); }
struct Acc { V a[4][4]; };
template <int C>
__attribute__((always_inline)) inline void code_loop(const int32_t* js, int k0, int k1, const float* A, int n, const float* W,
    V& a00, V& a01, V& a02, V& a03, V& a10, V& a11, V& a12, V& a13, V& a20, V& a21, V& a22, V& a23, V& a30, V& a31, V& a32, V& a33) {
  for (int k = k0; k < k1; ++k) {
    const int j = js[k];
    const float* w = W + (int64_t)j * TILE;
    const V w0 = ld(w), w1 = ld(w + 16), w2 = ld(w + 32), w3 = ld(w + 48);
    if (C & 1) { const float v = A[j]; a00 += v * w0; a01 += v * w1; a02 += v * w2; a03 += v * w3; }
    if (C & 2) { const float v = A[n + j]; a10 += v * w0; a11 += v * w1; a12 += v * w2; a13 += v * w3; }
    if (C & 4) { const float v = A[2 * n + j]; a20 += v * w0; a21 += v * w1; a22 += v * w2; a23 += v * w3; }
    if (C & 8) { const float v = A[3 * n + j]; a30 += v * w0; a31 += v * w1; a32 += v * w2; a33 += v * w3; }
  }
}
// one quad, one slab, one 64-float part
__attribute__((noinline)) void quad_part(const int32_t* js, const int32_t* cs, const float* A, int n, const float* W, float* o, int ldo, bool load) {
  V a00{},a01{},a02{},a03{},a10{},a11{},a12{},a13{},a20{},a21{},a22{},a23{},a30{},a31{},a32{},a33{};
  if (load) { a00=ld(o);a01=ld(o+16);a02=ld(o+32);a03=ld(o+48); a10=ld(o+ldo);a11=ld(o+ldo+16);a12=ld(o+ldo+32);a13=ld(o+ldo+48);
    a20=ld(o+2*ldo);a21=ld(o+2*ldo+16);a22=ld(o+2*ldo+32);a23=ld(o+2*ldo+48); a30=ld(o+3*ldo);a31=ld(o+3*ldo+16);a32=ld(o+3*ldo+32);a33=ld(o+3*ldo+48); }
#define CL(c) code_loop<c>(js, cs[c], cs[c + 1], A, n, W, a00,a01,a02,a03,a10,a11,a12,a13,a20,a21,a22,a23,a30,a31,a32,a33);
  CL(1) CL(2) CL(3) CL(4) CL(5) CL(6) CL(7) CL(8) CL(9) CL(10) CL(11) CL(12) CL(13) CL(14) CL(15)
  st(o,a00);st(o+16,a01);st(o+32,a02);st(o+48,a03); st(o+ldo,a10);st(o+ldo+16,a11);st(o+ldo+32,a12);st(o+ldo+48,a13);
  st(o+2*ldo,a20);st(o+2*ldo+16,a21);st(o+2*ldo+32,a22);st(o+2*ldo+48,a23); st(o+3*ldo,a30);st(o+3*ldo+16,a31);st(o+3*ldo+32,a32);st(o+3*ldo+48,a33);
}
// lists: per quad, per slab: js sorted by code (counting sort), cs[17] starts
void quad_lists(const float* A, int B, int n, int32_t* js, int32_t* cs) {
  int nkb = (n + KC - 1) / KC;
  for (int q = 0; q < B / 4; ++q) for (int kb = 0; kb < nkb; ++kb) {
    const float* a = A + (int64_t)4 * q * n; int j0 = kb * KC, j1 = std::min(n, j0 + KC);
    int32_t* J = js + ((int64_t)q * nkb + kb) * KC; int32_t* C = cs + ((int64_t)q * nkb + kb) * 17;
    uint8_t code[KC]; int cnt[17] = {};
    for (int j = j0; j < j1; ++j) { int c = (a[j] != 0) | (a[n + j] != 0) << 1 | (a[2 * n + j] != 0) << 2 | (a[3 * n + j] != 0) << 3; code[j - j0] = c; cnt[c + 1]++; }
    for (int c = 0; c < 16; ++c) cnt[c + 1] += cnt[c];
    for (int c = 0; c < 17; ++c) C[c] = cnt[c];
    for (int j = j0; j < j1; ++j) J[cnt[code[j - j0]]++] = j;
  }
}
void quad_gemm(const float* A, int B, int n, const float* Wp, int ntiles, float* out, int ldo, int32_t* js, int32_t* cs) {
  quad_lists(A, B, n, js, cs);
  int nkb = (n + KC - 1) / KC;
  for (int t = 0; t < ntiles; ++t) { const float* Wt = Wp + (int64_t)t * n * TILE;
    for (int kb = 0; kb < nkb; ++kb) for (int q = 0; q < B / 4; ++q) {
      const int32_t* J = js + ((int64_t)q * nkb + kb) * KC; const int32_t* C = cs + ((int64_t)q * nkb + kb) * 17;
      for (int p = 0; p < 2; ++p) quad_part(J, C, A + (int64_t)4 * q * n, n, Wt + p * 64, out + (int64_t)4 * q * ldo + t * TILE + p * 64, ldo, kb > 0);
    } }
}

template <int C>
__attribute__((always_inline)) inline void pair_loop(const int32_t* js, int k0, int k1, const float* A, int n, const float* W,
    V& a0, V& a1, V& a2, V& a3, V& a4, V& a5, V& a6, V& a7, V& b0, V& b1, V& b2, V& b3, V& b4, V& b5, V& b6, V& b7) {
  for (int k = k0; k < k1; ++k) {
    const int j = js[k];
    const float* w = W + (int64_t)j * TILE;
    const V w0 = ld(w), w1 = ld(w + 16), w2 = ld(w + 32), w3 = ld(w + 48), w4 = ld(w + 64), w5 = ld(w + 80), w6 = ld(w + 96), w7 = ld(w + 112);
    if (C & 1) { const float v = A[j]; a0 += v * w0; a1 += v * w1; a2 += v * w2; a3 += v * w3; a4 += v * w4; a5 += v * w5; a6 += v * w6; a7 += v * w7; }
    if (C & 2) { const float v = A[n + j]; b0 += v * w0; b1 += v * w1; b2 += v * w2; b3 += v * w3; b4 += v * w4; b5 += v * w5; b6 += v * w6; b7 += v * w7; }
  }
}
__attribute__((noinline)) void pair_tile(const int32_t* js, const int32_t* cs, const float* A, int n, const float* W, float* o, int ldo, bool load) {
  V a0{},a1{},a2{},a3{},a4{},a5{},a6{},a7{},b0{},b1{},b2{},b3{},b4{},b5{},b6{},b7{};
  if (load) { a0=ld(o);a1=ld(o+16);a2=ld(o+32);a3=ld(o+48);a4=ld(o+64);a5=ld(o+80);a6=ld(o+96);a7=ld(o+112);
    const float* p=o+ldo; b0=ld(p);b1=ld(p+16);b2=ld(p+32);b3=ld(p+48);b4=ld(p+64);b5=ld(p+80);b6=ld(p+96);b7=ld(p+112); }
  pair_loop<3>(js, cs[3], cs[4], A, n, W, a0,a1,a2,a3,a4,a5,a6,a7,b0,b1,b2,b3,b4,b5,b6,b7);
  pair_loop<1>(js, cs[1], cs[2], A, n, W, a0,a1,a2,a3,a4,a5,a6,a7,b0,b1,b2,b3,b4,b5,b6,b7);
  pair_loop<2>(js, cs[2], cs[3], A, n, W, a0,a1,a2,a3,a4,a5,a6,a7,b0,b1,b2,b3,b4,b5,b6,b7);
  st(o,a0);st(o+16,a1);st(o+32,a2);st(o+48,a3);st(o+64,a4);st(o+80,a5);st(o+96,a6);st(o+112,a7);
  float* p=o+ldo; st(p,b0);st(p+16,b1);st(p+32,b2);st(p+48,b3);st(p+64,b4);st(p+80,b5);st(p+96,b6);st(p+112,b7);
}
void pair_lists(const float* A, int B, int n, int32_t* js, int32_t* cs) {
  int nkb = (n + KC - 1) / KC;
  for (int q = 0; q < B / 2; ++q) for (int kb = 0; kb < nkb; ++kb) {
    const float* a = A + (int64_t)2 * q * n; int j0 = kb * KC, j1 = std::min(n, j0 + KC);
    int32_t* J = js + ((int64_t)q * nkb + kb) * KC; int32_t* C = cs + ((int64_t)q * nkb + kb) * 5;
    uint8_t code[KC]; int cnt[5] = {};
    for (int j = j0; j < j1; ++j) { int c = (a[j] != 0) | (a[n + j] != 0) << 1; code[j - j0] = c; cnt[c + 1]++; }
    for (int c = 0; c < 4; ++c) cnt[c + 1] += cnt[c];
    for (int c = 0; c < 5; ++c) C[c] = cnt[c];
    for (int j = j0; j < j1; ++j) J[cnt[code[j - j0]]++] = j;
  }
}
void pair_gemm(const float* A, int B, int n, const float* Wp, int ntiles, float* out, int ldo, int32_t* js, int32_t* cs) {
  pair_lists(A, B, n, js, cs);
  int nkb = (n + KC - 1) / KC;
  for (int t = 0; t < ntiles; ++t) { const float* Wt = Wp + (int64_t)t * n * TILE;
    for (int kb = 0; kb < nkb; ++kb) for (int q = 0; q < B / 2; ++q) {
      const int32_t* J = js + ((int64_t)q * nkb + kb) * KC; const int32_t* C = cs + ((int64_t)q * nkb + kb) * 5;
      pair_tile(J, C, A + (int64_t)2 * q * n, n, Wt, out + (int64_t)2 * q * ldo + t * TILE, ldo, kb > 0);
    } }
}

// baseline one-row loop (the engine's)
__attribute__((noinline)) void part8(const int32_t* is, const float* vs, int k0, int k1, const float* W, float* o, bool load) {
  V a0{}, a1{}, a2{}, a3{}, a4{}, a5{}, a6{}, a7{};
  if (load) { a0=ld(o);a1=ld(o+16);a2=ld(o+32);a3=ld(o+48);a4=ld(o+64);a5=ld(o+80);a6=ld(o+96);a7=ld(o+112);}
#pragma GCC unroll 2
  for (int k = k0; k < k1; ++k) { float v = vs[k]; const float* w = W + (int64_t)is[k] * TILE;
    a0+=v*ld(w);a1+=v*ld(w+16);a2+=v*ld(w+32);a3+=v*ld(w+48);a4+=v*ld(w+64);a5+=v*ld(w+80);a6+=v*ld(w+96);a7+=v*ld(w+112); }
  st(o,a0);st(o+16,a1);st(o+32,a2);st(o+48,a3);st(o+64,a4);st(o+80,a5);st(o+96,a6);st(o+112,a7);
}
void one_gemm(const float* A, int B, int n, const float* Wp, int ntiles, float* out, int ldo, int32_t* idx, float* val, int32_t* start) {
  int nkb = (n + KC - 1) / KC;
  for (int r = 0; r < B; ++r) { const float* a = A + r * n; int32_t* is = idx + r * n; float* vs = val + r * n; int32_t* st_ = start + r * (nkb + 1); int k = 0;
    for (int kb = 0; kb < nkb; ++kb) { st_[kb] = k; for (int j = kb * KC; j < std::min(n, (kb + 1) * KC); ++j) { float v = a[j]; is[k] = j; vs[k] = v; k += v != 0.f; } }
    st_[nkb] = k; }
  for (int t = 0; t < ntiles; ++t) { const float* Wt = Wp + (int64_t)t * n * TILE;
    for (int kb = 0; kb < nkb; ++kb) for (int r = 0; r < B; ++r) { const int32_t* s = start + r * (nkb + 1);
      part8(idx + r * n, val + r * n, s[kb], s[kb + 1], Wt, out + r * ldo + t * TILE, kb > 0); } }
}
int main(int argc, char** argv) {
  const int B = 64, n = 1200, no = 1200, ntiles = (no + TILE - 1) / TILE, ldo = ntiles * TILE, nkb = (n + KC - 1) / KC;
  for (double keep : {0.5, 0.8, 1.0}) {
    std::mt19937 g(1); std::uniform_real_distribution<float> u(0, 1);
    float* A = (float*)aligned_alloc(64, 4 * B * n); float* Wp = (float*)aligned_alloc(64, 4 * (size_t)ntiles * n * TILE);
    float* o1 = (float*)aligned_alloc(64, 4 * B * ldo); float* o2 = (float*)aligned_alloc(64, 4 * B * ldo);
    long kept = 0; for (int i = 0; i < B * n; ++i) { A[i] = u(g) < keep ? u(g) : 0.f; kept += A[i] != 0; }
    for (size_t i = 0; i < (size_t)ntiles * n * TILE; ++i) Wp[i] = u(g) - 0.5f;
    std::vector<int32_t> idx(B * n), start(B * (nkb + 1)), js((B / 4) * nkb * KC), cs((B / 4) * nkb * 17), pjs((B / 2) * nkb * KC), pcs((B / 2) * nkb * 5); std::vector<float> val(B * n);
    double b1 = 1e9, b2 = 1e9, b3 = 1e9; float* o3 = (float*)aligned_alloc(64, 4 * B * ldo);
    for (int r = 0; r < 40; ++r) {
      auto t0 = std::chrono::steady_clock::now(); one_gemm(A, B, n, Wp, ntiles, o1, ldo, idx.data(), val.data(), start.data());
      auto t1 = std::chrono::steady_clock::now(); quad_gemm(A, B, n, Wp, ntiles, o2, ldo, js.data(), cs.data());
      auto t2 = std::chrono::steady_clock::now(); pair_gemm(A, B, n, Wp, ntiles, o3, ldo, pjs.data(), pcs.data());
      auto t3 = std::chrono::steady_clock::now(); b3 = std::min(b3, std::chrono::duration<double>(t3 - t2).count());
      b1 = std::min(b1, std::chrono::duration<double>(t1 - t0).count()); b2 = std::min(b2, std::chrono::duration<double>(t2 - t1).count()); }
    double md = 0; for (int r = 0; r < B; ++r) for (int i = 0; i < no; ++i) md = std::max(md, (double)std::fabs(o1[r * ldo + i] - o2[r * ldo + i]));
    double md3 = 0; for (int r = 0; r < B; ++r) for (int i = 0; i < no; ++i) md3 = std::max(md3, (double)std::fabs(o1[r * ldo + i] - o3[r * ldo + i]));
    printf("keep %.2f: one-row %.1f GF/s, quad-partition %.1f GF/s (%.2fx), pair-partition %.1f GF/s (%.2fx), max|diff| %.2e %.2e\n", keep, 2.0 * kept * no / b1 / 1e9, 2.0 * kept * no / b2 / 1e9, b1 / b2, 2.0 * kept * no / b3 / 1e9, b1 / b3, md, md3);
  }
}
