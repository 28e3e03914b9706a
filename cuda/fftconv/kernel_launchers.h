// The per-kernel host launchers behind forward_launch.cu, backward_launch.cu and filter_launch.cu (one kernel family per .cu, so the
// instantiations build in parallel). Arguments are validated and sizes nonzero.
#pragma once

#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_args.cuh"
#include "serengeti/dtype.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// forward_fused.cu: whole rows per block, M = 2^a.log2_m <= 8192.
void launch_fused_forward(const ForwardArgs& a, DType dtype, cudaStream_t stream);

// forward_unit_sweep.cu: M = 2^14 in one block of 99 KB, a unit at a time (unit_sweep.cuh).
void launch_unit_sweep_forward(const ForwardArgs& a, DType dtype, cudaStream_t stream);

// forward_split.cu: the multi-kernel path (outer passes + inner kernel on row pairs).
void launch_split_forward(const ForwardArgs& a, const SplitArgs& s, DType dtype, cudaStream_t stream);

// filter.cu: k_f from k, and dk from dk_f, whole channels per block (M <= 8192).
void launch_filter_forward(const FilterArgs& a, cudaStream_t stream);
void launch_filter_backward(const FilterBackwardArgs& a, cudaStream_t stream);
// filter_unit_sweep.cu: k_f from k at M = 2^14 in one block of 99 KB (unit_sweep.cuh).
void launch_unit_sweep_filter_forward(const FilterArgs& a, cudaStream_t stream);
// filter_split.cu: the same through the multi-kernel path (s.sequences = padded channels for the
// forward, dk's rows for the backward).
void launch_split_filter_forward(const FilterArgs& a, const SplitArgs& s, cudaStream_t stream);
void launch_split_filter_backward(const FilterBackwardArgs& a, const SplitArgs& s, cudaStream_t stream);

// backward_fused.cu: channels of one batch row per block (M <= 4096), looping over a batch chunk.
void launch_fused_backward(const BackwardArgs& a, DType dtype, cudaStream_t stream);
// backward_split.cu: the multi-kernel path; signal.ws holds w's rows, gradient.ws g's rows.
void launch_split_backward(const BackwardArgs& a, const SplitArgs& signal, const SplitArgs& gradient,
                           DType dtype, cudaStream_t stream);

// reduce.cu: dk_f from the filter partials [chunks][H][M]; dD from the skip partials [B][H].
void launch_reduce_filter_partials(const float2* partials, int64_t chunks, int64_t channels,
                                   int64_t padded_channels, int log2_m, float2* dk_f,
                                   cudaStream_t stream);
void launch_reduce_skip_partials(const float* partials, int64_t batch, int64_t channels, float* dD,
                                 int64_t stride, cudaStream_t stream);

// outer_pass.cu: stage `stage` of plan(M) over the workspace rows, in place.
void launch_workspace_pass(float2* ws, int64_t rows, int log2_m, int stage, bool inverse,
                           cudaStream_t stream);

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
