// Fused backward FFT convolution (M = N/2 <= 4096): one block holds `slots` channels of one batch
// row at a time in two buffers, w = u * pregate (A) and g = dy * postgate (B), and loops over the
// batch rows of its chunk:
//
//   load A, B  -> skip partial sum_t g w (warp per channel, fixed order)
//   -> forward transforms -> fold to W, G -> filter partial S += G conj(W)
//   -> A = unfold(W K), B = unfold(G conj K) -> inverse transforms
//   -> dpostgate = dy (A / M + D w);  dw = B / M + D g, du = dw pregate, dpregate = dw u
//
// Only what the requested gradients need is loaded, transformed and stored (BackwardArgs). Two
// buffers of 2^12 points are 64 KB; with the table, the DFT matrices and the staging tiles a block
// needs 87 KB at M = 4096 (155 KB at M = 8192, on GPUs that allow it). Longer sequences take the
// multi-kernel path (backward_split.cu).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/element_io.cuh"
#include "cuda/fftconv/filter_gradient.cuh"
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

// Buffer `which` (0: A, 1: B) of the block: slots [which * slots, which * slots + padded).
template <class T>
__device__ __forceinline__ void load_signal(const BlockShared& sm, const Activation& x,
                                            const Activation& gate, const BackwardArgs& a,
                                            int64_t b, int64_t h0, int active, int padded,
                                            int first_slot) {
  const int log2_row = a.log2_m, row = 1 << log2_row;
  for (int e = threadIdx.x; e < (padded << log2_row); e += blockDim.x) {
    const int slot = e >> log2_row;
    const int64_t t = 2 * int64_t(e & (row - 1));
    float2 z = make_float2(0.0f, 0.0f);
    if (slot < active) {
      if (t < a.length) z.x = load_gated<T>(x, gate, b, h0 + slot, t);
      if (t + 1 < a.length) z.y = load_gated<T>(x, gate, b, h0 + slot, t + 1);
    }
    sm.re[(first_slot << log2_row) + e] = z.x;
    sm.im[(first_slot << log2_row) + e] = z.y;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads, 1) fused_backward_kernel(BackwardArgs a) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const int log2_row = a.log2_m;
  const int row = 1 << log2_row;
  const BlockShared sm = open_block(fftconv_shared, (2 * a.slots) << log2_row, log2_row);
  const Plan plan = make_plan(log2_row);
  const int64_t channel_tiles = div_up(a.channels, a.slots);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int b_slot = a.slots;  // first slot of buffer B
  const float inverse_size = 1.0f / float(row);

  for (int64_t item = blockIdx.x; item < channel_tiles * a.chunks; item += gridDim.x) {
    const int64_t tile = item % channel_tiles, chunk = item / channel_tiles;
    const int64_t h0 = tile * a.slots;
    const int active = int(a.channels - h0 < a.slots ? a.channels - h0 : a.slots);
    const int padded = round_slots_to_tiles(active, log2_row);
    const int64_t b_begin = chunk * a.chunk_len;
    const int64_t b_end = b_begin + a.chunk_len < a.batch ? b_begin + a.chunk_len : a.batch;
    float2* partials = a.want_filter() ? a.filter_partials + ((chunk * a.channels + h0) << log2_row) : nullptr;

    for (int64_t b = b_begin; b < b_end; ++b) {
      if (a.load_w()) load_signal<T>(sm, a.u, a.pregate, a, b, h0, active, padded, 0);
      if (a.load_g()) load_signal<T>(sm, a.dy, a.postgate, a, b, h0, active, padded, b_slot);
      __syncthreads();
      if (a.want_skip()) {
        // sum_t g[t] w[t] = sum_n Re A[n] Re B[n] + Im A[n] Im B[n]: lanes stride, then a fixed tree.
        for (int slot = warp; slot < active; slot += kWarps) {
          float sum = 0.0f;
          for (int n = lane; n < row; n += 32) {
            const int ia = (slot << log2_row) + n, ib = ((b_slot + slot) << log2_row) + n;
            sum = fmaf(sm.re[ia], sm.re[ib], fmaf(sm.im[ia], sm.im[ib], sum));
          }
          for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
          if (lane == 0) a.skip_partials[b * a.channels + h0 + slot] = sum;
        }
        __syncthreads();  // the transforms overwrite what the sums read
      }
      SlotRanges forward;
      if (a.transform_w()) forward.add(0, padded);
      if (a.transform_g()) forward.add(b_slot, padded);
      transform_slots<false>(sm, forward);

      const int pairs = row / 2 + 1;
      for (int it = threadIdx.x; it < active * pairs; it += blockDim.x) {
        const int slot = it / pairs;
        const SpectrumPair sa = whole_sequence_pair(plan, slot, it - slot * pairs);
        float2* const partial_row = partials != nullptr ? partials + (int64_t(slot) << log2_row) : nullptr;
        const float2* k = a.k_f != nullptr ? a.k_f + (h0 + slot) * row : nullptr;
        backward_pair(a, sm, sa, b_slot << log2_row, partial_row, k, b == b_begin);
      }
      __syncthreads();
      SlotRanges inverse;
      if (a.want_z()) inverse.add(0, padded);
      if (a.want_dw()) inverse.add(b_slot, padded);
      transform_slots<true>(sm, inverse);

      if (a.want_z() || a.want_dw()) {
        for (int e = threadIdx.x; e < active * 2 * row; e += blockDim.x) {
          const int slot = e / (2 * row), t = e - slot * 2 * row;
          if (t >= a.length) continue;
          const int64_t h = h0 + slot;
          const float skip = a.D != nullptr ? a.D[h * a.D_stride] : 0.0f;
          const int ia = (slot << log2_row) + (t >> 1), ib = ((b_slot + slot) << log2_row) + (t >> 1);
          if (a.want_z()) {
            float z = ((t & 1) ? sm.im[ia] : sm.re[ia]) * inverse_size;
            if (a.D != nullptr) z = fmaf(skip, load_gated<T>(a.u, a.pregate, b, h, t), z);
            store<T>(a.dpostgate, b, h, t, z * load<T>(a.dy, b, h, t));
          }
          if (a.want_dw()) {
            float dw = ((t & 1) ? sm.im[ib] : sm.re[ib]) * inverse_size;
            if (a.D != nullptr) dw = fmaf(skip, load_gated<T>(a.dy, a.postgate, b, h, t), dw);
            store_input_gradients<T>(a.du, a.dpregate, a.pregate, a.u, b, h, t, dw);
          }
        }
      }
      __syncthreads();  // the next batch row overwrites the buffers
    }
  }
}

template <class T>
void launch_typed(const BackwardArgs& a, cudaStream_t stream) {
  const SharedLayout layout = make_shared_layout((2 * a.slots) << a.log2_m, a.log2_m, 0);
  allow_shared_bytes(fused_backward_kernel<T>, layout.total, "fused_backward_kernel");
  const int64_t items = div_up(a.channels, a.slots) * a.chunks;
  SG_LAUNCH(fused_backward_kernel<T>, grid_for(items), kThreads, layout.total, stream)(a);
  check_launch("fused_backward_kernel");
}

}  // namespace

void launch_fused_backward(const BackwardArgs& a, DType dtype, cudaStream_t stream) {
  with_activation_type(dtype, [&](auto tag) { launch_typed<decltype(tag)>(a, stream); });
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
