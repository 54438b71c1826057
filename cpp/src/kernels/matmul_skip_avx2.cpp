// The kernels compiled for ISA "avx2" (flags set in CMakeLists.txt).
#define DROPENGINE_ISA avx2
#include "kernels_isa.inc"
