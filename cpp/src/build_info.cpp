#include "dropengine/build_info.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"

#ifndef DROPENGINE_VERSION
#define DROPENGINE_VERSION "0.0.0"
#endif

namespace dropengine {

const char* version() { return DROPENGINE_VERSION; }

bool has_openmp() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

std::string simd_level() { return detail::kernels<float>().isa; }

std::string bf16_level() { return detail::bf16_isa(); }

}  // namespace dropengine
