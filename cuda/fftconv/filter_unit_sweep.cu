// fft_filter at N = 32768 (M = 2^14) within 99 KB of shared memory: one block per channel, its two
// units in turn (unit_sweep.cuh): placed taps through the first radix-4 stage -> inner FFT -> fold
// -> K stored at its positions in k_f. No inverse, so nothing is accumulated; no workspace.
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/filter_taps.cuh"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/row_io.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"
#include "cuda/fftconv/unit_sweep.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

__global__ void __launch_bounds__(kThreads, 1) unit_sweep_filter_kernel(FilterArgs a) {
  extern __shared__ __align__(128) unsigned char fftconv_shared[];
  const BlockShared sm = open_block(fftconv_shared, 2 * kSweepRow, kSweepLog2Row);
  const RowSplit split = unit_sweep_split();
  const PlacedTapsSource source{a.k, a.placement, a.channels, int64_t(2) << kSweepLog2M};

  for (int64_t channel = blockIdx.x; channel < a.padded_channels; channel += gridDim.x) {
    float2* k_f = a.k_f + (channel << kSweepLog2M);
    for (int unit = 0; unit < kSweepUnits; ++unit) {
      transform_unit_first_stage(sm, split, source, channel, unit);
      for_each_unit_pair(split, unit, 1, [&](int, const SpectrumPair& sp) {
        float2 x, y;
        load_folded_pair(sm, sp, x, y);
        store_spectrum_pair(k_f, sp, x, y);
      });
      __syncthreads();  // the next unit overwrites the planes
    }
  }
}

}  // namespace

void launch_unit_sweep_filter_forward(const FilterArgs& a, cudaStream_t stream) {
  const SharedLayout layout = unit_sweep_layout();
  allow_shared_bytes(unit_sweep_filter_kernel, layout.total, "unit_sweep_filter_kernel");
  SG_LAUNCH(unit_sweep_filter_kernel, grid_for(a.padded_channels), kThreads, layout.total, stream)(a);
  check_launch("unit_sweep_filter_kernel");
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
