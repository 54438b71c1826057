#pragma once
#include <string>

namespace dropengine {

/// Library version, "MAJOR.MINOR.PATCH".
const char* version();
/// True when compiled with OpenMP.
bool has_openmp();
/// Maximum number of OpenMP threads (1 without OpenMP).
int max_threads();
/// SIMD level the kernels dispatch to on this machine: "avx512", "avx2" or "generic".
std::string simd_level();
/// How sample(..., bf16) computes on this machine: "avx512_bf16" (vdpbf16ps) or "emulated".
std::string bf16_level();

}  // namespace dropengine
