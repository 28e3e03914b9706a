// Eight-lane vector helpers on AVX2 + FMA: float is one __m256, double is a pair of __m256d.
//
// Same names and meanings as vec8_portable.h so one kernel template builds for both ISAs.
// Include ONLY from *_avx2.cpp files (compiled with -mavx2 -mfma -mf16c).
#pragma once

#include <immintrin.h>

namespace serengeti::cpu::simd::avx2 {

struct Vec8f {
  __m256 v;
};
struct Vec8d {
  __m256d lo, hi;  // lanes 0..3 and 4..7
};

// Whether kernels should keep loop-invariant vectors in registers across an inner loop: yes for
// float (one register each), no for double (two registers each; hoisting six would spill).
template <class T>
constexpr bool kHoistInvariants = sizeof(T) == 4;

// ---- float: one register ----
inline Vec8f load(const float* p) { return {_mm256_loadu_ps(p)}; }
inline void store(float* p, Vec8f a) { _mm256_storeu_ps(p, a.v); }
inline Vec8f set1(float s) { return {_mm256_set1_ps(s)}; }
inline Vec8f add(Vec8f a, Vec8f b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vec8f sub(Vec8f a, Vec8f b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline Vec8f mul(Vec8f a, Vec8f b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vec8f fmadd(Vec8f a, Vec8f b, Vec8f c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec8f fmsub(Vec8f a, Vec8f b, Vec8f c) { return {_mm256_fmsub_ps(a.v, b.v, c.v)}; }
inline Vec8f fnmadd(Vec8f a, Vec8f b, Vec8f c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }

// ---- double: two registers ----
inline Vec8d load(const double* p) { return {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)}; }
inline void store(double* p, const Vec8d& a) {
  _mm256_storeu_pd(p, a.lo);
  _mm256_storeu_pd(p + 4, a.hi);
}
inline Vec8d set1(double s) { return {_mm256_set1_pd(s), _mm256_set1_pd(s)}; }
inline Vec8d add(const Vec8d& a, const Vec8d& b) {
  return {_mm256_add_pd(a.lo, b.lo), _mm256_add_pd(a.hi, b.hi)};
}
inline Vec8d sub(const Vec8d& a, const Vec8d& b) {
  return {_mm256_sub_pd(a.lo, b.lo), _mm256_sub_pd(a.hi, b.hi)};
}
inline Vec8d mul(const Vec8d& a, const Vec8d& b) {
  return {_mm256_mul_pd(a.lo, b.lo), _mm256_mul_pd(a.hi, b.hi)};
}
inline Vec8d fmadd(const Vec8d& a, const Vec8d& b, const Vec8d& c) {
  return {_mm256_fmadd_pd(a.lo, b.lo, c.lo), _mm256_fmadd_pd(a.hi, b.hi, c.hi)};
}
inline Vec8d fmsub(const Vec8d& a, const Vec8d& b, const Vec8d& c) {
  return {_mm256_fmsub_pd(a.lo, b.lo, c.lo), _mm256_fmsub_pd(a.hi, b.hi, c.hi)};
}
inline Vec8d fnmadd(const Vec8d& a, const Vec8d& b, const Vec8d& c) {
  return {_mm256_fnmadd_pd(a.lo, b.lo, c.lo), _mm256_fnmadd_pd(a.hi, b.hi, c.hi)};
}

}  // namespace serengeti::cpu::simd::avx2
