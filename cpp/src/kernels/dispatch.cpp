// Picks the kernels for the best ISA the running CPU supports (faiss-style per-ISA
// translation units; the library itself is built without -march=native).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernels.h"

namespace dropengine::detail {

#define DROPENGINE_DECLARE(isa)                                                                           \
    template <class T>                                                                                    \
    void matmul_skip_##isa(const T*, std::int64_t, std::int64_t, const T*, std::int64_t, T*, std::int64_t, \
                           std::int32_t*, T*);                                                       \
    template <class T>                                                                                    \
    void sparse_lists_##isa(const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                            std::int32_t*, T*, std::int32_t*);                                            \
    template <class T>                                                                                    \
    void skip_gemm_##isa(const SparseRows<T>&, std::int64_t, std::int64_t, const T*, std::int64_t, std::int64_t, \
                         std::int64_t, std::int64_t, T*, std::int64_t, std::int64_t, bool);               \
    void logistic_bias_##isa(float*, const float*, float*, std::int64_t, float, float);                 \
    template <class T>                                                                                 \
    void square_sums_##isa(const T*, const T*, const double*, const double*, double*, double*, std::int64_t); \
    void logistic_sums_##isa(const float*, float*, std::int64_t, float, float, double*, double*, double*, \
                             double*, double*);                                                        \
    template <class T>                                                                                 \
    void dot_rows_##isa(const T*, std::int64_t, std::int64_t, std::int64_t, const T*, std::int64_t, std::int64_t, \
                        std::int64_t, std::int64_t, T*, std::int64_t);                                 \
    template <class T>                                                                                 \
    void sgd_momentum_##isa(T*, T*, const T*, std::int64_t, T, T, T);                                  \
    template <class T>                                                                                 \
    void tile_to_rows_##isa(const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, T*, std::int64_t); \
    void logistic_run_##isa(const double*, std::int64_t, double, double, double*);                    \
    void philox_fill_##isa(std::uint32_t, std::int64_t, std::uint32_t, std::uint32_t, std::uint32_t,   \
                           std::uint32_t, std::uint32_t, std::uint32_t*);                              \
    template <class T>                                                                                 \
    T gated_dot_##isa(const T*, const T*, const std::uint32_t*, std::uint64_t, std::int64_t);          \
    template <class T>                                                                                 \
    T gated_dot_each_##isa(const T*, const T*, const std::uint32_t*, const std::uint64_t*, std::int64_t); \
    template <class T>                                                                                 \
    T gated_dot_bits_##isa(const T*, const T*, const std::uint32_t*, std::int64_t, std::int64_t);      \
    template <class T>                                                                                 \
    T gated_dot16_##isa(const T*, const T*, const std::uint16_t*, std::uint32_t, std::int64_t, std::int64_t*); \
    template <class T>                                                                                 \
    T spike_dot8_##isa(const T*, const std::uint8_t*, const std::uint8_t*, std::int64_t, std::int32_t*, std::int64_t*); \
    void spike_accumulate8_##isa(double*, const std::uint8_t*, const std::uint8_t*, const double*, std::int64_t); \
    void philox_words_##isa(std::int64_t, const std::uint32_t*, const std::uint32_t*, const std::uint32_t*, \
                            const std::uint32_t*, const std::uint8_t*, std::uint32_t, std::uint32_t, std::uint32_t*);
DROPENGINE_DECLARE(generic)
#if defined(DROPENGINE_HAVE_X86_VARIANTS)
DROPENGINE_DECLARE(avx2)
DROPENGINE_DECLARE(avx512)
#endif
#undef DROPENGINE_DECLARE

template <class T>
const Kernels<T>& kernels_generic() {
    static const Kernels<T> k{&matmul_skip_generic<T>, &sparse_lists_generic<T>, &skip_gemm_generic<T>, &logistic_bias_generic, &logistic_sums_generic, &square_sums_generic<T>, &dot_rows_generic<T>, &sgd_momentum_generic<T>, &tile_to_rows_generic<T>, &logistic_run_generic, &philox_fill_generic, &gated_dot_generic<T>, &gated_dot_each_generic<T>, &gated_dot_bits_generic<T>, &gated_dot16_generic<T>, &philox_words_generic, &spike_dot8_generic<T>, &spike_accumulate8_generic, "generic"};
    return k;
}

namespace {
/// DROPENGINE_SIMD=generic|avx2|avx512 caps the level (tests check every level's kernels
/// against the generic ones on one machine); unset or unknown: the best the CPU has.
int simd_cap() {
    const char* v = std::getenv("DROPENGINE_SIMD");
    if (!v) return 2;
    const std::string s(v);
    return s == "generic" ? 0 : s == "avx2" ? 1 : 2;
}
}  // namespace

template <class T>
const Kernels<T>& kernels() {
#if defined(DROPENGINE_HAVE_X86_VARIANTS)
    static const Kernels<T> k512{&matmul_skip_avx512<T>, &sparse_lists_avx512<T>, &skip_gemm_avx512<T>, &logistic_bias_avx512, &logistic_sums_avx512, &square_sums_avx512<T>, &dot_rows_avx512<T>, &sgd_momentum_avx512<T>, &tile_to_rows_avx512<T>, &logistic_run_avx512, &philox_fill_avx512, &gated_dot_avx512<T>, &gated_dot_each_avx512<T>, &gated_dot_bits_avx512<T>, &gated_dot16_avx512<T>, &philox_words_avx512, &spike_dot8_avx512<T>, &spike_accumulate8_avx512, "avx512"};
    static const Kernels<T> k2{&matmul_skip_avx2<T>, &sparse_lists_avx2<T>, &skip_gemm_avx2<T>, &logistic_bias_avx2, &logistic_sums_avx2, &square_sums_avx2<T>, &dot_rows_avx2<T>, &sgd_momentum_avx2<T>, &tile_to_rows_avx2<T>, &logistic_run_avx2, &philox_fill_avx2, &gated_dot_avx2<T>, &gated_dot_each_avx2<T>, &gated_dot_bits_avx2<T>, &gated_dot16_avx2<T>, &philox_words_avx2, &spike_dot8_avx2<T>, &spike_accumulate8_avx2, "avx2"};
    __builtin_cpu_init();
    const int cap = simd_cap();
    if (cap >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))  // the flags the AVX-512 units are compiled with
        return k512;
    if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return k2;
#endif
    return kernels_generic<T>();
}

template const Kernels<float>& kernels<float>();
template const Kernels<double>& kernels<double>();
template const Kernels<float>& kernels_generic<float>();
template const Kernels<double>& kernels_generic<double>();

}  // namespace dropengine::detail
