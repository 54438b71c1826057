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
}  // namespace

template <class T>
const Kernels<T>& kernels() {
#if defined(DROPENGINE_HAVE_X86_VARIANTS)
    __builtin_cpu_init();
    const int cap = simd_cap();
    if (cap >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))  // the flags the AVX-512 units are compiled with
        return kernels_avx512<T>();
    if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kernels_avx2<T>();
#endif
    return kernels_generic<T>();
}

template const Kernels<float>& kernels<float>();
template const Kernels<double>& kernels<double>();

}  // namespace dropengine::detail
