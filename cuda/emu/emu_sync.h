// Block barriers, warp barriers, fences. The call site (file:line) of every barrier is recorded so
// a divergent __syncthreads can be reported precisely.
#pragma once

#include <atomic>

#include "emu_device_state.h"

namespace sg_emu {
namespace device_api {

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::sg_emu::detail::block_barrier(0, file, line);
}
inline int __syncthreads_count(int predicate, const char* file = __builtin_FILE(),
                               int line = __builtin_LINE()) {
  return ::sg_emu::detail::block_barrier(predicate != 0, file, line);
}
inline int __syncthreads_and(int predicate, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  return ::sg_emu::detail::block_barrier(predicate != 0, file, line) ==
         int(blockDim.x * blockDim.y * blockDim.z);
}
inline int __syncthreads_or(int predicate, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE()) {
  return ::sg_emu::detail::block_barrier(predicate != 0, file, line) != 0;
}

inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  ::sg_emu::detail::WarpArrival a{::sg_emu::detail::WarpOp::sync_warp, mask, "__syncwarp", file, line};
  ::sg_emu::detail::warp_collective(a);
}

// Threads of a block interleave only at emulator switch points, and blocks on different workers
// share memory through atomics; a sequentially consistent fence covers every CUDA fence scope.
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// Spin-wait loops sleep here; letting the other threads run is what makes them terminate.
inline void __nanosleep(unsigned) { ::sg_emu::detail::yield_thread(); }

[[noreturn]] inline void __trap() { ::sg_emu::detail::device_error("__trap() called"); }
[[noreturn]] inline void __brkpt() { ::sg_emu::detail::device_error("__brkpt() called"); }

// Cache-hinted loads and stores: plain memory accesses on the host.
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline T __ldcv(const T* p) { return *p; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwt(T* p, T v) { *p = v; }

}  // namespace device_api
}  // namespace sg_emu
