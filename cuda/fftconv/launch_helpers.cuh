// Host-side helpers shared by the fftconv launchers: dtype -> template type, launch error checks,
// the dynamic shared memory opt-in, grid sizing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "serengeti/dtype.h"
#include "serengeti/error.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// The activation dtypes this build instantiates (CMake option SERENGETI_FFTCONV_DTYPES; all three
// when the build does not say).
#ifndef SERENGETI_FFTCONV_FLOAT32
#define SERENGETI_FFTCONV_FLOAT32 1
#endif
#ifndef SERENGETI_FFTCONV_FLOAT16
#define SERENGETI_FFTCONV_FLOAT16 1
#endif
#ifndef SERENGETI_FFTCONV_BFLOAT16
#define SERENGETI_FFTCONV_BFLOAT16 1
#endif

// f(T{}) with T the storage type of an activation dtype (float64 is rejected by validation).
template <class F>
void with_activation_type(DType dtype, F&& f) {
  switch (dtype) {
#if SERENGETI_FFTCONV_FLOAT32
    case DType::kFloat32: f(float{}); return;
#endif
#if SERENGETI_FFTCONV_FLOAT16
    case DType::kFloat16: f(__half{}); return;
#endif
#if SERENGETI_FFTCONV_BFLOAT16
    case DType::kBFloat16: f(__nv_bfloat16{}); return;
#endif
    default: break;
  }
  SG_CHECK_ARG(false, "u: this build of the CUDA fftconv has no ", dtype_name(dtype),
               " kernels (SERENGETI_FFTCONV_DTYPES)");
}

// Throws InternalError when the launch just made failed.
inline void check_launch(const char* kernel) {
  const cudaError_t error = cudaGetLastError();
  SG_CHECK_INTERNAL(error == cudaSuccess, "fftconv: launch of ", kernel, " failed: ",
                    cudaGetErrorString(error));
}

// Lets `kernel` use `bytes` of dynamic shared memory (needed above 48 KB).
template <class Kernel>
void allow_shared_bytes(Kernel kernel, std::size_t bytes, const char* name) {
  if (bytes <= 48 * 1024) return;
  const cudaError_t error =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  SG_CHECK_INTERNAL(error == cudaSuccess, "fftconv: ", name, " cannot use ", bytes,
                    " bytes of shared memory on this device: ", cudaGetErrorString(error));
}

// Grid of a block-stride loop over `items` block-sized work items.
inline unsigned grid_for(int64_t items) {
  constexpr int64_t kMaxBlocks = int64_t(1) << 20;
  return static_cast<unsigned>(items < 1 ? 1 : (items < kMaxBlocks ? items : kMaxBlocks));
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
