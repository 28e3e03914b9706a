// POD argument structs of the fftconv kernels: raw pointers, 64-bit sizes and element strides
// (any strides, including 0 for broadcast inputs), filled by fftconv_launch.cu.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

__host__ __device__ inline int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A (B, H, L) activation view; data == nullptr means "absent" (a gate that is not given).
struct Activation {
  void* data;
  int64_t stride_b, stride_h, stride_t;
  __host__ __device__ int64_t offset(int64_t b, int64_t h, int64_t t) const {
    return b * stride_b + h * stride_h + t * stride_t;
  }
};

// An (H, Lk) filter view (float32).
struct Taps {
  float* data;
  int64_t stride_h, stride_k;
  int64_t taps;  // Lk
};

// Where filter taps sit in the length-N real sequence the transform sees (cpu/fftconv/filter_taps.h):
// tap index centre + s for offsets s in [lowest, highest]; s >= 0 at t = s, s < 0 at t = N + s.
struct TapPlacement {
  int64_t centre, lowest, highest;
};

// y = postgate * (irfft(rfft(u * pregate) * K) + D * u * pregate) for every (b, h) row.
struct ForwardArgs {
  int64_t batch, channels, length;  // B, H, L
  int log2_m;                       // transform size M = N / 2 (complex points)
  int slots;                        // rows per block (a multiple of 256 / M when M < 256)
  Activation u, pregate, postgate, y;
  const float2* k_f;                // (H rounded up to 8, M) packed spectrum, position order
  const float* D;                   // (H,) or nullptr
  int64_t D_stride;
};

// k_f[h] = packed spectrum of the placed taps of channel h (channels >= H: zeros).
struct FilterArgs {
  int64_t channels, padded_channels, length;  // H, H rounded up to 8, L
  int log2_m;
  int slots;
  Taps k;
  TapPlacement placement;
  float2* k_f;
};

// dk[h, i] = gradient of the taps given dk_f = gradient of the packed spectrum (the adjoint of
// FilterArgs' map).
struct FilterBackwardArgs {
  int64_t channels, length;
  int log2_m;
  int slots;
  const float2* dk_f;
  TapPlacement placement;
  Taps dk;
};

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
