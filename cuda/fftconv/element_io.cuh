// Activation element types: float32 is read as is, float16 / bfloat16 are widened on load and
// rounded to nearest even on store. All arithmetic is float32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "cuda/common/element_convert.cuh"
#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_args.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// widen / narrow: cuda/common/element_convert.cuh (shared with the short-conv kernels).
using element_convert::narrow;
using element_convert::widen;

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
