// The per-kernel launchers behind modal_launch.cu, one .cu each so the instantiations build in
// parallel. Arguments are already validated; sizes are nonzero where a grid depends on them.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/kernel_args.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {

// synthesis.cu: a block per (row, chunk of time), out stored as `out_dtype`.
void launch_synthesis(const SynthesisArgs& a, DType out_dtype, cudaStream_t stream);

// analysis.cu: a block per channel (per (b, c) for the state forward), fixed-order reductions.
enum class AnalysisEpilogue : int {
  kKernelGrads,   // dR = conj(G0), dp = conj(R G1)                           (B = 1)
  kStateForward,  // s = p^L s0 + G0                                          (per b)
  kStateGrads,    // ds0 = g conj(p^L), dp = sum_b conj(L p^(L-1) s0 + G1) g  (over b)
};
void launch_analysis(const AnalysisArgs& a, AnalysisEpilogue epilogue, DType in_dtype,
                     cudaStream_t stream);

// scan_forward.cu / scan_backward.cu: the launcher sets a.chunk_length and a.chunks.
void launch_scan_forward(ScanArgs a, DType w_dtype, cudaStream_t stream);
void launch_scan_backward(ScanArgs a, DType w_dtype, cudaStream_t stream);
// Largest mode count the scan kernels' shared memory holds (at least one thread per block).
int64_t scan_max_modes(DType w_dtype);

// gated_step.cu / gated_recurrence.cu: a thread per (b, d).
void launch_gated_step(const GatedArgs& a, DType z_dtype, cudaStream_t stream);
void launch_gated_recurrence(const GatedArgs& a, DType z_dtype, cudaStream_t stream);
int64_t recurrence_max_modes(DType z_dtype);

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
