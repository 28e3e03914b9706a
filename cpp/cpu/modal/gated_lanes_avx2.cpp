// AVX2 + FMA build of the gated front-end kernels (float).
#define SERENGETI_MODAL_ISA avx2
#include "cpu/modal/gated_lanes_impl.h"

namespace serengeti::cpu::modal::avx2 {
template void fir_gate<float>(const GatedFir<float>&, const float*, int64_t, float*, float*);
template void gate_output<float>(const float*, float*, int64_t);
}  // namespace serengeti::cpu::modal::avx2
