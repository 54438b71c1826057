// The kernels compiled for ISA "generic" (flags set in CMakeLists.txt).
#define DROPENGINE_ISA generic
#include "kernels_isa.inc"
