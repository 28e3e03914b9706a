// AVX2 + FMA build of the decode-step kernels (float; float64 runs the portable build).
#define SERENGETI_MODAL_ISA avx2
#include "cpu/modal/step_kernels_impl.h"

namespace serengeti::cpu::modal::avx2 {
template void step_run<float>(const StepRun<float>&);
}  // namespace serengeti::cpu::modal::avx2
