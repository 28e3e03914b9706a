// Portable build of the gated front-end kernels, and the run-time choice between the builds.
#define SERENGETI_MODAL_ISA portable
#include "cpu/modal/gated_lanes_impl.h"

#include "cpu/simd/cpu_features.h"

namespace serengeti::cpu::modal {

namespace portable {
template void fir_gate<float>(const GatedFir<float>&, const float*, int64_t, float*, float*);
template void fir_gate<double>(const GatedFir<double>&, const double*, int64_t, double*, double*);
template void gate_output<float>(const float*, float*, int64_t);
template void gate_output<double>(const double*, double*, int64_t);
}  // namespace portable

template <>
const GatedKernels<float>& gated_kernels<float>() {
  static const GatedKernels<float> portable_build{&portable::fir_gate<float>, &portable::gate_output<float>};
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  static const GatedKernels<float> avx2_build{&avx2::fir_gate<float>, &avx2::gate_output<float>};
  if (avx2_enabled()) return avx2_build;
#endif
  return portable_build;
}

template <>
const GatedKernels<double>& gated_kernels<double>() {
  static const GatedKernels<double> portable_build{&portable::fir_gate<double>, &portable::gate_output<double>};
  return portable_build;
}

}  // namespace serengeti::cpu::modal
