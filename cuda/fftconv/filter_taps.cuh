// Where the filter taps sit in the real length-N sequence the transform sees (the CPU's rule,
// cpp/cpu/fftconv/filter_taps.h): tap index centre + s for offsets s in [lowest, highest], at
// time t = s (s >= 0) or t = N + s (s < 0, the circular wrap of a two-sided filter); taps outside
// that range cannot reach an output in [0, L) and get gradient 0.
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_args.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// Tap value at time t (0 <= t < n) of channel h's circular filter sequence (0 where no tap sits).
__device__ __forceinline__ float placed_tap(const Taps& k, const TapPlacement& place, int64_t h,
                                            int64_t t, int64_t n) {
  const int64_t s = t <= place.highest ? t : t - n;
  if (s < place.lowest) return 0.0f;
  return k.data[h * k.stride_h + (place.centre + s) * k.stride_k];
}

// The time of tap index i, or -1 when the tap is not placed.
__device__ __forceinline__ int64_t tap_time(const TapPlacement& place, int64_t i, int64_t n) {
  const int64_t s = i - place.centre;
  if (s < place.lowest || s > place.highest) return -1;
  return s >= 0 ? s : n + s;
}

// Packed filter sequence z[n] = k(2n) + i k(2n+1) of channel `row` (rows >= channels are zero).
struct PlacedTapsSource {
  Taps k;
  TapPlacement placement;
  int64_t channels, n;
  __device__ __forceinline__ float2 operator()(int64_t row, int64_t m) const {
    if (row >= channels) return make_float2(0.0f, 0.0f);
    return make_float2(placed_tap(k, placement, row, 2 * m, n), placed_tap(k, placement, row, 2 * m + 1, n));
  }
};

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
