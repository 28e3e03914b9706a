// Plain-old-data views the short-conv kernels take by value: a pointer plus element strides (64-bit,
// so B*C*L may pass 2^31), sizes, and the runtime dtype of the tensors whose type is not a template
// parameter (weight, bias and their gradients may have any dtype, independent of x's).
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "serengeti/dtype.h"
#include "serengeti/tensor_view.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {

// Largest tap count the kernels' static shared memory is sized for (serengeti/short_conv.h).
constexpr int kMaxTaps = 128;

// A (B, C, T) tensor of the kernel's activation type (x, y, dy, dx, states).
struct Strided3 {
  void* data;
  int64_t stride_b, stride_c, stride_t;
  __host__ __device__ int64_t offset(int64_t b, int64_t c, int64_t t) const {
    return b * stride_b + c * stride_c + t * stride_t;
  }
};

// weight / dweight (C, K) of a runtime dtype.
struct Taps2 {
  void* data;
  DType dtype;
  int64_t stride_c, stride_k;
};

// bias / dbias (C,) of a runtime dtype; data == nullptr means absent.
struct Vector1 {
  void* data;
  DType dtype;
  int64_t stride;
};

inline Strided3 strided3(const TensorView& v) {
  return Strided3{v.data, v.strides[0], v.strides[1], v.strides[2]};
}
inline Taps2 taps2(const TensorView& v) { return Taps2{v.data, v.dtype, v.strides[0], v.strides[1]}; }
inline Vector1 vector1(const TensorView& v) { return Vector1{v.data, v.dtype, v.strides[0]}; }

// Everything the forward kernels read and write. initial_state / final_state data may be null.
struct ForwardArgs {
  int64_t batch, channels, length;
  int taps;
  Strided3 x, initial_state, y, final_state;
  Taps2 weight;
  Vector1 bias;
};

// Everything the backward kernels read and write. Absent inputs/outputs have null data.
struct BackwardArgs {
  int64_t batch, channels, length;
  int taps;
  Strided3 x, initial_state, dy, dfinal_state, dx, dinitial_state;
  Taps2 weight;
  Vector1 bias;
  // Weight/bias partial sums: [b][c][group][K + 1] of the accumulation type (the K + 1-th column is
  // the bias), null when neither dweight nor dbias is requested.
  void* partials;
  int64_t chunk_groups;
};

struct StepArgs {
  int64_t batch, channels;
  int taps;
  int64_t x_stride_b, x_stride_c, y_stride_b, y_stride_c;
  void* x;
  void* y;
  Strided3 state;
  Taps2 weight;
  Vector1 bias;
};

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
