// The activations of the short conv and their derivatives, in the accumulation type.
//   silu(a)  = a * s(a),  s(a) = 1 / (1 + exp(-a))
//   silu'(a) = s(a) + a * s(a) * (1 - s(a)) = s(a) * (1 + a * (1 - s(a)))
#pragma once

#include <cmath>

#include "cuda/emu/sg_launch.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {

__device__ __forceinline__ float sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }
__device__ __forceinline__ double sigmoid(double a) { return 1.0 / (1.0 + exp(-a)); }

template <bool kSilu, class A>
__device__ __forceinline__ A activate(A pre) {
  if constexpr (kSilu) return pre * sigmoid(pre);
  return pre;
}

// d act / d pre at pre.
template <bool kSilu, class A>
__device__ __forceinline__ A activation_slope(A pre) {
  if constexpr (kSilu) {
    const A s = sigmoid(pre);
    return s * (A(1) + pre * (A(1) - s));
  }
  return A(1);
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
