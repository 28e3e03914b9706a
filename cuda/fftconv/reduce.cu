// Fixed-order reductions over batch chunks / batch rows of the per-block partial sums the backward
// kernels write (no float atomics anywhere: every gradient is bitwise reproducible).
//
//   dk_f[h][p] = scale(p) sum_c partials[c][h][p]   (p = 0 holds (DC, Nyquist): 1/N each;
//                                                    other bins 2/N: both K[k] and K[N-k] = conj
//                                                    carry the stored value; see filter.cu)
//   dD[h]      = sum_b skip_partials[b][h]           (accumulated in double)
// Channels H <= h < H rounded up to 8 (padding of k_f) get zeros.
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/launch_helpers.cuh"
#include "cuda/fftconv/outer_pass.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

__global__ void __launch_bounds__(kPassThreads)
    reduce_filter_partials_kernel(const float2* partials, int64_t chunks, int64_t channels,
                                  int64_t padded_channels, int log2_m, float2* dk_f) {
  const int64_t m = int64_t(1) << log2_m;
  const int64_t total = padded_channels << log2_m;
  const float interior = 1.0f / float(m), edge = 0.5f / float(m);  // 2/N and 1/N
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t h = e >> log2_m, p = e & (m - 1);
    float2 sum = make_float2(0.0f, 0.0f);
    if (h < channels)
      for (int64_t c = 0; c < chunks; ++c) sum = cadd(sum, partials[((c * channels + h) << log2_m) + p]);
    dk_f[e] = cscale(sum, p == 0 ? edge : interior);
  }
}

__global__ void __launch_bounds__(kPassThreads)
    reduce_skip_partials_kernel(const float* partials, int64_t batch, int64_t channels, float* dD,
                                int64_t stride) {
  for (int64_t h = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; h < channels;
       h += int64_t(gridDim.x) * blockDim.x) {
    double sum = 0.0;
    for (int64_t b = 0; b < batch; ++b) sum += double(partials[b * channels + h]);
    dD[h * stride] = float(sum);
  }
}

}  // namespace

void launch_reduce_filter_partials(const float2* partials, int64_t chunks, int64_t channels,
                                   int64_t padded_channels, int log2_m, float2* dk_f,
                                   cudaStream_t stream) {
  SG_LAUNCH(reduce_filter_partials_kernel, grid_for(div_up(padded_channels << log2_m, kPassThreads)),
            kPassThreads, 0, stream)(partials, chunks, channels, padded_channels, log2_m, dk_f);
  check_launch("reduce_filter_partials_kernel");
}

void launch_reduce_skip_partials(const float* partials, int64_t batch, int64_t channels, float* dD,
                                 int64_t stride, cudaStream_t stream) {
  SG_LAUNCH(reduce_skip_partials_kernel, grid_for(div_up(channels, kPassThreads)), kPassThreads, 0,
            stream)(partials, batch, channels, dD, stride);
  check_launch("reduce_skip_partials_kernel");
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
