// The avx512 kernel table: every body compiled with -mavx512f/vl/bw/dq -mfma, 512-bit vectors and FMA contraction
// (set for this file in CMakeLists.txt).
#include "fill_table.h"

namespace dropengine::detail {

template <class T>
const Kernels<T>& kernels_avx512() {
    static constexpr Kernels<T> table = make_table<T>("avx512");
    return table;
}

template const Kernels<float>& kernels_avx512<float>();
template const Kernels<double>& kernels_avx512<double>();

}  // namespace dropengine::detail
