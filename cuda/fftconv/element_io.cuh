// Activation element types: float32 is read as is, float16 / bfloat16 are widened on load and
// rounded to nearest even on store. All arithmetic is float32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_args.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(__half v) { return __half2float(v); }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T narrow(float v);
template <>
__device__ __forceinline__ float narrow<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half narrow<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 narrow<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <class T>
__device__ __forceinline__ float load(const Activation& a, int64_t b, int64_t h, int64_t t) {
  return widen(static_cast<const T*>(a.data)[a.offset(b, h, t)]);
}

// x[b, h, t] * gate[b, h, t] (gate absent: x).
template <class T>
__device__ __forceinline__ float load_gated(const Activation& x, const Activation& gate, int64_t b,
                                            int64_t h, int64_t t) {
  const float v = load<T>(x, b, h, t);
  return gate.data == nullptr ? v : v * load<T>(gate, b, h, t);
}

template <class T>
__device__ __forceinline__ void store(const Activation& a, int64_t b, int64_t h, int64_t t, float v) {
  static_cast<T*>(a.data)[a.offset(b, h, t)] = narrow<T>(v);
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
