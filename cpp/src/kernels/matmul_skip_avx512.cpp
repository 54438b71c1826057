// The zero-skipping product compiled for ISA "avx512" (flags set in CMakeLists.txt).
#include "logistic_impl.h"
#include "matmul_skip_impl.h"

namespace dropengine::detail {

template <class T>
void matmul_skip_avx512(const T* A, std::int64_t B, std::int64_t n_in, const T* Wp, std::int64_t n_out, T* S,
                      std::int64_t ldS, std::int32_t* idx, T* val) {
    matmul_skip_body<T>(A, B, n_in, Wp, n_out, S, ldS, idx, val);
}
template void matmul_skip_avx512<float>(const float*, std::int64_t, std::int64_t, const float*, std::int64_t,
                                      float*, std::int64_t, std::int32_t*, float*);
template void matmul_skip_avx512<double>(const double*, std::int64_t, std::int64_t, const double*,
                                       std::int64_t, double*, std::int64_t, std::int32_t*, double*);

void logistic_row_avx512(const float* S, float* O, double* logO, double* logOc, double* dO, std::int64_t n,
                        float lam, float logc) {
    logistic_row_body(S, O, logO, logOc, dO, n, lam, logc);
}

}  // namespace dropengine::detail
