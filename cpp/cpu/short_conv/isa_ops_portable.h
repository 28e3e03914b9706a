// Portable twins of isa_ops_avx2.h (same names): eight-element converting loads and stores, the
// sigmoid and a fixed-order horizontal sum, as plain loops the compiler may vectorise.
// Include ONLY from portable files.
#pragma once

#include <cmath>
#include <cstdint>

#include "cpu/short_conv/scalar_convert.h"
#include "cpu/simd/vec8_portable.h"

namespace serengeti::cpu::short_conv::portable {

namespace vec = ::serengeti::cpu::simd::portable;

template <DType D>
inline vec::Vec8<ComputeOf<D>> load8(const RawOf<D>* p) {
  vec::Vec8<ComputeOf<D>> r;
  for (int l = 0; l < 8; ++l) r.v[l] = scalar::load<D>(p, l);
  return r;
}

template <DType D>
inline void store8(RawOf<D>* p, const vec::Vec8<ComputeOf<D>>& v) {
  for (int l = 0; l < 8; ++l) scalar::store<D>(p, l, v.v[l]);
}

// sigmoid(a) = 1 / (1 + e^-a); std::exp overflows to +inf for very negative a, giving exactly 0.
template <class T>
inline vec::Vec8<T> sigmoid(const vec::Vec8<T>& a) {
  vec::Vec8<T> r;
  for (int l = 0; l < 8; ++l) r.v[l] = T(1) / (T(1) + std::exp(-a.v[l]));
  return r;
}

template <class T>
inline double hsum(const vec::Vec8<T>& a) {
  double s = 0.0;
  for (int l = 0; l < 8; ++l) s += double(a.v[l]);
  return s;
}

}  // namespace serengeti::cpu::short_conv::portable
