// The AVX-512 intrinsics for the kernel bodies that use them (gates_impl.h,
// philox_impl.h); nothing without __AVX512F__. Included only by the per-ISA kernel
// translation units, so the warnings switched off here stay there.
#pragma once
#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12's own AVX-512 intrinsic headers trip these warnings (_mm512_undefined_*).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
