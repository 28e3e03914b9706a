// Pieces shared by the forward and backward kernel templates of one instruction set: the vector
// type, activation, converting block loads and stores, and the compile-time specialisation switch.
// Included (once per translation unit) after isa_ops_<isa>.h, inside no namespace; the including
// file defines SERENGETI_SHORT_CONV_ISA (avx2 or portable) and everything lands in that namespace.
#ifndef SERENGETI_SHORT_CONV_ISA
#error "define SERENGETI_SHORT_CONV_ISA before including kernel_common_impl.h"
#endif

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cpu/short_conv/conv_problem.h"
#include "cpu/short_conv/row_kernels.h"
#include "cpu/short_conv/scalar_convert.h"

namespace serengeti::cpu::short_conv::SERENGETI_SHORT_CONV_ISA {

// The 8-lane vector of compute type T (one __m256 for float on AVX2, two __m256d for double).
template <class T>
using Vec = decltype(vec::set1(T()));

template <class T>
inline Vec<T> zero_vec() {
  return vec::set1(T(0));
}

inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }

// act(a): identity, or silu(a) = a * sigmoid(a).
template <bool kSilu, class V>
inline V activate(const V& a) {
  if constexpr (kSilu) {
    return vec::mul(a, sigmoid(a));
  } else {
    return a;
  }
}

// d silu / da = s + a s (1 - s) = s (1 + a (1 - s)),  s = sigmoid(a).
template <class T>
inline Vec<T> silu_derivative(const Vec<T>& a) {
  const Vec<T> s = sigmoid(a);
  const Vec<T> one = vec::set1(T(1));
  return vec::mul(s, vec::fmadd(a, vec::sub(one, s), one));
}

// Typed element pointer: base + offset elements of storage type D.
template <DType D>
inline const RawOf<D>* element(const void* base, int64_t offset) {
  return static_cast<const RawOf<D>*>(base) + offset;
}
template <DType D>
inline RawOf<D>* element(void* base, int64_t offset) {
  return static_cast<RawOf<D>*>(base) + offset;
}

// dst[i] = src[i * stride] widened, i < n. Unit stride goes 8 at a time.
template <DType D>
inline void stage_run(ComputeOf<D>* dst, const RawOf<D>* src, int64_t stride, int64_t n) {
  int64_t i = 0;
  if (stride == 1)
    for (; i + 8 <= n; i += 8) vec::store(dst + i, load8<D>(src + i));
  for (; i < n; ++i) dst[i] = scalar::load<D>(src, i * stride);
}

// dst[j * stride] = v[j] narrowed, j < count (count <= 8).
template <DType D>
inline void store_vec(RawOf<D>* dst, int64_t stride, const Vec<ComputeOf<D>>& v, int64_t count) {
  if (stride == 1 && count == 8) {
    store8<D>(dst, v);
    return;
  }
  alignas(64) ComputeOf<D> lanes[8];
  vec::store(lanes, v);
  for (int64_t j = 0; j < count; ++j) scalar::store<D>(dst, j * stride, lanes[j]);
}

// A row of W <= 64 channels (lane l at src[l * lane_stride]) into dst[0 .. padded_width), zero
// past W. Unit lane stride and whole groups of 8 go through the vector load.
template <DType D>
inline void stage_lanes(ComputeOf<D>* dst, const RawOf<D>* src, int64_t lane_stride, int64_t width,
                        int64_t padded_width) {
  int64_t l = 0;
  if (lane_stride == 1)
    for (; l + 8 <= width; l += 8) vec::store(dst + l, load8<D>(src + l));
  for (; l < width; ++l) dst[l] = scalar::load<D>(src, l * lane_stride);
  for (; l < padded_width; ++l) dst[l] = ComputeOf<D>(0);
}

// Calls f(std::integral_constant<int, kTaps>, std::integral_constant<bool, kSilu>) with kTaps the
// tap count for K = 2, 3, 4 (fully unrolled, taps in registers) and 0 (any K) otherwise.
template <class F>
inline void specialise(int64_t taps, bool silu, F&& f) {
  auto with_act = [&](auto k) {
    if (silu)
      f(k, std::integral_constant<bool, true>{});
    else
      f(k, std::integral_constant<bool, false>{});
  };
  switch (taps) {
    case 2: return with_act(std::integral_constant<int, 2>{});
    case 3: return with_act(std::integral_constant<int, 3>{});
    case 4: return with_act(std::integral_constant<int, 4>{});
    default: return with_act(std::integral_constant<int, 0>{});
  }
}

// sum_{i<K} taps[i] * window[i * step], taps as 8-lane vectors at tap_lanes + 8 i. kTaps > 0:
// the taps come from `regs` (loaded once per block by the caller, so they live in registers).
template <int kTaps, class T>
inline Vec<T> tap_sum(const T* window, int64_t step, const Vec<T>* regs, const T* tap_lanes,
                      int64_t taps, Vec<T> acc) {
  if constexpr (kTaps > 0) {
    for (int i = 0; i < kTaps; ++i) acc = vec::fmadd(regs[i], vec::load(window + i * step), acc);
  } else {
    for (int64_t i = 0; i < taps; ++i)
      acc = vec::fmadd(vec::load(tap_lanes + 8 * i), vec::load(window + i * step), acc);
  }
  return acc;
}

template <int kTaps, class T>
inline void load_tap_registers(Vec<T>* regs, const T* tap_lanes) {
  if constexpr (kTaps > 0)
    for (int i = 0; i < kTaps; ++i) regs[i] = vec::load(tap_lanes + 8 * i);
}

}  // namespace serengeti::cpu::short_conv::SERENGETI_SHORT_CONV_ISA
