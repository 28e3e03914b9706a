// AVX2 + FMA build of the lane scan kernels (float; float64 runs the portable build).
#define SERENGETI_MODAL_ISA avx2
#include "cpu/modal/scan_lanes_impl.h"

namespace serengeti::cpu::modal::avx2 {
template void scan_forward<float>(const LaneModes<float>&, float*, const float*, float*, float*, int64_t);
template void scan_adjoint<float>(const LaneModes<float>&, float*, const float*, int64_t);
template void scan_backward<float>(const LaneModes<float>&, float*, const float*, const float*,
                                   const float*, const float*, float*, const LaneGrads<float>&, int64_t);
}  // namespace serengeti::cpu::modal::avx2
