// Portable build of the decode-step kernels, and the run-time choice between the builds.
#define SERENGETI_MODAL_ISA portable
#include "cpu/modal/step_kernels_impl.h"

#include "cpu/simd/cpu_features.h"

namespace serengeti::cpu::modal {

namespace portable {
template void step_run<float>(const StepRun<float>&);
template void step_run<double>(const StepRun<double>&);
}  // namespace portable

template <>
StepKernel<float> step_kernel<float>() {
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  if (avx2_enabled()) return &avx2::step_run<float>;
#endif
  return &portable::step_run<float>;
}

template <>
StepKernel<double> step_kernel<double>() {
  return &portable::step_run<double>;
}

}  // namespace serengeti::cpu::modal
