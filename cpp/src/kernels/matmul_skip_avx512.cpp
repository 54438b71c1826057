// The kernels compiled for ISA "avx512" (flags set in CMakeLists.txt).
#define DROPENGINE_ISA avx512
#include "kernels_isa.inc"
