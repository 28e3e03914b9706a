// Element conversions shared by the kernel families (fftconv, short_conv, modal): widening of
// float / half / bfloat16 / double storage to the arithmetic type and round-to-nearest-even back to
// the storage type T.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/emu/sg_launch.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace element_convert {

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ double widen(double v) { return v; }
__device__ __forceinline__ float widen(__half v) { return __half2float(v); }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }

// Round-to-nearest-even into the storage type T.
template <class T>
__device__ __forceinline__ T narrow(float v);
template <>
__device__ __forceinline__ float narrow<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half narrow<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 narrow<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <class T>
__device__ __forceinline__ T narrow(double v) { return narrow<T>(static_cast<float>(v)); }
template <>
__device__ __forceinline__ double narrow<double>(double v) { return v; }

}  // namespace element_convert
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
