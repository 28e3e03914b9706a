// Portable build of the block kernels, and the run-time choice between the builds.
#define SERENGETI_MODAL_ISA portable
#include "cpu/modal/block_kernels_impl.h"

#include "cpu/simd/cpu_features.h"

namespace serengeti::cpu::modal {

namespace portable {
template void synthesize_block<float>(const BlockTables<float>&, const Complex*, float*);
template void synthesize_block<double>(const BlockTables<double>&, const Complex*, double*);
template void synthesize_run<float>(const BlockTables<float>&, Complex*, const Complex*, float*, int64_t);
template void synthesize_run<double>(const BlockTables<double>&, Complex*, const Complex*, double*, int64_t);
template void analyze_block<float>(const BlockTables<float>&, const float*, Complex*, Complex*);
template void analyze_block<double>(const BlockTables<double>&, const double*, Complex*, Complex*);
}  // namespace portable

template <>
const BlockKernels<float>& block_kernels<float>() {
  static const BlockKernels<float> portable_build{
      &portable::synthesize_block<float>, &portable::synthesize_run<float>, &portable::analyze_block<float>};
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  static const BlockKernels<float> avx2_build{
      &avx2::synthesize_block<float>, &avx2::synthesize_run<float>, &avx2::analyze_block<float>};
  if (avx2_enabled()) return avx2_build;
#endif
  return portable_build;
}

template <>
const BlockKernels<double>& block_kernels<double>() {
  static const BlockKernels<double> portable_build{
      &portable::synthesize_block<double>, &portable::synthesize_run<double>, &portable::analyze_block<double>};
  return portable_build;
}

}  // namespace serengeti::cpu::modal
