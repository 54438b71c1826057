// The generic kernel table: every body compiled with the library's baseline flags
// (set for this file in CMakeLists.txt).
#include "fill_table.h"

namespace dropengine::detail {

template <class T>
const Kernels<T>& kernels_generic() {
    static constexpr Kernels<T> table = make_table<T>("generic");
    return table;
}

template const Kernels<float>& kernels_generic<float>();
template const Kernels<double>& kernels_generic<double>();

}  // namespace dropengine::detail
