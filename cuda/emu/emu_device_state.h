// What device code sees of the emulated thread that is running, and the one entry point through
// which every warp collective (shuffle, vote, __syncwarp, wmma) synchronises its lanes.
#pragma once

#include <cstdint>

#include <vector_types.h>  // uint3, dim3 (plain host types in the CUDA headers)

namespace sg_emu {
namespace detail {

// Indices of the running thread. Blocks' values are copied into each thread so an index read is
// one load from the current thread.
struct DeviceThread {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned linear;  // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
  unsigned lane;    // linear % 32
  unsigned warp;    // linear / 32
};

// The running emulated thread (per fiber, so `pure` is true from the kernel's point of view: a
// fiber always resumes as itself). Null outside a kernel.
DeviceThread* current_thread() noexcept __attribute__((pure));

enum class WarpOp : std::uint8_t {
  sync_warp,
  shfl_idx,
  shfl_up,
  shfl_down,
  shfl_xor,
  ballot,
  any,
  all,
  match_any,
  match_all,
  reduce_add,
  reduce_min_unsigned,
  reduce_max_unsigned,
  reduce_min_signed,
  reduce_max_signed,
  reduce_and,
  reduce_or,
  reduce_xor,
  custom,  // wmma and friends: `perform` runs once for the whole group
};

struct WarpArrival;
// Runs once, on the lane that completes a custom collective, with all 32 lanes' arrivals
// (indexed by lane). May throw WarpSyncError for misuse (e.g. lanes passing different pointers).
using WarpPerform = void (*)(WarpArrival* const* lanes);

struct WarpArrival {
  WarpOp op;
  unsigned mask;
  const char* name;  // the intrinsic, for messages
  const char* file;
  int line;
  std::uint64_t value = 0;  // the lane's operand (bit pattern)
  int arg = 0;              // srcLane / delta / laneMask
  int width = 32;
  std::uint64_t result = 0;
  WarpPerform perform = nullptr;
  void* data = nullptr;  // custom collectives' per-lane payload
};

// Blocks the calling lane until every non-exited lane named in arrival.mask has arrived at a
// collective with the same op and mask, then fills arrival.result. Throws WarpSyncError on misuse.
void warp_collective(WarpArrival& arrival);

// __syncthreads and its reductions: blocks until all threads of the block arrive at this barrier.
int block_barrier(int predicate, const char* file, int line);

// Lets the other threads of the block run (used by spin-friendly operations such as atomicCAS).
void yield_thread();

// Throws KernelError with `message` (device-side asserts and unsupported operations).
[[noreturn]] void device_error(const char* message);

}  // namespace detail
}  // namespace sg_emu
