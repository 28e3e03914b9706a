// Backward kernels, AVX2 + FMA + F16C build: float arithmetic for float32 / float16 / bfloat16
// (float64 always runs the portable build). Compiled only on x86-64 with -mavx2 -mfma -mf16c and
// reached only after avx2_enabled().
#include "cpu/short_conv/isa_ops_avx2.h"

#define SERENGETI_SHORT_CONV_ISA avx2
#include "cpu/short_conv/kernel_common_impl.h"
#include "cpu/short_conv/backward_impl.h"

namespace serengeti::cpu::short_conv::avx2 {

#define SERENGETI_INSTANTIATE(D)                                                                \
  template void backward_time_major<D>(const BackwardProblem&, int64_t, int64_t, int64_t,      \
                                       int64_t, void*, double*);                                \
  template void backward_channels_last<D>(const BackwardProblem&, int64_t, int64_t, int64_t,   \
                                          void*, double*);

SERENGETI_INSTANTIATE(DType::kFloat32)
SERENGETI_INSTANTIATE(DType::kFloat16)
SERENGETI_INSTANTIATE(DType::kBFloat16)
#undef SERENGETI_INSTANTIATE

}  // namespace serengeti::cpu::short_conv::avx2
