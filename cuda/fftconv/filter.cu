// The filter spectrum k_f = fft_filter(k, L) and its adjoint, fused per block of channels (M <= 8192).
//
// forward:  the placed taps (filter_placement in kernel_args.cuh) as a real sequence of length N,
//           packed z[n] = k[2n] + i k[2n+1] -> M-point FFT -> fold -> K at each position (k_f).
// backward: dk_f is the gradient of the stored floats of k_f. For 0 < k < M the stored K[k] is
//           sum_t k_t exp(-2 pi i k t / N), so d/dk_t = Re sum_k dK[k] exp(+2 pi i k t / N)
//           (+ dK[0] + dK[M] (-1)^t for the two real bins) = N irfft(Y')[t] with the Hermitian
//           half-spectrum Y'[k] = dK[k] / 2 (0 < k < M), Y'[0] = dK[0], Y'[M] = dK[M]. That is the
//           unfold + inverse transform of the forward kernel, scaled by N / M = 2 (the inverse
//           is unnormalised: it returns M irfft).
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/filter_taps.cuh"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

__global__ void __launch_bounds__(kThreads, 1) filter_forward_kernel(FilterArgs a) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const int log2_row = a.log2_m;
  const int row = 1 << log2_row;
  const int64_t n = 2 * int64_t(row);
  const BlockShared sm = open_block(fftconv_shared, a.slots << log2_row, log2_row);
  const Plan plan = make_plan(log2_row);
  const int64_t blocks = div_up(a.padded_channels, a.slots);

  for (int64_t block = blockIdx.x; block < blocks; block += gridDim.x) {
    const auto [first, active] = block_items(block, a.padded_channels, a.slots);
    const int padded = round_slots_to_tiles(active, log2_row);
    for (int e = threadIdx.x; e < (padded << log2_row); e += blockDim.x) {
      const int slot = e >> log2_row;
      const int64_t h = first + slot, t = 2 * int64_t(e & (row - 1));
      float2 z = make_float2(0.0f, 0.0f);
      if (slot < active && h < a.channels) {
        z.x = placed_tap(a.k, a.placement, h, t, n);
        z.y = placed_tap(a.k, a.placement, h, t + 1, n);
      }
      sm.re[e] = z.x;
      sm.im[e] = z.y;
    }
    __syncthreads();
    SlotRanges ranges;
    ranges.add(0, padded);
    transform_slots<false>(sm, ranges);

    const int pairs = row / 2 + 1;
    for (int item = threadIdx.x; item < active * pairs; item += blockDim.x) {
      const int slot = item / pairs;
      const SpectrumPair sp = whole_sequence_pair(plan, slot, item - slot * pairs);
      float2 x, y;
      load_folded_pair(sm, sp, x, y);
      store_spectrum_pair(a.k_f + (first + slot) * row, sp, x, y);
    }
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kThreads, 1) filter_backward_kernel(FilterBackwardArgs a) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const int log2_row = a.log2_m;
  const int row = 1 << log2_row;
  const int64_t n = 2 * int64_t(row);
  const BlockShared sm = open_block(fftconv_shared, a.slots << log2_row, log2_row);
  const Plan plan = make_plan(log2_row);
  const int64_t blocks = div_up(a.channels, a.slots);

  for (int64_t block = blockIdx.x; block < blocks; block += gridDim.x) {
    const auto [first, active] = block_items(block, a.channels, a.slots);
    const int padded = round_slots_to_tiles(active, log2_row);
    // Y' from dk_f: unfold pair by pair straight from global memory into the planes.
    const int pairs = row / 2 + 1;
    for (int e = threadIdx.x; e < ((padded - active) << log2_row); e += blockDim.x) {
      sm.re[(active << log2_row) + e] = 0.0f;
      sm.im[(active << log2_row) + e] = 0.0f;
    }
    for (int item = threadIdx.x; item < active * pairs; item += blockDim.x) {
      const int slot = item / pairs;
      const SpectrumPair sp = whole_sequence_pair(plan, slot, item - slot * pairs);
      unfold_gradient_pair(sm, sp, a.dk_f + (first + slot) * row);
    }
    __syncthreads();
    SlotRanges ranges;
    ranges.add(0, padded);
    transform_slots<true>(sm, ranges);

    for (int64_t e = threadIdx.x; e < active * a.dk.taps; e += blockDim.x) {
      const int slot = int(e / a.dk.taps);
      const int64_t i = e - slot * a.dk.taps;
      const int64_t t = tap_time(a.placement, i, n);
      float v = 0.0f;
      if (t >= 0) {
        const int idx = (slot << log2_row) + int(t >> 1);
        v = 2.0f * ((t & 1) ? sm.im[idx] : sm.re[idx]);  // N irfft = (N / M) x the inverse
      }
      a.dk.data[(first + slot) * a.dk.stride_h + i * a.dk.stride_k] = v;
    }
    __syncthreads();
  }
}

}  // namespace

void launch_filter_forward(const FilterArgs& a, cudaStream_t stream) {
  const SharedLayout layout = make_shared_layout(a.slots << a.log2_m, a.log2_m, 0);
  allow_shared_bytes(filter_forward_kernel, layout.total, "filter_forward_kernel");
  SG_LAUNCH(filter_forward_kernel, grid_for(div_up(a.padded_channels, a.slots)), kThreads,
            layout.total, stream)(a);
  check_launch("filter_forward_kernel");
}

void launch_filter_backward(const FilterBackwardArgs& a, cudaStream_t stream) {
  const SharedLayout layout = make_shared_layout(a.slots << a.log2_m, a.log2_m, 0);
  allow_shared_bytes(filter_backward_kernel, layout.total, "filter_backward_kernel");
  SG_LAUNCH(filter_backward_kernel, grid_for(div_up(a.channels, a.slots)), kThreads, layout.total,
            stream)(a);
  check_launch("filter_backward_kernel");
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
