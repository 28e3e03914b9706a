// Element conversions of the short-conv kernels. Arithmetic runs in the accumulation type Acc:
// float for float32/float16/bfloat16 activations, double for float64 ones. weight and bias carry a
// runtime dtype (any of the four), read once per block or per tap, so a switch costs nothing and
// saves a template dimension.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/common/element_convert.cuh"
#include "cuda/emu/sg_launch.h"
#include "serengeti/dtype.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {

template <class T>
struct AccumulatorOf { using type = float; };
template <>
struct AccumulatorOf<double> { using type = double; };
template <class T>
using Acc = typename AccumulatorOf<T>::type;

// widen / narrow: cuda/common/element_convert.cuh (shared with the fftconv kernels).
using element_convert::narrow;
using element_convert::widen;

// data[index] of a runtime dtype, widened to A.
template <class A>
__device__ __forceinline__ A load_as(const void* data, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::kFloat64: return static_cast<A>(static_cast<const double*>(data)[index]);
    case DType::kFloat16: return static_cast<A>(widen(static_cast<const __half*>(data)[index]));
    case DType::kBFloat16: return static_cast<A>(widen(static_cast<const __nv_bfloat16*>(data)[index]));
    case DType::kFloat32: break;
  }
  return static_cast<A>(static_cast<const float*>(data)[index]);
}

// data[index] = value rounded to a runtime dtype (double values stay double for float64 outputs).
template <class A>
__device__ __forceinline__ void store_as(void* data, DType dtype, int64_t index, A value) {
  switch (dtype) {
    case DType::kFloat64: static_cast<double*>(data)[index] = static_cast<double>(value); return;
    case DType::kFloat16: static_cast<__half*>(data)[index] = narrow<__half>(value); return;
    case DType::kBFloat16:
      static_cast<__nv_bfloat16*>(data)[index] = narrow<__nv_bfloat16>(value);
      return;
    case DType::kFloat32: break;
  }
  static_cast<float*>(data)[index] = static_cast<float>(value);
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
