// Eight-lane vector helpers in plain C++ (the portable build of every 8-lane kernel).
//
// Each op is a loop over 8 lanes that the compiler turns into SSE2 / NEON code; there are no
// intrinsics, so this header compiles anywhere. The AVX2 twin is vec8_avx2.h with the same names,
// so a kernel written against `vec::load`, `vec::fmadd`, ... builds for either ISA.
//
// Only include this from portable translation units: the functions are inline, and an inline
// function compiled once with -mavx2 and once without must not share a name (ODR).
#pragma once

#if defined(__GNUC__)
#define SERENGETI_VEC8_INLINE inline __attribute__((always_inline))
#else
#define SERENGETI_VEC8_INLINE inline
#endif

namespace serengeti::cpu::simd::portable {

template <class T>
struct Vec8 {
  T v[8];
};

// Whether kernels should keep loop-invariant vectors (e.g. six broadcast twiddles) in registers
// across an inner loop. A portable Vec8 spans 2 (float) or 4 (double) SSE/NEON registers, so
// hoisting spills: re-broadcasting from memory is cheaper.
template <class T>
constexpr bool kHoistInvariants = false;

template <class T>
SERENGETI_VEC8_INLINE Vec8<T> load(const T* p) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = p[i];
  return r;
}
template <class T>
SERENGETI_VEC8_INLINE void store(T* p, const Vec8<T>& a) {
  for (int i = 0; i < 8; ++i) p[i] = a.v[i];
}
template <class T>
SERENGETI_VEC8_INLINE Vec8<T> set1(T s) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = s;
  return r;
}
template <class T>
SERENGETI_VEC8_INLINE Vec8<T> add(const Vec8<T>& a, const Vec8<T>& b) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] + b.v[i];
  return r;
}
template <class T>
SERENGETI_VEC8_INLINE Vec8<T> sub(const Vec8<T>& a, const Vec8<T>& b) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] - b.v[i];
  return r;
}
template <class T>
SERENGETI_VEC8_INLINE Vec8<T> mul(const Vec8<T>& a, const Vec8<T>& b) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] * b.v[i];
  return r;
}
// a*b + c
template <class T>
SERENGETI_VEC8_INLINE Vec8<T> fmadd(const Vec8<T>& a, const Vec8<T>& b, const Vec8<T>& c) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
  return r;
}
// a*b - c
template <class T>
SERENGETI_VEC8_INLINE Vec8<T> fmsub(const Vec8<T>& a, const Vec8<T>& b, const Vec8<T>& c) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] * b.v[i] - c.v[i];
  return r;
}
// c - a*b
template <class T>
SERENGETI_VEC8_INLINE Vec8<T> fnmadd(const Vec8<T>& a, const Vec8<T>& b, const Vec8<T>& c) {
  Vec8<T> r;
  for (int i = 0; i < 8; ++i) r.v[i] = c.v[i] - a.v[i] * b.v[i];
  return r;
}

}  // namespace serengeti::cpu::simd::portable
