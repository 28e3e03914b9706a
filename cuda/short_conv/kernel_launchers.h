// The per-kernel launchers behind short_conv_launch.cu, one per .cu so the instantiations of each
// kernel family build in parallel. Arguments are already validated; sizes are nonzero where a grid
// depends on them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/short_conv/kernel_args.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {

// Row kernel: a block per (b, c, 1024-step chunk); any strides, vectorised when unit-stride in t.
void launch_forward_rows(const ForwardArgs& a, DType x_dtype, bool silu, cudaStream_t stream);

// Channels-last kernel: x and y with stride 1 along C; a block per (b, 32 channels, time tile).
void launch_forward_channels_last(const ForwardArgs& a, DType x_dtype, bool silu,
                                  cudaStream_t stream);

// Partials are a.chunk_groups blocks' worth per (b, c): see backward_rows.cu.
int64_t backward_chunk_groups(int64_t batch, int64_t channels, int64_t length);
int64_t backward_partials_bytes(int64_t batch, int64_t channels, int64_t length, int taps,
                                DType x_dtype);
// dx, dinitial_state and (when a.partials) the per-block weight/bias partial sums.
void launch_backward_rows(const BackwardArgs& a, DType x_dtype, bool silu, cudaStream_t stream);
// dweight / dbias from the partials, summed in a fixed order.
void launch_reduce_weight_partials(const BackwardArgs& a, DType x_dtype, const Taps2& dweight,
                                   const Vector1& dbias, cudaStream_t stream);

void launch_step(const StepArgs& a, DType x_dtype, bool silu, cudaStream_t stream);

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
