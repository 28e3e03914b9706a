// Portable build of the lane scan kernels, and the run-time choice between the builds.
#define SERENGETI_MODAL_ISA portable
#include "cpu/modal/scan_lanes_impl.h"

#include "cpu/simd/cpu_features.h"

namespace serengeti::cpu::modal {

namespace portable {
#define SERENGETI_INSTANTIATE(T)                                                                  \
  template void scan_forward<T>(const LaneModes<T>&, T*, const T*, T*, T*, int64_t);              \
  template void scan_adjoint<T>(const LaneModes<T>&, T*, const T*, int64_t);                      \
  template void scan_backward<T>(const LaneModes<T>&, T*, const T*, const T*, const T*, const T*, \
                                 T*, const LaneGrads<T>&, int64_t);
SERENGETI_INSTANTIATE(float)
SERENGETI_INSTANTIATE(double)
#undef SERENGETI_INSTANTIATE
}  // namespace portable

template <>
const ScanKernels<float>& scan_kernels<float>() {
  static const ScanKernels<float> portable_build{&portable::scan_forward<float>,
                                                 &portable::scan_adjoint<float>,
                                                 &portable::scan_backward<float>};
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  static const ScanKernels<float> avx2_build{&avx2::scan_forward<float>, &avx2::scan_adjoint<float>,
                                             &avx2::scan_backward<float>};
  if (avx2_enabled()) return avx2_build;
#endif
  return portable_build;
}

template <>
const ScanKernels<double>& scan_kernels<double>() {
  static const ScanKernels<double> portable_build{&portable::scan_forward<double>,
                                                  &portable::scan_adjoint<double>,
                                                  &portable::scan_backward<double>};
  return portable_build;
}

}  // namespace serengeti::cpu::modal
