// Backward FFT convolution of long sequences (M = N/2 > 4096): the multi-kernel path, the
// backward of forward_split.cu with the signal w and the gradient g in two workspace buffers.
//
//   skip kernel     skip partials sum_t g w per (b, h) (warp per row, fixed order)
//   first passes    w = u * pregate -> ws_w, g = dy * postgate -> ws_g (stage 0), outer passes
//   inner kernel    per (unit group, h, batch chunk), looping over the chunk's rows: remaining
//                   stages of both, fold, filter partial S += G conj(W), W K and G conj(K),
//                   unfold, inverse stages
//   outer passes    inverse; last passes -> dpostgate = dy (z / M + D w) from ws_w and
//                   dw = dw / M + D g -> du, dpregate from ws_g
// Only the buffers the requested gradients need are transformed (BackwardArgs).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/element_io.cuh"
#include "cuda/fftconv/filter_gradient.cuh"
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

// skip_partials[b * H + h] = sum_t dy postgate u pregate: a warp per row.
template <class T>
__global__ void __launch_bounds__(kPassThreads) skip_partials_kernel(BackwardArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t rows = a.batch * a.channels;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5); r < rows; r += warps) {
    const int64_t b = r / a.channels, h = r - b * a.channels;
    float sum = 0.0f;
    for (int64_t t = lane; t < a.length; t += 32)
      sum = fmaf(load_gated<T>(a.dy, a.postgate, b, h, t), load_gated<T>(a.u, a.pregate, b, h, t), sum);
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) a.skip_partials[r] = sum;
  }
}

template <class T>
__global__ void __launch_bounds__(kPassThreads)
    backward_first_pass_kernel(BackwardArgs a, SplitArgs s, bool gradient) {
  const Plan plan = make_plan(s.log2_m);
  const GatedSignalSource<T> source = gradient ? GatedSignalSource<T>{a.dy, a.postgate, a.channels, a.length}
                                               : GatedSignalSource<T>{a.u, a.pregate, a.channels, a.length};
  const WorkspaceRows sink{s.ws, s.log2_m};
  outer_pass<false>(source, sink, s.sequences, s.log2_m, plan.log2_radix(0), plan.log2_stride(0));
}

// dpostgate = dy * (z / M + D w) from the inverted ws_w.
template <class T>
__global__ void __launch_bounds__(kPassThreads) postgate_last_pass_kernel(BackwardArgs a, SplitArgs s) {
  const Plan plan = make_plan(s.log2_m);
  const WorkspaceRows source{s.ws, s.log2_m};
  const ScaledSkipSink<T> sink{a.u, a.pregate, a.dy, a.dpostgate, a.D, a.D_stride, a.channels,
                               a.length, 1.0f / float(int64_t(1) << s.log2_m)};
  outer_pass<true>(source, sink, s.sequences, s.log2_m, plan.log2_radix(0), plan.log2_stride(0));
}

// dw = v / M + D g -> du, dpregate from the inverted ws_g.
template <class T>
__global__ void __launch_bounds__(kPassThreads) input_last_pass_kernel(BackwardArgs a, SplitArgs s) {
  const Plan plan = make_plan(s.log2_m);
  const WorkspaceRows source{s.ws, s.log2_m};
  const InputGradientSink<T> sink{a.dy, a.postgate, a.u,        a.pregate, a.du,
                                  a.dpregate, a.D,   a.D_stride, a.channels, a.length,
                                  1.0f / float(int64_t(1) << s.log2_m)};
  outer_pass<true>(source, sink, s.sequences, s.log2_m, plan.log2_radix(0), plan.log2_stride(0));
}

// s.ws is ws_w; ws_g has the same shape.
__global__ void __launch_bounds__(kThreads, 1) backward_inner_kernel(BackwardArgs a, SplitArgs s, float2* ws_g) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const int log2_row = s.log2_row;
  const int P = s.units_per_block;
  const int b_slot = 2 * P;  // first slot of the gradient buffer
  const BlockShared sm = open_block(fftconv_shared, (4 * P) << log2_row, log2_row);
  const RowSplit split = make_row_split(s.log2_m, log2_row);
  const int64_t per_sequence = int64_t(1) << (split.log2_rows - 1);  // units
  const int64_t groups = div_up(per_sequence, P);
  const int64_t m = int64_t(1) << s.log2_m;
  const int items = split.items_per_unit();

  for (int64_t item = blockIdx.x; item < groups * a.channels * a.chunks; item += gridDim.x) {
    const int64_t group = item % groups, h = (item / groups) % a.channels, chunk = item / (groups * a.channels);
    const int64_t unit0 = group * P;
    const int active = int(per_sequence - unit0 < P ? per_sequence - unit0 : P);
    const int64_t b_begin = chunk * a.chunk_len;
    const int64_t b_end = b_begin + a.chunk_len < a.batch ? b_begin + a.chunk_len : a.batch;
    float2* partials = a.want_filter() ? a.filter_partials + ((chunk * a.channels + h) << s.log2_m) : nullptr;
    const float2* k = a.k_f != nullptr ? a.k_f + h * m : nullptr;

    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t first_unit = (b * a.channels + h) * per_sequence + unit0;
      if (a.transform_w()) load_unit_rows(sm, split, s.ws, first_unit, active, 0);
      if (a.transform_g()) load_unit_rows(sm, split, ws_g, first_unit, active, b_slot);
      __syncthreads();
      SlotRanges forward;
      if (a.transform_w()) forward.add(0, round_slots_to_tiles(2 * active, log2_row));
      if (a.transform_g()) forward.add(b_slot, round_slots_to_tiles(2 * active, log2_row));
      transform_slots<false>(sm, forward);

      for (int it = threadIdx.x; it < active * items; it += blockDim.x) {
        const int j = it / items;
        SpectrumPair sa;
        if (!unit_pair(split, int(unit0 + j), it - j * items, 2 * j, 2 * j + 1, &sa)) continue;
        backward_pair(a, sm, sa, b_slot << log2_row, partials, k, b == b_begin);
      }
      __syncthreads();
      SlotRanges inverse;
      if (a.want_z()) inverse.add(0, round_slots_to_tiles(2 * active, log2_row));
      if (a.want_dw()) inverse.add(b_slot, round_slots_to_tiles(2 * active, log2_row));
      transform_slots<true>(sm, inverse);
      if (a.want_z()) store_unit_rows(sm, split, s.ws, first_unit, active, 0);
      if (a.want_dw()) store_unit_rows(sm, split, ws_g, first_unit, active, b_slot);
      __syncthreads();
    }
  }
}

template <class T>
void launch_typed(const BackwardArgs& a, const SplitArgs& sw, const SplitArgs& sg, cudaStream_t stream) {
  const Plan plan = make_plan(sw.log2_m);
  const unsigned first_grid = pass_grid(sw.sequences, sw.log2_m, plan.log2_radix(0));
  if (a.want_skip()) {
    SG_LAUNCH(skip_partials_kernel<T>, grid_for(div_up(a.batch * a.channels, kPassThreads / 32)),
              kPassThreads, 0, stream)(a);
    check_launch("skip_partials_kernel");
  }
  if (a.transform_w()) {
    SG_LAUNCH(backward_first_pass_kernel<T>, first_grid, kPassThreads, 0, stream)(a, sw, false);
    check_launch("backward_first_pass_kernel");
    for (int j = 1; j < sw.outer_stages; ++j) launch_workspace_pass(sw.ws, sw.sequences, sw.log2_m, j, false, stream);
  }
  if (a.transform_g()) {
    SG_LAUNCH(backward_first_pass_kernel<T>, first_grid, kPassThreads, 0, stream)(a, sg, true);
    check_launch("backward_first_pass_kernel");
    for (int j = 1; j < sg.outer_stages; ++j) launch_workspace_pass(sg.ws, sg.sequences, sg.log2_m, j, false, stream);
  }
  if (a.transform_w() || a.transform_g()) {
    const SharedLayout layout = make_shared_layout((4 * sw.units_per_block) << sw.log2_row, sw.log2_row, 0);
    allow_shared_bytes(backward_inner_kernel, layout.total, "backward_inner_kernel");
    const int64_t groups = div_up(int64_t(1) << (sw.log2_m - sw.log2_row - 1), sw.units_per_block);
    SG_LAUNCH(backward_inner_kernel, grid_for(groups * a.channels * a.chunks), kThreads, layout.total,
              stream)(a, sw, sg.ws);
    check_launch("backward_inner_kernel");
  }
  if (a.want_z()) {
    for (int j = sw.outer_stages - 1; j >= 1; --j) launch_workspace_pass(sw.ws, sw.sequences, sw.log2_m, j, true, stream);
    SG_LAUNCH(postgate_last_pass_kernel<T>, first_grid, kPassThreads, 0, stream)(a, sw);
    check_launch("postgate_last_pass_kernel");
  }
  if (a.want_dw()) {
    for (int j = sg.outer_stages - 1; j >= 1; --j) launch_workspace_pass(sg.ws, sg.sequences, sg.log2_m, j, true, stream);
    SG_LAUNCH(input_last_pass_kernel<T>, first_grid, kPassThreads, 0, stream)(a, sg);
    check_launch("input_last_pass_kernel");
  }
}

}  // namespace

void launch_split_backward(const BackwardArgs& a, const SplitArgs& signal, const SplitArgs& gradient,
                           DType dtype, cudaStream_t stream) {
  with_activation_type(dtype, [&](auto tag) { launch_typed<decltype(tag)>(a, signal, gradient, stream); });
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
