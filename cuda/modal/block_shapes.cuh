// Block sizing under the shared-memory budget, and the fixed-order block reduction every modal
// gradient goes through (no float atomics: results are bitwise reproducible for a given shape).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/short_conv/launch_helpers.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {

using short_conv_kernels::ceil_div;
using short_conv_kernels::check_launch;
using short_conv_kernels::grid_for;
using short_conv_kernels::with_storage_type;
using short_conv_kernels::with_tap_count;

// Dynamic shared memory per block: under the 48 KiB every device grants without opting in.
constexpr std::size_t kSharedBudget = 44 * 1024;

// The largest power of two <= max_threads whose blocks fit fixed + threads * per_thread bytes in
// the budget; 0 when not even one thread fits.
inline int threads_within_budget(std::size_t per_thread, std::size_t fixed, int max_threads) {
  int threads = max_threads;
  while (threads > 0 && fixed + std::size_t(threads) * per_thread > kSharedBudget) threads /= 2;
  return threads;
}

// Sums `values[i]` (i < kCount) over the block's threads (blockDim.x a power of two) into thread 0,
// pairwise in a fixed tree. scratch: kCount * blockDim.x doubles of shared memory. Every thread of
// the block must call it.
template <int kCount>
__device__ __forceinline__ void block_sum(double (&values)[kCount], double* scratch) {
  const int nt = blockDim.x, tid = threadIdx.x;
  __syncthreads();  // the scratch may still be read by a previous call
#pragma unroll
  for (int i = 0; i < kCount; ++i) scratch[i * nt + tid] = values[i];
  __syncthreads();
  for (int half = nt / 2; half > 0; half /= 2) {
    if (tid < half)
#pragma unroll
      for (int i = 0; i < kCount; ++i) scratch[i * nt + tid] += scratch[i * nt + tid + half];
    __syncthreads();
  }
  if (tid == 0)
#pragma unroll
    for (int i = 0; i < kCount; ++i) values[i] = scratch[i * nt];
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
