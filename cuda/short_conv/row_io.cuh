// Loads and stores of a run of kRunLength consecutive time steps of one (b, c) row, as one thread
// of the row kernels does. When the row is unit-stride, the run lies inside [0, L) and its address
// is 16-byte aligned, it moves as 16-byte vectors (1 for half/bf16, 2 for float, 4 for double);
// otherwise element by element with any stride, which is also how a sliced view (the "generic"
// path) is served. Elements outside [0, L) read as zero and are not written.
#pragma once

#include <cstdint>
#include <cstring>

#include "cuda/emu/sg_launch.h"
#include "cuda/short_conv/element_convert.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {

constexpr int kRunLength = 8;

// One aligned 16-byte access as the widest native vector of the type (float4, double2), or as a
// uint4 whose bytes are copied into the 16-bit values (memcpy: a register move on the device,
// and no strict-aliasing hazard on the host).
__device__ __forceinline__ void load_vector16(const float* p, float (&v)[4]) {
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
__device__ __forceinline__ void load_vector16(const double* p, double (&v)[2]) {
  const double2 q = *reinterpret_cast<const double2*>(p);
  v[0] = q.x; v[1] = q.y;
}
template <class T16>
__device__ __forceinline__ void load_vector16(const T16* p, T16 (&v)[8]) {
  const uint4 q = *reinterpret_cast<const uint4*>(p);
  memcpy(static_cast<void*>(v), &q, 16);
}
__device__ __forceinline__ void store_vector16(float* p, const float (&v)[4]) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store_vector16(double* p, const double (&v)[2]) {
  *reinterpret_cast<double2*>(p) = make_double2(v[0], v[1]);
}
template <class T16>
__device__ __forceinline__ void store_vector16(T16* p, const T16 (&v)[8]) {
  uint4 q;
  memcpy(&q, v, 16);
  *reinterpret_cast<uint4*>(p) = q;
}

template <class T>
__device__ __forceinline__ bool run_vectorizable(const T* first, int64_t stride_t, int64_t t,
                                                 int64_t length) {
  return stride_t == 1 && t + kRunLength <= length &&
         (reinterpret_cast<uintptr_t>(first) & 15u) == 0;
}

// out[e] = row[(t + e) * stride_t] widened, or 0 when t + e is outside [0, length).
template <class T>
__device__ __forceinline__ void load_run(const T* row, int64_t stride_t, int64_t t, int64_t length,
                                         Acc<T> (&out)[kRunLength]) {
  static_assert((kRunLength * sizeof(T)) % 16 == 0, "a run must be whole 16-byte vectors");
  constexpr int kVectors = kRunLength * sizeof(T) / 16;
  const T* first = row + t * stride_t;
  if (t >= 0 && run_vectorizable(first, stride_t, t, length)) {
    constexpr int kPerVector = kRunLength / kVectors;
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      T values[kPerVector];
      load_vector16(first + v * kPerVector, values);
#pragma unroll
      for (int e = 0; e < kPerVector; ++e) out[v * kPerVector + e] = widen(values[e]);
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < kRunLength; ++e) {
    const int64_t te = t + e;
    out[e] = (te >= 0 && te < length) ? widen(row[te * stride_t]) : Acc<T>(0);
  }
}

// row[(t + e) * stride_t] = in[e] rounded to T, for t + e inside [0, length).
template <class T>
__device__ __forceinline__ void store_run(T* row, int64_t stride_t, int64_t t, int64_t length,
                                          const Acc<T> (&in)[kRunLength]) {
  constexpr int kVectors = kRunLength * sizeof(T) / 16;
  T* first = row + t * stride_t;
  if (t >= 0 && run_vectorizable(first, stride_t, t, length)) {
    constexpr int kPerVector = kRunLength / kVectors;
#pragma unroll
    for (int v = 0; v < kVectors; ++v) {
      T values[kPerVector];
#pragma unroll
      for (int e = 0; e < kPerVector; ++e) values[e] = narrow<T>(in[v * kPerVector + e]);
      store_vector16(first + v * kPerVector, values);
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < kRunLength; ++e) {
    const int64_t te = t + e;
    if (te >= 0 && te < length) row[te * stride_t] = narrow<T>(in[e]);
  }
}

// The extended input of a row: x[t] for 0 <= t < L, initial_state[K-1+t] for -(K-1) <= t < 0 (zero
// when there is no initial state), zero for t >= L.
template <class T>
__device__ __forceinline__ Acc<T> extended_input(const T* x_row, int64_t x_stride_t,
                                                 const T* state_row, int64_t state_stride_t,
                                                 int taps, int64_t t, int64_t length) {
  if (t >= 0) return t < length ? widen(x_row[t * x_stride_t]) : Acc<T>(0);
  if (state_row == nullptr) return Acc<T>(0);
  return widen(state_row[(taps - 1 + t) * state_stride_t]);
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
