// Picks the kernels for the best ISA the running CPU supports (faiss-style per-ISA
// translation units; the library itself is built without -march=native).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernels.h"

namespace dropengine::detail {

namespace {
/// DROPENGINE_SIMD=generic|avx2|avx512 caps the level (tests check every level's kernels
/// against the generic ones on one machine); unset or unknown: the best the CPU has.
int simd_cap() {
    const char* v = std::getenv("DROPENGINE_SIMD");
    if (!v) return 2;
    const std::string s(v);
    return s == "generic" ? 0 : s == "avx2" ? 1 : 2;
}

#if defined(DROPENGINE_HAVE_X86_VARIANTS)
bool has_avx512() {
    __builtin_cpu_init();
    return simd_cap() >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");  // the AVX-512 units' flags
}

bool has_avx512_bf16() {
#if defined(DROPENGINE_HAVE_AVX512BF16)
    return has_avx512() && __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

/// The AVX-512 table, with the native bfloat16 product where the CPU has vdpbf16ps.
template <class T>
const Kernels<T>& avx512_table() {
#if defined(DROPENGINE_HAVE_AVX512BF16)
    if (has_avx512_bf16()) {
        static const Kernels<T> table = [] {
            Kernels<T> k = kernels_avx512<T>();
            k.matmul_bf16 = &matmul_bf16_avx512bf16;
            return k;
        }();
        return table;
    }
#endif
    return kernels_avx512<T>();
}
#endif
}  // namespace

const char* bf16_isa() {
#if defined(DROPENGINE_HAVE_X86_VARIANTS)
    if (has_avx512_bf16()) return "avx512_bf16";
#endif
    return "emulated";
}

template <class T>
const Kernels<T>& kernels() {
#if defined(DROPENGINE_HAVE_X86_VARIANTS)
    __builtin_cpu_init();
    const int cap = simd_cap();
    if (has_avx512()) return avx512_table<T>();
    if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kernels_avx2<T>();
#endif
    return kernels_generic<T>();
}

template const Kernels<float>& kernels<float>();
template const Kernels<double>& kernels<double>();

}  // namespace dropengine::detail
