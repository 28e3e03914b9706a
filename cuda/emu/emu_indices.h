// threadIdx, blockIdx, blockDim, gridDim, warpSize: read from the running emulated thread.
#pragma once

#include "emu_device_state.h"

namespace sg_emu {
namespace detail {
inline const uint3& thread_idx() { return current_thread()->thread_idx; }
inline const uint3& block_idx() { return current_thread()->block_idx; }
inline const dim3& block_dim() { return current_thread()->block_dim; }
inline const dim3& grid_dim() { return current_thread()->grid_dim; }
}  // namespace detail
}  // namespace sg_emu

#define threadIdx (::sg_emu::detail::thread_idx())
#define blockIdx (::sg_emu::detail::block_idx())
#define blockDim (::sg_emu::detail::block_dim())
#define gridDim (::sg_emu::detail::grid_dim())

constexpr int warpSize = 32;
