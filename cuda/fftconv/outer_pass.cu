// The outer passes that only touch the workspace (every forward pass but the first, every inverse
// pass but the last), shared by all ops of the multi-kernel path.
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/outer_pass.cuh"
#include "cuda/fftconv/plan.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

template <bool kInverse>
__global__ void __launch_bounds__(kPassThreads)
    workspace_pass_kernel(float2* ws, int64_t rows, int log2_m, int log2_radix, int log2_stride) {
  const WorkspaceRows rows_view{ws, log2_m};
  outer_pass<kInverse>(rows_view, rows_view, rows, log2_m, log2_radix, log2_stride);
}

}  // namespace

void launch_workspace_pass(float2* ws, int64_t rows, int log2_m, int stage, bool inverse,
                           cudaStream_t stream) {
  const Plan plan = make_plan(log2_m);
  const int r = plan.log2_radix(stage), s = plan.log2_stride(stage);
  if (inverse) {
    SG_LAUNCH(workspace_pass_kernel<true>, pass_grid(rows, log2_m, r), kPassThreads, 0, stream)(
        ws, rows, log2_m, r, s);
  } else {
    SG_LAUNCH(workspace_pass_kernel<false>, pass_grid(rows, log2_m, r), kPassThreads, 0, stream)(
        ws, rows, log2_m, r, s);
  }
  check_launch("workspace_pass_kernel");
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
