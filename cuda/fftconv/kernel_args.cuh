// POD argument structs of the fftconv kernels: raw pointers, 64-bit sizes and element strides
// (any strides, including 0 for broadcast inputs), filled by the *_launch.cu entry points.
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

// Gradients of a scalar loss given dy (fftconv_backward), with g = dy * postgate, w = u * pregate:
//   dpostgate = dy * (k (*) w + D w)           -> transform of w, times K, inverse
//   dw = corr(g, k) + D g, du = dw * pregate, dpregate = dw * u   -> transform of g, times conj K
//   filter partials[c][h] = sum over batch rows b of chunk c of G_b conj(W_b) (per position)
//   skip partials[b][h] = sum_t g w
// Absent outputs are null; k_f is needed for dpostgate and dw only.
struct BackwardArgs {
  int64_t batch, channels, length;
  int log2_m;
  int slots;                   // fused path: channels per block
  int64_t chunk_len, chunks;   // batch rows per block, and how many such chunks
  Activation u, pregate, postgate, dy, du, dpregate, dpostgate;
  const float2* k_f;
  const float* D;
  int64_t D_stride;
  float2* filter_partials;     // [chunks][H][M] or nullptr
  float* skip_partials;        // [B][H] or nullptr
  __host__ __device__ bool want_dw() const { return du.data != nullptr || dpregate.data != nullptr; }
  __host__ __device__ bool want_z() const { return dpostgate.data != nullptr; }
  __host__ __device__ bool want_filter() const { return filter_partials != nullptr; }
  __host__ __device__ bool want_skip() const { return skip_partials != nullptr; }
  // Which signals are transformed (forward) and loaded.
  __host__ __device__ bool transform_w() const { return want_z() || want_filter(); }
  __host__ __device__ bool transform_g() const { return want_dw() || want_filter(); }
  __host__ __device__ bool load_w() const { return transform_w() || want_skip(); }
  __host__ __device__ bool load_g() const { return transform_g() || want_skip(); }
};

// The multi-kernel path of a long transform (plan.cuh): each of `sequences` rows of M = 2^log2_m
// points lives in ws (float2, M per sequence); the first `outer_stages` stages run as passes over
// ws, the rest in blocks holding `units_per_block` units of two S = 2^log2_row point rows.
struct SplitArgs {
  int64_t sequences;
  int log2_m, log2_row;
  int outer_stages;
  int units_per_block;
  float2* ws;
};

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
