// Warp shuffles, votes, matches and reductions. Each one is a warp-level barrier over the lanes of
// its mask (see warp_collectives.cpp for the checks). Shuffles take any trivially copyable type of
// at most 8 bytes (CUDA's overloads: int, unsigned, long long, float, double, __half, __half2, ...).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "emu_device_state.h"

namespace sg_emu {
namespace detail {

template <class T>
std::uint64_t to_bits(const T& value) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                "warp shuffles move at most 8 bytes of a trivially copyable type");
  std::uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const void*>(&value), sizeof(T));
  return bits;
}

template <class T>
T from_bits(std::uint64_t bits) {
  T value;
  std::memcpy(static_cast<void*>(&value), &bits, sizeof(T));
  return value;
}

template <class T>
T shuffle(WarpOp op, const char* name, unsigned mask, const T& var, int arg, int width,
          const char* file, int line) {
  WarpArrival a{op, mask, name, file, line};
  a.value = to_bits(var);
  a.arg = arg;
  a.width = width;
  warp_collective(a);
  return from_bits<T>(a.result);
}

inline std::uint64_t vote(WarpOp op, const char* name, unsigned mask, std::uint64_t value,
                          const char* file, int line, int* pred = nullptr) {
  WarpArrival a{op, mask, name, file, line};
  a.value = value;
  warp_collective(a);
  if (pred) *pred = a.arg;
  return a.result;
}

}  // namespace detail

namespace device_api {

template <class T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32,
              const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return detail::shuffle(detail::WarpOp::shfl_idx, "__shfl_sync", mask, var, srcLane, width, file, line);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                 const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return detail::shuffle(detail::WarpOp::shfl_up, "__shfl_up_sync", mask, var, int(delta), width, file, line);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                   const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return detail::shuffle(detail::WarpOp::shfl_down, "__shfl_down_sync", mask, var, int(delta), width, file, line);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32,
                  const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return detail::shuffle(detail::WarpOp::shfl_xor, "__shfl_xor_sync", mask, var, laneMask, width, file, line);
}

inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::ballot, "__ballot_sync", mask, predicate != 0, file, line));
}
inline int __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return int(detail::vote(detail::WarpOp::any, "__any_sync", mask, predicate != 0, file, line));
}
inline int __all_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return int(detail::vote(detail::WarpOp::all, "__all_sync", mask, predicate != 0, file, line));
}

template <class T>
unsigned __match_any_sync(unsigned mask, T value, const char* file = __builtin_FILE(),
                          int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::match_any, "__match_any_sync", mask,
                               detail::to_bits(value), file, line));
}
template <class T>
unsigned __match_all_sync(unsigned mask, T value, int* pred, const char* file = __builtin_FILE(),
                          int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::match_all, "__match_all_sync", mask,
                               detail::to_bits(value), file, line, pred));
}

// sm_80 warp reductions.
inline unsigned __reduce_add_sync(unsigned mask, unsigned v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::reduce_add, "__reduce_add_sync", mask, v, file, line));
}
inline int __reduce_add_sync(unsigned mask, int v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return int(unsigned(detail::vote(detail::WarpOp::reduce_add, "__reduce_add_sync", mask, unsigned(v), file, line)));
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::reduce_min_unsigned, "__reduce_min_sync", mask, v, file, line));
}
inline int __reduce_min_sync(unsigned mask, int v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return int(unsigned(detail::vote(detail::WarpOp::reduce_min_signed, "__reduce_min_sync", mask, unsigned(v), file, line)));
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::reduce_max_unsigned, "__reduce_max_sync", mask, v, file, line));
}
inline int __reduce_max_sync(unsigned mask, int v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return int(unsigned(detail::vote(detail::WarpOp::reduce_max_signed, "__reduce_max_sync", mask, unsigned(v), file, line)));
}
inline unsigned __reduce_and_sync(unsigned mask, unsigned v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::reduce_and, "__reduce_and_sync", mask, v, file, line));
}
inline unsigned __reduce_or_sync(unsigned mask, unsigned v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::reduce_or, "__reduce_or_sync", mask, v, file, line));
}
inline unsigned __reduce_xor_sync(unsigned mask, unsigned v, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return unsigned(detail::vote(detail::WarpOp::reduce_xor, "__reduce_xor_sync", mask, v, file, line));
}

// Lanes of this warp that exist in the block. (The emulator does not track divergence, so lanes
// that took another branch still count as active.)
inline unsigned __activemask() {
  const auto* t = detail::current_thread();
  const unsigned threads = t->block_dim.x * t->block_dim.y * t->block_dim.z;
  const unsigned in_warp = threads - t->warp * 32 >= 32 ? 32 : threads - t->warp * 32;
  return in_warp == 32 ? 0xffffffffu : (1u << in_warp) - 1;
}

}  // namespace device_api
}  // namespace sg_emu
