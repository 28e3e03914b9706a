// Forward kernels, portable build (plain C++ whose 8-lane loops vectorise to SSE2 / NEON): every
// dtype, and the only build of float64.
#include "cpu/short_conv/isa_ops_portable.h"

#define SERENGETI_SHORT_CONV_ISA portable
#include "cpu/short_conv/kernel_common_impl.h"
#include "cpu/short_conv/forward_impl.h"

namespace serengeti::cpu::short_conv::portable {

#define SERENGETI_INSTANTIATE(D)                                                                \
  template void forward_time_major<D>(const ForwardProblem&, int64_t, int64_t, void*);         \
  template void forward_channels_last<D>(const ForwardProblem&, int64_t, int64_t, int64_t, void*);

SERENGETI_INSTANTIATE(DType::kFloat32)
SERENGETI_INSTANTIATE(DType::kFloat64)
SERENGETI_INSTANTIATE(DType::kFloat16)
SERENGETI_INSTANTIATE(DType::kBFloat16)
#undef SERENGETI_INSTANTIATE

}  // namespace serengeti::cpu::short_conv::portable
