// Atomics on global and shared memory: GCC __atomic builtins on the plain address, so they are
// atomic across worker threads too. atomicCAS/atomicExch first let other threads run, which keeps
// spin locks and CAS loops between threads of a block from spinning forever.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "emu_device_state.h"

namespace sg_emu {
namespace detail {

// Read-modify-write of any 2/4/8-byte type through a CAS loop on its bit pattern.
template <class T, class F>
T atomic_update(T* address, F f) {
  using Bits = std::conditional_t<sizeof(T) == 2, std::uint16_t,
               std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;
  static_assert(sizeof(T) == sizeof(Bits), "atomics on 2, 4 or 8 byte types");
  auto* bits = reinterpret_cast<Bits*>(address);
  Bits expected = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    T old;
    std::memcpy(static_cast<void*>(&old), &expected, sizeof(T));
    const T updated = f(old);
    Bits desired;
    std::memcpy(&desired, static_cast<const void*>(&updated), sizeof(T));
    if (__atomic_compare_exchange_n(bits, &expected, desired, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_RELAXED))
      return old;
  }
}

}  // namespace detail

namespace device_api {

#define SG_EMU_INTEGER_ATOMICS(T)                                                                 \
  inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }            \
  inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }            \
  inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }            \
  inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }              \
  inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }            \
  inline T atomicMin(T* a, T v) { return detail::atomic_update(a, [v](T o) { return v < o ? v : o; }); } \
  inline T atomicMax(T* a, T v) { return detail::atomic_update(a, [v](T o) { return v > o ? v : o; }); } \
  inline T atomicExch(T* a, T v) {                                                                \
    detail::yield_thread();                                                                       \
    return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);                                           \
  }                                                                                               \
  inline T atomicCAS(T* a, T compare, T v) {                                                      \
    detail::yield_thread();                                                                       \
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);       \
    return compare;                                                                               \
  }

SG_EMU_INTEGER_ATOMICS(int)
SG_EMU_INTEGER_ATOMICS(unsigned int)
SG_EMU_INTEGER_ATOMICS(unsigned long long int)
SG_EMU_INTEGER_ATOMICS(long long int)
#undef SG_EMU_INTEGER_ATOMICS

inline unsigned short atomicCAS(unsigned short* a, unsigned short compare, unsigned short v) {
  detail::yield_thread();
  __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}

inline float atomicAdd(float* a, float v) { return detail::atomic_update(a, [v](float o) { return o + v; }); }
inline double atomicAdd(double* a, double v) { return detail::atomic_update(a, [v](double o) { return o + v; }); }
inline float atomicExch(float* a, float v) {
  detail::yield_thread();
  return detail::atomic_update(a, [v](float) { return v; });
}
inline __half atomicAdd(__half* a, __half v) {
  return detail::atomic_update(a, [v](__half o) { return __float2half(__half2float(o) + __half2float(v)); });
}
inline __half2 atomicAdd(__half2* a, __half2 v) {
  return detail::atomic_update(a, [v](__half2 o) {
    return __floats2half2_rn(__low2float(o) + __low2float(v), __high2float(o) + __high2float(v));
  });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* a, __nv_bfloat16 v) {
  return detail::atomic_update(a, [v](__nv_bfloat16 o) {
    return __float2bfloat16(__bfloat162float(o) + __bfloat162float(v));
  });
}
// sm_90 float atomicMin/Max exist only on newer devices; integers are what sm_80 offers.

inline unsigned atomicInc(unsigned* a, unsigned limit) {
  return detail::atomic_update(a, [limit](unsigned o) { return o >= limit ? 0u : o + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  return detail::atomic_update(a, [limit](unsigned o) { return (o == 0 || o > limit) ? limit : o - 1; });
}

// Scoped variants (_block, _system) are the same operation here.
template <class... A> auto atomicAdd_block(A... a) -> decltype(atomicAdd(a...)) { return atomicAdd(a...); }
template <class... A> auto atomicAdd_system(A... a) -> decltype(atomicAdd(a...)) { return atomicAdd(a...); }
template <class... A> auto atomicCAS_block(A... a) -> decltype(atomicCAS(a...)) { return atomicCAS(a...); }
template <class... A> auto atomicExch_block(A... a) -> decltype(atomicExch(a...)) { return atomicExch(a...); }
template <class... A> auto atomicMax_block(A... a) -> decltype(atomicMax(a...)) { return atomicMax(a...); }
template <class... A> auto atomicMin_block(A... a) -> decltype(atomicMin(a...)) { return atomicMin(a...); }

}  // namespace device_api
}  // namespace sg_emu
