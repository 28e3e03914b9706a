// Fused forward FFT convolution: one block holds `slots` whole (b, h) rows and does
//
//   load w = u * pregate (zero beyond L, never materialised) as z[n] = w[2n] + i w[2n+1]
//   -> M-point FFT (tensor cores) -> fold to the real spectrum W -> Y = W K (k_f)
//   -> unfold -> inverse M-point FFT -> y = postgate * (y_conv / M + D w), first L samples
//
// in shared memory: one read of u (and the gates), one write of y. M = N/2 <= 8192 here (91 KB of
// shared memory at M = 8192; M = 16384 takes 163 KB, on GPUs that allow it, and runs as a unit sweep
// in 87 KB elsewhere: forward_unit_sweep.cu); longer sequences take the multi-kernel path
// (forward_split.cu).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/element_io.cuh"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/signal_io.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

template <class T>
__global__ void __launch_bounds__(kThreads, 1) fused_forward_kernel(ForwardArgs a) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const int log2_row = a.log2_m;
  const int row = 1 << log2_row;
  const BlockShared sm = open_block(fftconv_shared, a.slots << log2_row, log2_row);
  const Plan plan = make_plan(log2_row);
  const int64_t rows = a.batch * a.channels;
  const int64_t blocks = div_up(rows, a.slots);

  for (int64_t block = blockIdx.x; block < blocks; block += gridDim.x) {
    const auto [first, active] = block_items(block, rows, a.slots);
    const int padded = round_slots_to_tiles(active, log2_row);

    for (int e = threadIdx.x; e < (padded << log2_row); e += blockDim.x) {
      const int slot = e >> log2_row;
      const int64_t t = 2 * int64_t(e & (row - 1));
      float2 z = make_float2(0.0f, 0.0f);
      if (slot < active) {
        const int64_t r = first + slot, b = r / a.channels, h = r - b * a.channels;
        if (t < a.length) z.x = load_gated<T>(a.u, a.pregate, b, h, t);
        if (t + 1 < a.length) z.y = load_gated<T>(a.u, a.pregate, b, h, t + 1);
      }
      sm.re[e] = z.x;
      sm.im[e] = z.y;
    }
    __syncthreads();  // the signal (and, the first time, the block constants) are in place
    SlotRanges ranges;
    ranges.add(0, padded);
    transform_slots<false>(sm, ranges);

    // W = fold(Z); Y = W K; Zy = unfold(Y), pair by pair in place.
    const int pairs = row / 2 + 1;
    for (int item = threadIdx.x; item < active * pairs; item += blockDim.x) {
      const int slot = item / pairs;
      const SpectrumPair sp = whole_sequence_pair(plan, slot, item - slot * pairs);
      const float2* k = a.k_f + ((first + slot) % a.channels) * row;
      convolve_pair(sm, sp, k);
    }
    __syncthreads();
    transform_slots<true>(sm, ranges);

    const float inverse_size = 1.0f / float(row);  // the inverse transform is unnormalised
    const int per_slot = 2 * row;                    // N output samples, the first L are kept
    for (int e = threadIdx.x; e < active * per_slot; e += blockDim.x) {
      const int slot = e / per_slot, t = e - slot * per_slot;
      if (t >= a.length) continue;
      const int64_t r = first + slot, b = r / a.channels, h = r - b * a.channels;
      const int idx = (slot << log2_row) + (t >> 1);
      store_scaled_skip<T>(a.y, a.u, a.pregate, a.postgate, a.D, a.D_stride, b, h, t,
                           ((t & 1) ? sm.im[idx] : sm.re[idx]) * inverse_size);
    }
    __syncthreads();  // the next rows overwrite the planes
  }
}

template <class T>
void launch_typed(const ForwardArgs& a, cudaStream_t stream) {
  const SharedLayout layout = make_shared_layout(a.slots << a.log2_m, a.log2_m, 0);
  allow_shared_bytes(fused_forward_kernel<T>, layout.total, "fused_forward_kernel");
  const int64_t blocks = div_up(a.batch * a.channels, a.slots);
  SG_LAUNCH(fused_forward_kernel<T>, grid_for(blocks), kThreads, layout.total, stream)(a);
  check_launch("fused_forward_kernel");
}

}  // namespace

void launch_fused_forward(const ForwardArgs& a, DType dtype, cudaStream_t stream) {
  with_activation_type(dtype, [&](auto tag) { launch_typed<decltype(tag)>(a, stream); });
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
