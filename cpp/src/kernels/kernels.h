// Hot loops of the sampler, the exact enumerator and the trainer, runtime-dispatched by
// ISA (AVX-512 / AVX2 / portable). Each ISA compiles the same bodies (*_impl.h) with its
// own flags into one table (kernels_<isa>.cpp); dispatch.cpp picks a table at run time.
// The dispatched kernels are checked against the portable ones in cpp/tests (test_sampler,
// test_philox, test_enumerate) and, through the engine, against dropengine/_reference.py at
// every level DROPENGINE_SIMD selects (tests/test_reference_twin.py, test_simd_levels.py).
//
// Adding a kernel (ARCHITECTURE.md, "Adding a kernel"): its function type and a line in
// DROPENGINE_KERNELS below, and its body `<name>_body` in the *_impl.h of its concept.
#pragma once
#include <cstdint>
#include <type_traits>

namespace dropengine::detail {

/// Width (in elements) of the column tiles of a packed weight matrix.
template <class T>
constexpr std::int64_t kTile = 512 / sizeof(T);  // 128 floats or 64 doubles: 8 zmm registers

/// Input pairs of the bfloat16 product (bf16_impl.h) of a layer with n_in inputs (an odd
/// last input is paired with a zero).
inline std::int64_t n_pairs(std::int64_t n_in) { return (n_in + 1) / 2; }

/// Rows of packed weights per slab of matmul_skip (64 * 512 B = 32 KiB stays in L1).
/// The caller sizes the nonzero-list scratch with it: B * n_in + B * (n_slabs + 1) ints.
constexpr std::int64_t kSlabRows = 64;

/// Packed W^T of one layer: for each tile of kTile output units, n_in rows of kTile
/// values (zero-padded past n_out), so a tile's weights are contiguous.
/// Wp size: n_tiles(n_out) * n_in * kTile.
template <class T>
inline std::int64_t n_tiles(std::int64_t n_out) { return (n_out + kTile<T> - 1) / kTile<T>; }

/// f(std::integral_constant<int, n>{}) for a vector count n in 1..8 known only at run time:
/// the products' register parts take their width as a template argument (named
/// accumulators, see matmul_skip_impl.h), and the last tile of a layer picks it by size.
template <class F>
inline void with_vectors(std::int64_t n, F&& f) {
    switch (n) {
        case 1: f(std::integral_constant<int, 1>{}); break;
        case 2: f(std::integral_constant<int, 2>{}); break;
        case 3: f(std::integral_constant<int, 3>{}); break;
        case 4: f(std::integral_constant<int, 4>{}); break;
        case 5: f(std::integral_constant<int, 5>{}); break;
        case 6: f(std::integral_constant<int, 6>{}); break;
        case 7: f(std::integral_constant<int, 7>{}); break;
        case 8: f(std::integral_constant<int, 8>{}); break;
        default: break;
    }
}

/// The nonzero entries of rows of a matrix, listed by sparse_lists: row r's k-th nonzero
/// is (idx[r * n + k], val[r * n + k]), and those in slab kb of kSlabRows columns are
/// k in [start[r * (n_slabs + 1) + kb], start[r * (n_slabs + 1) + kb + 1]).
template <class T>
struct SparseRows {
    const std::int32_t* idx;
    const T* val;
    const std::int32_t* start;
    std::int64_t n;  ///< columns
};

/// Lists the nonzeros of rows r0 <= r < r1 of the matrix with element (r, k) at
/// A[r * rs + k * cs], k < n, into idx, val (n per row) and start (n_slabs + 1 per row).
template <class T>
using SparseListsFn = void (*)(const T* A, std::int64_t rs, std::int64_t cs, std::int64_t r0, std::int64_t r1,
                               std::int64_t n, std::int32_t* idx, T* val, std::int32_t* start);

/// For rows r0 <= r < r1 and column tiles t0 <= t < t1:
/// out[r, tile t] (=, or += when accumulate) sum over the nonzeros (k, a) of row r of a * Wt[k, tile t],
/// where Wt's tile t of row k is the kTile values at Wt + t * wts + k * wrs and out's at
/// out + r * ors + t * ots. Only the first n_cols columns of the whole product are
/// wanted: a tile's columns past n_cols, rounded up to a whole vector, cost nothing and
/// are left as they are. Each output is summed in the order of k, whatever the split
/// of rows and tiles among threads and the width computed: results do not depend on
/// the thread count.
template <class T>
using SkipGemmFn = void (*)(const SparseRows<T>& A, std::int64_t r0, std::int64_t r1, const T* Wt, std::int64_t wts,
                            std::int64_t wrs, std::int64_t t0, std::int64_t t1, std::int64_t n_cols, T* out,
                            std::int64_t ors, std::int64_t ots, bool accumulate);

/// S[s, :n_out] (row stride ldS >= n_tiles * kTile) = sum over the nonzero A[s, j] of
/// A[s, j] * W[:, j], for s < B, A row-major (B x n_in). Zero entries of A, dropped
/// units and zero inputs alike, cost nothing; so do the columns of the last tile past
/// n_out rounded up to a whole vector (left as they are). `idx` (B * n_in ints) and
/// `val` (B * n_in values) are scratch.
template <class T>
using MatmulSkipFn = void (*)(const T* A, std::int64_t B, std::int64_t n_in, const T* Wp, std::int64_t n_out,
                              T* S, std::int64_t ldS, std::int32_t* idx, T* val);

/// The sampler's opt-in bfloat16 product (bf16_impl.h): S[s, :n_out] (row stride ldS) = sum
/// over the nonzero input pairs of row s of A (B x n_in) of the pair's bfloat16 dot product
/// with the packed pairs Wp2 (pack.h, pack_pairs_bf16), float32 sums; as in matmul_skip,
/// the last tile's columns past n_out rounded up to 16 are not written. idx: B *
/// n_pairs(n_in) + B * (n_slabs + 1) ints of scratch; val: B * n_pairs(n_in) words.
using MatmulBf16Fn = void (*)(const float* A, std::int64_t B, std::int64_t n_in, const std::uint32_t* Wp2,
                              std::int64_t n_out, float* S, std::int64_t ldS, std::int32_t* idx, std::uint32_t* val);

/// The float32 logistic transfer of one sample row fused with the sampler's block sums
/// (logistic_impl.h): O, and the sums of O, S, log O, log(1 - O) and sigma'(S).
using LogisticSumsFn = void (*)(const float* S, float* O, std::int64_t n, float lam, float logc, double* mean,
                                double* mS, double* sl, double* slc, double* md);
/// The same for float64 (logistic_impl.h): the same bits on every ISA.
using LogisticSums64Fn = void (*)(const double* S, double* O, std::int64_t n, double lam, double logc, double* mean,
                                  double* mS, double* sl, double* slc, double* md);

/// The sampler's squared deviations of one sample row from the block means
/// (logistic_impl.h), without contraction: the bits of a plain loop.
template <class T>
using SquareSumsFn = void (*)(const T* O, const T* S, const double* mean, const double* mS, double* m2,
                              double* m2S, std::int64_t n);

/// Training's float32 logistic forward: S += b (b may be null), O = sigma(S) (Eq. 27).
using LogisticBiasFn = void (*)(float* S, const float* b, float* O, std::int64_t n, float lam, float logc);

/// G[b, j] = sum_i D[b, i] W[i, j] for b0 <= b < b1, j0 <= j < j1, from the packed W^T
/// (Wp: n_tiles(n_out) tiles of n_in rows) and D (row stride ldd, zero past n_out);
/// each entry summed in a fixed order (dot_rows_impl.h).
template <class T>
using DotRowsFn = void (*)(const T* D, std::int64_t ldd, std::int64_t b0, std::int64_t b1, const T* Wp,
                           std::int64_t n_in, std::int64_t n_out, std::int64_t j0, std::int64_t j1, T* G,
                           std::int64_t ldg);

/// The trainer's SGD step with momentum (sgd_impl.h): v = mu v - lr (g + wd w); w += v.
template <class T>
using SgdMomentumFn = void (*)(T* W, T* V, const T* g, std::int64_t n, T mu, T lr, T wd);
/// rows[c * ld + j] = tile[j * tile_width + c] for c < n_c, r0 <= j < r1 (sgd_impl.h).
template <class T>
using TileToRowsFn = void (*)(const T* tile, std::int64_t tile_width, std::int64_t r0, std::int64_t r1,
                              std::int64_t n_c, T* rows, std::int64_t ld);

/// Split-halves enumeration kernel (see logistic_run_impl.h): over B[0..n), sums
/// out[0] = sum (O - shift), out[1] = sum (O - shift)^2, out[2] = sum log(1 + A B)
/// with O = 1 / (1 + A B).
using LogisticRunFn = void (*)(const double* B, std::int64_t n, double A, double shift, double* out);

/// The Philox words of counters (c0 + b, c1, c2, c3), b < n_blocks, under key (k0, k1):
/// out[4 b + q] = word q (see philox_impl.h). out holds 4 * round_up(n_blocks, 16) words.
using PhiloxFillFn = void (*)(std::uint32_t c0, std::int64_t n_blocks, std::uint32_t c1, std::uint32_t c2,
                              std::uint32_t c3, std::uint32_t k0, std::uint32_t k1, std::uint32_t* out);
/// sum_j [words[j] < thr] W[j] a[j]; and with a threshold per element.
template <class T>
using GatedDotFn = T (*)(const T* W, const T* a, const std::uint32_t* words, std::uint64_t thr, std::int64_t n);
template <class T>
using GatedDotEachFn = T (*)(const T* W, const T* a, const std::uint32_t* words, const std::uint64_t* thr,
                             std::int64_t n);

/// y[j] += [words[j] < t_j] d x[j], t_j = thr_each[j] if thr_each, else thr (<= 2^32): the
/// backward pass of connection gates (Eq. 172, 173 with each connection's own delta).
template <class T>
using GatedAxpyFn = void (*)(T* y, T d, const T* x, const std::uint32_t* words, std::uint64_t thr,
                             const std::uint64_t* thr_each, std::int64_t n);

/// bits[j / 64] bit j % 64 = [words[j] < t_j], t_j as in GatedAxpyFn (gates_impl.h).
using KeepBitsFn = void (*)(const std::uint32_t* words, std::uint64_t thr, const std::uint64_t* thr_each,
                            std::int64_t n, std::uint64_t* bits);
/// y[j] += [bit j of bits] d x[j], rounded as GatedAxpyFn (the same bits).
template <class T>
using BitsAxpyFn = void (*)(T* y, T d, const T* x, const std::uint64_t* bits, std::int64_t n);

/// sum_j [u[j] < thi] W[j] a[j] with 16-bit draws; *ties counts u[j] == thi.
template <class T>
using GatedDot16Fn = T (*)(const T* W, const T* a, const std::uint16_t* u, std::uint32_t thi, std::int64_t n,
                           std::int64_t* ties);

/// sum_j bit(off + j) W[j] a[j] (one random bit per connection).
template <class T>
using GatedDotBitsFn = T (*)(const T* W, const T* a, const std::uint32_t* words, std::int64_t off, std::int64_t n);

/// Connection-specific spikes with 8-bit draws; tie positions out (gates_impl.h).
template <class T>
using SpikeDot8Fn = T (*)(const T* WR, const std::uint8_t* u, const std::uint8_t* th, std::int64_t n,
                          std::int32_t* ties, std::int64_t* n_ties);
using SpikeAccumulate8Fn = void (*)(double* g, const std::uint8_t* u, const std::uint8_t* th, const double* r,
                                    std::int64_t n);
/// out[k] = word q[k] of the Philox block (c0[k], c1[k], c2[k], c3[k]) under key (k0, k1).
using PhiloxWordsFn = void (*)(std::int64_t n, const std::uint32_t* c0, const std::uint32_t* c1,
                               const std::uint32_t* c2, const std::uint32_t* c3, const std::uint8_t* q,
                               std::uint32_t k0, std::uint32_t k1, std::uint32_t* out);

/// Every kernel once, as X(member name, function type). Each ISA's table points member
/// `name` at that ISA's `name_body` (fill_table.h), so this list is the only place that
/// names the kernels: no positional initialisers to keep in step.
#define DROPENGINE_KERNELS(X)                 \
    X(matmul_skip, MatmulSkipFn<T>)           \
    X(matmul_bf16, MatmulBf16Fn)              \
    X(sparse_lists, SparseListsFn<T>)         \
    X(skip_gemm, SkipGemmFn<T>)               \
    X(logistic_bias, LogisticBiasFn)          \
    X(logistic_sums, LogisticSumsFn)          \
    X(logistic_sums64, LogisticSums64Fn)      \
    X(square_sums, SquareSumsFn<T>)           \
    X(dot_rows, DotRowsFn<T>)                 \
    X(sgd_momentum, SgdMomentumFn<T>)         \
    X(tile_to_rows, TileToRowsFn<T>)          \
    X(logistic_run, LogisticRunFn)            \
    X(philox_fill, PhiloxFillFn)              \
    X(gated_dot, GatedDotFn<T>)               \
    X(gated_dot_each, GatedDotEachFn<T>)      \
    X(gated_axpy, GatedAxpyFn<T>)             \
    X(keep_bits, KeepBitsFn)                  \
    X(bits_axpy, BitsAxpyFn<T>)               \
    X(gated_dot_bits, GatedDotBitsFn<T>)      \
    X(gated_dot16, GatedDot16Fn<T>)           \
    X(philox_words, PhiloxWordsFn)            \
    X(spike_dot8, SpikeDot8Fn<T>)             \
    X(spike_accumulate8, SpikeAccumulate8Fn)

/// One ISA's kernels. matmul_bf16, logistic_bias and logistic_sums serve float32 networks only,
/// logistic_run the float64 exact enumeration; the table holds them for both T.
template <class T>
struct Kernels {
#define DROPENGINE_KERNEL_MEMBER(name, type) type name = nullptr;
    DROPENGINE_KERNELS(DROPENGINE_KERNEL_MEMBER)
#undef DROPENGINE_KERNEL_MEMBER
    const char* isa = nullptr;
};

/// True when every entry of the table is set. make_table (fill_table.h) sets every member
/// by name, so a missing body is a compile error in every ISA file, the AVX-512 one
/// included; cpp/tests checks this of the tables the machine can run. (Not a static_assert
/// in the ISA files: under -fsanitize, GCC does not treat a function's address as a
/// constant expression.)
template <class T>
constexpr bool complete(const Kernels<T>& k) {
    bool ok = k.isa != nullptr;
#define DROPENGINE_KERNEL_SET(name, type) ok = ok && k.name != nullptr;
    DROPENGINE_KERNELS(DROPENGINE_KERNEL_SET)
#undef DROPENGINE_KERNEL_SET
    return ok;
}

/// The kernels for the best ISA this CPU supports.
template <class T>
const Kernels<T>& kernels();
/// The portable kernels (reference twin for tests).
template <class T>
const Kernels<T>& kernels_generic();
/// The AVX2 + FMA and the AVX-512 (F, VL, BW, DQ) tables: call only on a CPU that has
/// those instructions (kernels() checks).
template <class T>
const Kernels<T>& kernels_avx2();
template <class T>
const Kernels<T>& kernels_avx512();

/// matmul_bf16 with the AVX512_BF16 instruction vdpbf16ps (kernels_bf16.cpp): kernels()
/// puts it in the AVX-512 table on a CPU that has the instruction.
void matmul_bf16_avx512bf16(const float* A, std::int64_t B, std::int64_t n_in, const std::uint32_t* Wp2,
                            std::int64_t n_out, float* S, std::int64_t ldS, std::int32_t* idx, std::uint32_t* val);
/// How matmul_bf16 runs on this CPU: "avx512_bf16" (native) or "emulated" (float32
/// arithmetic on the bfloat16 values: the same bits, slower).
const char* bf16_isa();

}  // namespace dropengine::detail
