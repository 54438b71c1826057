// The avx2 kernel table: every body compiled with -mavx2 -mfma and FMA contraction
// (set for this file in CMakeLists.txt).
#include "fill_table.h"

namespace dropengine::detail {

template <class T>
const Kernels<T>& kernels_avx2() {
    static constexpr Kernels<T> table = make_table<T>("avx2");
    return table;
}

template const Kernels<float>& kernels_avx2<float>();
template const Kernels<double>& kernels_avx2<double>();

}  // namespace dropengine::detail
