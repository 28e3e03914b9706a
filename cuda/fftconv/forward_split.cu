// Forward FFT convolution of long sequences (M = N/2 > 16384): the multi-kernel path.
//
//   first pass     w = u * pregate (packed, zero-padded) -> stage 0 -> workspace
//   outer passes   stages 1 .. o-1 over the workspace (outer_pass.cu)
//   inner kernel   blocks of row pairs: remaining stages, fold, Y = W K, unfold, inverse stages
//   outer passes   inverse stages o-1 .. 1
//   last pass      inverse stage 0 -> y = postgate * (y_conv / M + D w)
//
// The complex intermediate lives in the workspace (B * H * M float2, allocated by the torch
// layer); k_f is in the same position order as the fused kernel's (plan.cuh).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/outer_pass.cuh"
#include "cuda/fftconv/row_io.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/signal_io.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

template <class T>
__global__ void __launch_bounds__(kPassThreads) forward_first_pass_kernel(ForwardArgs a, SplitArgs s) {
  const Plan plan = make_plan(s.log2_m);
  const GatedSignalSource<T> source{a.u, a.pregate, a.channels, a.length};
  const WorkspaceRows sink{s.ws, s.log2_m};
  outer_pass<false>(source, sink, s.sequences, s.log2_m, plan.log2_radix(0), plan.log2_stride(0));
}

template <class T>
__global__ void __launch_bounds__(kPassThreads) forward_last_pass_kernel(ForwardArgs a, SplitArgs s) {
  const Plan plan = make_plan(s.log2_m);
  const WorkspaceRows source{s.ws, s.log2_m};
  const ScaledSkipSink<T> sink{a.u,        a.pregate, a.postgate, a.y,
                               a.D,        a.D_stride, a.channels, a.length,
                               1.0f / float(int64_t(1) << s.log2_m)};
  outer_pass<true>(source, sink, s.sequences, s.log2_m, plan.log2_radix(0), plan.log2_stride(0));
}

__global__ void __launch_bounds__(kThreads, 1) forward_inner_kernel(ForwardArgs a, SplitArgs s) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const BlockShared sm = open_block(fftconv_shared, (2 * s.units_per_block) << s.log2_row, s.log2_row);
  const RowSplit split = make_row_split(s.log2_m, s.log2_row);
  const int64_t units = s.sequences << (split.log2_rows - 1);
  const int64_t m = int64_t(1) << s.log2_m;

  for (int64_t block = blockIdx.x; block * s.units_per_block < units; block += gridDim.x) {
    const BlockItems in = block_items(block, units, s.units_per_block);
    const SlotRanges ranges = transform_unit_rows(sm, split, s.ws, in.first, in.active);
    for_each_unit_pair(split, in.first, in.active, [&](int j, const SpectrumPair& sp) {
      const int64_t sequence = (in.first + j) >> (split.log2_rows - 1);
      convolve_pair(sm, sp, a.k_f + (sequence % a.channels) * m);
    });
    __syncthreads();
    transform_slots<true>(sm, ranges);
    store_unit_rows(sm, split, s.ws, in.first, in.active, 0);
    __syncthreads();
  }
}

void launch_inner(const ForwardArgs& a, const SplitArgs& s, cudaStream_t stream) {
  const SharedLayout layout = make_shared_layout((2 * s.units_per_block) << s.log2_row, s.log2_row, 0);
  allow_shared_bytes(forward_inner_kernel, layout.total, "forward_inner_kernel");
  const int64_t units = s.sequences << (s.log2_m - s.log2_row - 1);
  SG_LAUNCH(forward_inner_kernel, grid_for(div_up(units, s.units_per_block)), kThreads, layout.total,
            stream)(a, s);
  check_launch("forward_inner_kernel");
}

template <class T>
void launch_typed(const ForwardArgs& a, const SplitArgs& s, cudaStream_t stream) {
  const Plan plan = make_plan(s.log2_m);
  SG_LAUNCH(forward_first_pass_kernel<T>, pass_grid(s.sequences, s.log2_m, plan.log2_radix(0)),
            kPassThreads, 0, stream)(a, s);
  check_launch("forward_first_pass_kernel");
  for (int j = 1; j < s.outer_stages; ++j) launch_workspace_pass(s.ws, s.sequences, s.log2_m, j, false, stream);
  launch_inner(a, s, stream);
  for (int j = s.outer_stages - 1; j >= 1; --j) launch_workspace_pass(s.ws, s.sequences, s.log2_m, j, true, stream);
  SG_LAUNCH(forward_last_pass_kernel<T>, pass_grid(s.sequences, s.log2_m, plan.log2_radix(0)),
            kPassThreads, 0, stream)(a, s);
  check_launch("forward_last_pass_kernel");
}

}  // namespace

void launch_split_forward(const ForwardArgs& a, const SplitArgs& s, DType dtype, cudaStream_t stream) {
  with_activation_type(dtype, [&](auto tag) { launch_typed<decltype(tag)>(a, s, stream); });
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
