// Fused forward FFT convolution at N = 32768 (M = 2^14) within 99 KB of shared memory: one block
// per (b, h) sequence, its two units in turn (unit_sweep.cuh), the output in registers:
//
//   for each unit: load w = u * pregate through the first radix-4 stage -> inner FFT (tensor
//   cores) -> fold, Y = W K, unfold for the unit's pairs -> inverse inner FFT -> add the unit's
//   share of the inverse first stage to the thread's outputs
//   then y = postgate * (y_conv / M + D w) for the first L samples
//
// One read of u (twice through L1/L2: each unit needs all of it), one write of y, nothing in a
// workspace. GPUs with room for the single-buffer block (163 KB, sm_90) take forward_fused.cu.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/row_io.cuh"
#include "cuda/fftconv/signal_io.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"
#include "cuda/fftconv/unit_sweep.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

template <class T>
__global__ void __launch_bounds__(kThreads, 1) unit_sweep_forward_kernel(ForwardArgs a) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const BlockShared sm = open_block(fftconv_shared, 2 * kSweepRow, kSweepLog2Row);
  const RowSplit split = unit_sweep_split();
  const GatedSignalSource<T> source{a.u, a.pregate, a.channels, a.length};
  const int64_t sequences = a.batch * a.channels;

  for (int64_t sequence = blockIdx.x; sequence < sequences; sequence += gridDim.x) {
    const float2* k = a.k_f + (sequence % a.channels) * (int64_t(1) << kSweepLog2M);
    float2 out[kSweepOutputs];
#pragma unroll
    for (int j = 0; j < kSweepOutputs; ++j) out[j] = make_float2(0.0f, 0.0f);

    for (int unit = 0; unit < kSweepUnits; ++unit) {
      const SlotRanges ranges = transform_unit_first_stage(sm, split, source, sequence, unit);
      for_each_unit_pair(split, unit, 1, [&](int, const SpectrumPair& sp) { convolve_pair(sm, sp, k); });
      __syncthreads();
      transform_slots<true>(sm, ranges);
      accumulate_unit_last_stage(sm, split, unit, out);
      __syncthreads();  // the next unit (or sequence) overwrites the planes
    }

    const int64_t b = sequence / a.channels, h = sequence - b * a.channels;
    const float inverse_size = 1.0f / float(1 << kSweepLog2M);  // both inverse stages are unnormalised
#pragma unroll
    for (int j = 0; j < kSweepOutputs; ++j)
      for_packed_samples(int64_t(threadIdx.x) + kThreads * j, out[j], a.length, [&](int64_t t, float value) {
        store_scaled_skip<T>(a.y, a.u, a.pregate, a.postgate, a.D, a.D_stride, b, h, t, value * inverse_size);
      });
  }
}

template <class T>
void launch_typed(const ForwardArgs& a, cudaStream_t stream) {
  const SharedLayout layout = unit_sweep_layout();
  allow_shared_bytes(unit_sweep_forward_kernel<T>, layout.total, "unit_sweep_forward_kernel");
  SG_LAUNCH(unit_sweep_forward_kernel<T>, grid_for(a.batch * a.channels), kThreads, layout.total, stream)(a);
  check_launch("unit_sweep_forward_kernel");
}

}  // namespace

void launch_unit_sweep_forward(const ForwardArgs& a, DType dtype, cudaStream_t stream) {
  with_activation_type(dtype, [&](auto tag) { launch_typed<decltype(tag)>(a, stream); });
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
