// One ISA's kernel table, for kernels_<isa>.cpp: that file's compiler flags (CMakeLists.txt)
// build every body below, and make_table points the table's members at them by name.
#pragma once
#include "kernels.h"

#include "bf16_impl.h"
#include "dot_rows_impl.h"
#include "gates_impl.h"
#include "logistic_impl.h"
#include "logistic_run_impl.h"
#include "matmul_skip_impl.h"
#include "philox_impl.h"
#include "sgd_impl.h"

namespace dropengine::detail {
// Internal linkage, as the bodies: each ISA's table points at its own copies.
namespace {

/// Member `name` = this translation unit's `name_body` for every kernel of
/// DROPENGINE_KERNELS; a body missing or of the wrong type is a compile error. constexpr,
/// so the table is constant data: no code compiled for the ISA runs to build it.
template <class T>
constexpr Kernels<T> make_table(const char* isa) {
    Kernels<T> k{};
#define DROPENGINE_KERNEL_FILL(name, type) k.name = &name##_body;
    DROPENGINE_KERNELS(DROPENGINE_KERNEL_FILL)
#undef DROPENGINE_KERNEL_FILL
    k.isa = isa;
    return k;
}

}  // namespace
}  // namespace dropengine::detail
