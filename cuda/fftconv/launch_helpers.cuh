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

// f(T{}) with T the storage type of an activation dtype (float64 is rejected by validation).
template <class F>
void with_activation_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: f(float{}); return;
    case DType::kFloat16: f(__half{}); return;
    case DType::kBFloat16: f(__nv_bfloat16{}); return;
    case DType::kFloat64: break;
  }
  SG_CHECK_ARG(false, "u: dtype ", dtype_name(dtype), " is not supported by the CUDA fftconv kernels");
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
