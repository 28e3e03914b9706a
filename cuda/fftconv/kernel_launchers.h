// The per-kernel host launchers behind fftconv_launch.cu (one kernel family per .cu, so the
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

// filter.cu: k_f from k, and dk from dk_f, whole channels per block (M <= 8192).
void launch_filter_forward(const FilterArgs& a, cudaStream_t stream);
void launch_filter_backward(const FilterBackwardArgs& a, cudaStream_t stream);

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
