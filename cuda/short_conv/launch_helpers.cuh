// Host-side helpers of the short-conv launchers: lifting runtime choices (activation dtype, tap
// count, activation) to template constants, and turning a failed launch into an InternalError.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "cuda/emu/sg_launch.h"
#include "serengeti/dtype.h"
#include "serengeti/error.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {

// f(T{}) with T the storage type of dtype.
template <class F>
void with_storage_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: f(float{}); return;
    case DType::kFloat64: f(double{}); return;
    case DType::kFloat16: f(__half{}); return;
    case DType::kBFloat16: f(__nv_bfloat16{}); return;
  }
  SG_CHECK_ARG(false, "x: unsupported dtype code ", int(dtype));
}

// f(std::integral_constant<int, K>) for the tap counts with a fast path (2, 3, 4: Hyena's 3, Mamba's
// 4), else f(std::integral_constant<int, 0>) meaning "K read at run time".
template <class F>
void with_tap_count(int taps, F&& f) {
  switch (taps) {
    case 2: f(std::integral_constant<int, 2>{}); return;
    case 3: f(std::integral_constant<int, 3>{}); return;
    case 4: f(std::integral_constant<int, 4>{}); return;
    default: f(std::integral_constant<int, 0>{}); return;
  }
}

template <class F>
void with_silu_flag(bool silu, F&& f) {
  if (silu)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// Throws InternalError when the launch just made failed (bad configuration, no device, ...).
inline void check_launch(const char* op, const char* kernel) {
  const cudaError_t error = cudaGetLastError();
  SG_CHECK_INTERNAL(error == cudaSuccess, op, ": launch of ", kernel, " failed: ",
                    cudaGetErrorString(error));
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Grid size of a block-stride loop over `items` work items: the hardware limit of grid.x is
// 2^31 - 1, but a few waves per SM are plenty, and each block loops over the rest.
inline unsigned grid_for(int64_t items) {
  constexpr int64_t kMaxBlocks = int64_t(1) << 20;
  return static_cast<unsigned>(items < kMaxBlocks ? (items > 0 ? items : 1) : kMaxBlocks);
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
