// Sources and sinks of the outer passes (outer_pass.cuh) that touch the op's own tensors: the
// first forward pass reads a gated activation packed as z[n] = w[2n] + i w[2n+1] (zero beyond L),
// the last inverse pass writes time samples t = 2n, 2n+1 < L of an output. `row` is the sequence
// index b * H + h.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/element_io.cuh"
#include "cuda/fftconv/kernel_args.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// w = x * gate (gate optional), packed.
template <class T>
struct GatedSignalSource {
  Activation x, gate;
  int64_t channels, length;
  __device__ __forceinline__ float2 operator()(int64_t row, int64_t n) const {
    const int64_t b = row / channels, h = row - b * channels, t = 2 * n;
    float2 z = make_float2(0.0f, 0.0f);
    if (t < length) z.x = load_gated<T>(x, gate, b, h, t);
    if (t + 1 < length) z.y = load_gated<T>(x, gate, b, h, t + 1);
    return z;
  }
};

// f(t, value) for the time samples t = 2n and 2n + 1 of the packed value v = (y[2n], y[2n+1]) that
// lie before `length` (the outputs the op keeps).
template <class F>
__device__ __forceinline__ void for_packed_samples(int64_t n, float2 v, int64_t length, F&& f) {
  if (2 * n < length) f(2 * n, v.x);
  if (2 * n + 1 < length) f(2 * n + 1, v.y);
}

// out[b, h, t] = factor * (value + D[h] * x * gate); factor (absent: 1) and D optional. One element
// of ScaledSkipSink below and of the fused forward's output.
template <class T>
__device__ __forceinline__ void store_scaled_skip(const Activation& out, const Activation& x, const Activation& gate,
                                                  const Activation& factor, const float* D, int64_t D_stride,
                                                  int64_t b, int64_t h, int64_t t, float value) {
  if (D != nullptr) value = fmaf(D[h * D_stride], load_gated<T>(x, gate, b, h, t), value);
  if (factor.data != nullptr) value *= load<T>(factor, b, h, t);
  store<T>(out, b, h, t, value);
}

// From the input gradient dw at (b, h, t): du = dw * pregate (dw without a pregate) and
// dpregate = dw * u, each when requested. InputGradientSink below and the fused backward.
template <class T>
__device__ __forceinline__ void store_input_gradients(const Activation& du, const Activation& dpregate,
                                                      const Activation& pregate, const Activation& u, int64_t b,
                                                      int64_t h, int64_t t, float dw) {
  if (du.data != nullptr) store<T>(du, b, h, t, pregate.data != nullptr ? dw * load<T>(pregate, b, h, t) : dw);
  if (dpregate.data != nullptr) store<T>(dpregate, b, h, t, dw * load<T>(u, b, h, t));
}

// out[t] = factor[t] * (v[t] * inverse_size + D[h] * w[t]) with w = x * gate; factor (a postgate
// or dy) and D optional. The forward's y (factor = postgate) and the backward's dpostgate
// (factor = dy) are both this.
template <class T>
struct ScaledSkipSink {
  Activation x, gate, factor, out;
  const float* D;
  int64_t D_stride;
  int64_t channels, length;
  float inverse_size;
  __device__ __forceinline__ void operator()(int64_t row, int64_t n, float2 v) const {
    const int64_t b = row / channels, h = row - b * channels;
    for_packed_samples(n, v, length, [&](int64_t t, float value) {
      store_scaled_skip<T>(out, x, gate, factor, D, D_stride, b, h, t, value * inverse_size);
    });
  }
};

// The backward's input gradients: dw = v * inverse_size + D g (g = dy * postgate), then
// du = dw * pregate (dw without a pregate) and dpregate = dw * u, each when requested.
template <class T>
struct InputGradientSink {
  Activation dy, postgate, u, pregate, du, dpregate;
  const float* D;
  int64_t D_stride;
  int64_t channels, length;
  float inverse_size;
  __device__ __forceinline__ void operator()(int64_t row, int64_t n, float2 v) const {
    const int64_t b = row / channels, h = row - b * channels;
    for_packed_samples(n, v, length, [&](int64_t t, float value) {
      float dw = value * inverse_size;
      if (D != nullptr) dw = fmaf(D[h * D_stride], load_gated<T>(dy, postgate, b, h, t), dw);
      store_input_gradients<T>(du, dpregate, pregate, u, b, h, t, dw);
    });
  }
};

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
