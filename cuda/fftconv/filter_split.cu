// fft_filter and its adjoint for long transforms (forward M > 16384, adjoint M > 8192): the
// multi-kernel path.
//
// forward:  first pass (placed taps, packed) -> outer passes -> inner kernel: remaining stages,
//           fold, store K at its positions in k_f (no inverse).
// backward: inner kernel: Y' from dk_f (spectrum_gradient_pair), unfold, inverse inner stages ->
//           inverse outer passes -> taps kernel: dk[h, i] = 2 x (the inverse at the tap's time).
// The workspace holds one row of M float2 per channel.
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/filter_taps.cuh"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/outer_pass.cuh"
#include "cuda/fftconv/row_io.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

__global__ void __launch_bounds__(kPassThreads) filter_first_pass_kernel(FilterArgs a, SplitArgs s) {
  const Plan plan = make_plan(s.log2_m);
  const PlacedTapsSource source{a.k, a.placement, a.channels, int64_t(2) << s.log2_m};
  const WorkspaceRows sink{s.ws, s.log2_m};
  outer_pass<false>(source, sink, s.sequences, s.log2_m, plan.log2_radix(0), plan.log2_stride(0));
}

__global__ void __launch_bounds__(kThreads, 1) filter_inner_kernel(FilterArgs a, SplitArgs s) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const BlockShared sm = open_block(fftconv_shared, (2 * s.units_per_block) << s.log2_row, s.log2_row);
  const RowSplit split = make_row_split(s.log2_m, s.log2_row);
  const int64_t per_sequence = int64_t(1) << (split.log2_rows - 1);
  const int64_t units = s.sequences * per_sequence;

  for (int64_t block = blockIdx.x; block * s.units_per_block < units; block += gridDim.x) {
    const BlockItems in = block_items(block, units, s.units_per_block);
    transform_unit_rows(sm, split, s.ws, in.first, in.active);
    for_each_unit_pair(split, in.first, in.active, [&](int j, const SpectrumPair& sp) {
      float2 x, y;
      load_folded_pair(sm, sp, x, y);
      store_spectrum_pair(a.k_f + ((in.first + j) / per_sequence << s.log2_m), sp, x, y);
    });
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kThreads, 1) filter_backward_inner_kernel(FilterBackwardArgs a, SplitArgs s) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const BlockShared sm = open_block(fftconv_shared, (2 * s.units_per_block) << s.log2_row, s.log2_row);
  const RowSplit split = make_row_split(s.log2_m, s.log2_row);
  const int64_t per_sequence = int64_t(1) << (split.log2_rows - 1);
  const int64_t units = s.sequences * per_sequence;

  for (int64_t block = blockIdx.x; block * s.units_per_block < units; block += gridDim.x) {
    const BlockItems in = block_items(block, units, s.units_per_block);
    for_each_unit_pair(split, in.first, in.active, [&](int j, const SpectrumPair& sp) {
      unfold_gradient_pair(sm, sp, a.dk_f + ((in.first + j) / per_sequence << s.log2_m));
    });
    __syncthreads();
    SlotRanges ranges;
    ranges.add(0, round_slots_to_tiles(2 * in.active, s.log2_row));
    transform_slots<true>(sm, ranges);
    store_unit_rows(sm, split, s.ws, in.first, in.active, 0);
    __syncthreads();
  }
}

// dk[h, i] from the fully inverted workspace rows (packed time samples, times M).
__global__ void __launch_bounds__(kPassThreads) filter_taps_kernel(FilterBackwardArgs a, SplitArgs s) {
  const int64_t n = int64_t(2) << s.log2_m;
  const int64_t total = s.sequences * a.dk.taps;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t h = e / a.dk.taps, i = e - h * a.dk.taps;
    const int64_t t = tap_time(a.placement, i, n);
    float v = 0.0f;
    if (t >= 0) {
      const float2 z = s.ws[(h << s.log2_m) + (t >> 1)];
      v = 2.0f * ((t & 1) ? z.y : z.x);
    }
    a.dk.data[h * a.dk.stride_h + i * a.dk.stride_k] = v;
  }
}

template <class Kernel, class Args>
void launch_inner(Kernel kernel, const char* name, const Args& a, const SplitArgs& s, cudaStream_t stream) {
  const SharedLayout layout = make_shared_layout((2 * s.units_per_block) << s.log2_row, s.log2_row, 0);
  allow_shared_bytes(kernel, layout.total, name);
  const int64_t units = s.sequences << (s.log2_m - s.log2_row - 1);
  SG_LAUNCH(kernel, grid_for(div_up(units, s.units_per_block)), kThreads, layout.total, stream)(a, s);
  check_launch(name);
}

}  // namespace

void launch_split_filter_forward(const FilterArgs& a, const SplitArgs& s, cudaStream_t stream) {
  const Plan plan = make_plan(s.log2_m);
  SG_LAUNCH(filter_first_pass_kernel, pass_grid(s.sequences, s.log2_m, plan.log2_radix(0)),
            kPassThreads, 0, stream)(a, s);
  check_launch("filter_first_pass_kernel");
  for (int j = 1; j < s.outer_stages; ++j) launch_workspace_pass(s.ws, s.sequences, s.log2_m, j, false, stream);
  launch_inner(filter_inner_kernel, "filter_inner_kernel", a, s, stream);
}

void launch_split_filter_backward(const FilterBackwardArgs& a, const SplitArgs& s, cudaStream_t stream) {
  launch_inner(filter_backward_inner_kernel, "filter_backward_inner_kernel", a, s, stream);
  for (int j = s.outer_stages - 1; j >= 0; --j) launch_workspace_pass(s.ws, s.sequences, s.log2_m, j, true, stream);
  SG_LAUNCH(filter_taps_kernel, grid_for(div_up(s.sequences * a.dk.taps, kPassThreads)), kPassThreads,
            0, stream)(a, s);
  check_launch("filter_taps_kernel");
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
