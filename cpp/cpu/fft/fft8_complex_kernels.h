// Complex FFT of size B on 8-lane elements (8 re then 8 im), radix 4 with a radix-2 step when
// log2 B is odd. Included by one translation unit per ISA after defining SERENGETI_FFT8_ISA
// (portable or avx2); everything lives in a namespace named after the ISA so the two builds never
// share a symbol.
//
// Forward = decimation in frequency (DIF): natural-order input, BIT-REVERSED output. A radix-4 DIF
// step on a block of size B = 4q computes, for j < q, with a_r = x[j + r q]:
//   y_s = sum_r a_r (-i)^(r s),  and stores y_s * w^(s j)  (w = exp(-2 pi i / B))
// into quarter pos(s) with pos = (0, 2, 1, 3): storing the quarters in bit-reversed order of s makes
// a radix-4 step equal to two radix-2 DIF steps, so the whole transform is a plain bit reversal.
// Inverse = decimation in time (DIT): the exact mirror (conjugate twiddles, +i, steps in reverse
// order), bit-reversed input, natural output, unnormalised (result is B times the inverse DFT).
//
// Pruning. DIF with only the first `len` inputs nonzero: a step whose nonzero inputs all lie in
// the first quarter is a twiddle-multiply copy, and its four sub-blocks again have `len` nonzero
// inputs; with two live quarters it is a 2-input butterfly. DIT with only the first `olen` outputs
// needed: the last step computes only the live quarters, and when olen <= q the sub-blocks need only
// their first olen outputs.
#ifndef SERENGETI_FFT8_ISA
#error "define SERENGETI_FFT8_ISA (portable or avx2) before including fft8_complex_kernels.h"
#endif

#include <cstdint>
#include <cstring>

#include "cpu/fft/fft8_plan_data.h"

#if defined(__GNUC__)
#define SERENGETI_FFT8_INLINE inline __attribute__((always_inline))
#else
#define SERENGETI_FFT8_INLINE inline
#endif

namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA {

namespace vec = ::serengeti::cpu::simd::SERENGETI_FFT8_ISA;

template <class T>
using VecOf = decltype(vec::load(static_cast<const T*>(nullptr)));

// One element: 8 lanes of a complex number.
template <class T>
struct Cplx {
  VecOf<T> re, im;
};

template <class T>
SERENGETI_FFT8_INLINE Cplx<T> load_elem(const T* e) {
  return {vec::load(e), vec::load(e + 8)};
}
template <class T>
SERENGETI_FFT8_INLINE void store_elem(T* e, const Cplx<T>& z) {
  vec::store(e, z.re);
  vec::store(e + 8, z.im);
}
template <class T>
SERENGETI_FFT8_INLINE Cplx<T> cadd(const Cplx<T>& a, const Cplx<T>& b) {
  return {vec::add(a.re, b.re), vec::add(a.im, b.im)};
}
template <class T>
SERENGETI_FFT8_INLINE Cplx<T> csub(const Cplx<T>& a, const Cplx<T>& b) {
  return {vec::sub(a.re, b.re), vec::sub(a.im, b.im)};
}
// z * (wr + i wi), the twiddle broadcast to all lanes.
template <class T>
SERENGETI_FFT8_INLINE Cplx<T> cmul_tw(const Cplx<T>& z, T wr, T wi) {
  const VecOf<T> r = vec::set1(wr), i = vec::set1(wi);
  return {vec::fmsub(z.re, r, vec::mul(z.im, i)), vec::fmadd(z.re, i, vec::mul(z.im, r))};
}
// z * (wr - i wi)
template <class T>
SERENGETI_FFT8_INLINE Cplx<T> cmul_conj_tw(const Cplx<T>& z, T wr, T wi) {
  const VecOf<T> r = vec::set1(wr), i = vec::set1(wi);
  return {vec::fmadd(z.re, r, vec::mul(z.im, i)), vec::fmsub(z.im, r, vec::mul(z.re, i))};
}

template <class T>
inline void zero_elems(T* x, int64_t count) {
  if (count > 0) std::memset(x, 0, sizeof(T) * kElemValues * count);
}

inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }

// ------------------------------------------------------------------------------------------------
// DIF steps on one block of 4q elements; w points at the (w^j, w^2j, w^3j) table of this size.

// One radix-4 DIF butterfly in registers: inputs a_r in natural order, outputs in storage order
// (y0, y2 w^2j, y1 w^j, y3 w^3j); w = (w^j, w^2j, w^3j) as (re, im) pairs.
template <class T>
SERENGETI_FFT8_INLINE void dif4_butterfly(Cplx<T>& a0, Cplx<T>& a1, Cplx<T>& a2, Cplx<T>& a3, const T* w) {
  const Cplx<T> t0 = cadd(a0, a2), t1 = csub(a0, a2), t2 = cadd(a1, a3), t3 = csub(a1, a3);
  const Cplx<T> y1 = {vec::add(t1.re, t3.im), vec::sub(t1.im, t3.re)};  // t1 - i t3
  const Cplx<T> y3 = {vec::sub(t1.re, t3.im), vec::add(t1.im, t3.re)};  // t1 + i t3
  a0 = cadd(t0, t2);
  a1 = cmul_tw(csub(t0, t2), w[2], w[3]);
  a2 = cmul_tw(y1, w[0], w[1]);
  a3 = cmul_tw(y3, w[4], w[5]);
}

// Twiddles (w^j, w^2j, w^3j) broadcast once, for reuse across the groups of a sweep.
template <class T>
struct Twiddles3 {
  VecOf<T> r1, i1, r2, i2, r3, i3;
  explicit Twiddles3(const T* w)
      : r1(vec::set1(w[0])), i1(vec::set1(w[1])), r2(vec::set1(w[2])), i2(vec::set1(w[3])),
        r3(vec::set1(w[4])), i3(vec::set1(w[5])) {}
};

template <class T>
SERENGETI_FFT8_INLINE Cplx<T> cmul_v(const Cplx<T>& z, const VecOf<T>& r, const VecOf<T>& i) {
  return {vec::fmsub(z.re, r, vec::mul(z.im, i)), vec::fmadd(z.re, i, vec::mul(z.im, r))};
}
template <class T>
SERENGETI_FFT8_INLINE Cplx<T> cmul_conj_v(const Cplx<T>& z, const VecOf<T>& r, const VecOf<T>& i) {
  return {vec::fmadd(z.re, r, vec::mul(z.im, i)), vec::fmsub(z.im, r, vec::mul(z.re, i))};
}

// A radix-4 DIF level over every block of size 4q in x[0 .. size): j outer, blocks inner, so each
// twiddle is broadcast once per level instead of once per block (used when vec::kHoistInvariants).
template <class T>
void dif4_sweep(T* x, int64_t size, int64_t q, const T* w) {
  const int64_t qo = q * kElemValues;
  for (int64_t j = 0; j < q; ++j, w += 6) {
    const Twiddles3<T> tw(w);
    for (int64_t g = j * kElemValues; g < size * kElemValues; g += 4 * qo) {
      T* p = x + g;
      const Cplx<T> a0 = load_elem(p), a1 = load_elem(p + qo), a2 = load_elem(p + 2 * qo),
                    a3 = load_elem(p + 3 * qo);
      const Cplx<T> t0 = cadd(a0, a2), t1 = csub(a0, a2), t2 = cadd(a1, a3), t3 = csub(a1, a3);
      store_elem(p, cadd(t0, t2));
      store_elem(p + qo, cmul_v(csub(t0, t2), tw.r2, tw.i2));
      store_elem(p + 2 * qo, cmul_v(Cplx<T>{vec::add(t1.re, t3.im), vec::sub(t1.im, t3.re)}, tw.r1, tw.i1));
      store_elem(p + 3 * qo, cmul_v(Cplx<T>{vec::sub(t1.re, t3.im), vec::add(t1.im, t3.re)}, tw.r3, tw.i3));
    }
  }
}

// The inverse of dif4_sweep.
template <class T>
void dit4_sweep(T* x, int64_t size, int64_t q, const T* w) {
  const int64_t qo = q * kElemValues;
  for (int64_t j = 0; j < q; ++j, w += 6) {
    const Twiddles3<T> tw(w);
    for (int64_t g = j * kElemValues; g < size * kElemValues; g += 4 * qo) {
      T* p = x + g;
      const Cplx<T> y0 = load_elem(p);
      const Cplx<T> y2 = cmul_conj_v(load_elem(p + qo), tw.r2, tw.i2);
      const Cplx<T> y1 = cmul_conj_v(load_elem(p + 2 * qo), tw.r1, tw.i1);
      const Cplx<T> y3 = cmul_conj_v(load_elem(p + 3 * qo), tw.r3, tw.i3);
      const Cplx<T> s0 = cadd(y0, y2), s1 = csub(y0, y2), s2 = cadd(y1, y3), s3 = csub(y1, y3);
      store_elem(p, cadd(s0, s2));
      store_elem(p + qo, Cplx<T>{vec::sub(s1.re, s3.im), vec::add(s1.im, s3.re)});
      store_elem(p + 2 * qo, csub(s0, s2));
      store_elem(p + 3 * qo, Cplx<T>{vec::add(s1.re, s3.im), vec::sub(s1.im, s3.re)});
    }
  }
}

template <class T>
void dif4_step(T* x, int64_t q, const T* w) {
  T* x1 = x + q * kElemValues;
  T* x2 = x1 + q * kElemValues;
  T* x3 = x2 + q * kElemValues;
  for (int64_t j = 0; j < q; ++j, w += 6) {
    const int64_t o = j * kElemValues;
    Cplx<T> a0 = load_elem(x + o), a1 = load_elem(x1 + o);
    Cplx<T> a2 = load_elem(x2 + o), a3 = load_elem(x3 + o);
    dif4_butterfly(a0, a1, a2, a3, w);
    store_elem(x + o, a0);
    store_elem(x1 + o, a1);
    store_elem(x2 + o, a2);
    store_elem(x3 + o, a3);
  }
}

// Only x[0 .. len) nonzero, len <= q: y_s = a0 for every s.
template <class T>
void dif4_step_one_input(T* x, int64_t q, int64_t len, const T* w) {
  T* x1 = x + q * kElemValues;
  T* x2 = x1 + q * kElemValues;
  T* x3 = x2 + q * kElemValues;
  for (int64_t j = 0; j < len; ++j, w += 6) {
    const int64_t o = j * kElemValues;
    const Cplx<T> a0 = load_elem(x + o);
    store_elem(x1 + o, cmul_tw(a0, w[2], w[3]));
    store_elem(x2 + o, cmul_tw(a0, w[0], w[1]));
    store_elem(x3 + o, cmul_tw(a0, w[4], w[5]));
  }
}

// Only x[0 .. len) nonzero, q < len <= 2q: inputs a2 = a3 = 0 (and a1 = 0 for j >= len - q).
template <class T>
void dif4_step_two_inputs(T* x, int64_t q, int64_t len, const T* w) {
  T* x1 = x + q * kElemValues;
  T* x2 = x1 + q * kElemValues;
  T* x3 = x2 + q * kElemValues;
  const int64_t both = len - q;
  for (int64_t j = 0; j < both; ++j, w += 6) {
    const int64_t o = j * kElemValues;
    const Cplx<T> a0 = load_elem(x + o), a1 = load_elem(x1 + o);
    const Cplx<T> y1 = {vec::add(a0.re, a1.im), vec::sub(a0.im, a1.re)};  // a0 - i a1
    const Cplx<T> y3 = {vec::sub(a0.re, a1.im), vec::add(a0.im, a1.re)};  // a0 + i a1
    store_elem(x + o, cadd(a0, a1));
    store_elem(x1 + o, cmul_tw(csub(a0, a1), w[2], w[3]));
    store_elem(x2 + o, cmul_tw(y1, w[0], w[1]));
    store_elem(x3 + o, cmul_tw(y3, w[4], w[5]));
  }
  for (int64_t j = both; j < q; ++j, w += 6) {
    const int64_t o = j * kElemValues;
    const Cplx<T> a0 = load_elem(x + o);
    store_elem(x1 + o, cmul_tw(a0, w[2], w[3]));
    store_elem(x2 + o, cmul_tw(a0, w[0], w[1]));
    store_elem(x3 + o, cmul_tw(a0, w[4], w[5]));
  }
}

// Size-4 DIF without twiddles (the last radix-4 step), bit-reversed output order (0, 2, 1, 3).
template <class T>
SERENGETI_FFT8_INLINE void dif4_no_twiddle(T* x) {
  const Cplx<T> a0 = load_elem(x), a1 = load_elem(x + 16), a2 = load_elem(x + 32),
                a3 = load_elem(x + 48);
  const Cplx<T> t0 = cadd(a0, a2), t1 = csub(a0, a2), t2 = cadd(a1, a3), t3 = csub(a1, a3);
  store_elem(x, cadd(t0, t2));
  store_elem(x + 16, csub(t0, t2));
  store_elem(x + 32, Cplx<T>{vec::add(t1.re, t3.im), vec::sub(t1.im, t3.re)});
  store_elem(x + 48, Cplx<T>{vec::sub(t1.re, t3.im), vec::add(t1.im, t3.re)});
}

// Size-2 butterfly (same in both directions).
template <class T>
SERENGETI_FFT8_INLINE void radix2_no_twiddle(T* x) {
  const Cplx<T> a0 = load_elem(x), a1 = load_elem(x + 16);
  store_elem(x, cadd(a0, a1));
  store_elem(x + 16, csub(a0, a1));
}

// ------------------------------------------------------------------------------------------------
// DIT steps: the mirror images. Inputs u_p at x[j + p q]; y_s = u_pos(s) * conj(w^(s j));
// a_r = sum_s y_s i^(r s) -> x[j + r q].

// One radix-4 DIT butterfly in registers: inputs in storage order, outputs a_r in natural order.
template <class T>
SERENGETI_FFT8_INLINE void dit4_butterfly(Cplx<T>& u0, Cplx<T>& u1, Cplx<T>& u2, Cplx<T>& u3, const T* w) {
  const Cplx<T> y2 = cmul_conj_tw(u1, w[2], w[3]);
  const Cplx<T> y1 = cmul_conj_tw(u2, w[0], w[1]);
  const Cplx<T> y3 = cmul_conj_tw(u3, w[4], w[5]);
  const Cplx<T> s0 = cadd(u0, y2), s1 = csub(u0, y2), s2 = cadd(y1, y3), s3 = csub(y1, y3);
  u0 = cadd(s0, s2);
  u1 = Cplx<T>{vec::sub(s1.re, s3.im), vec::add(s1.im, s3.re)};  // s1 + i s3
  u2 = csub(s0, s2);
  u3 = Cplx<T>{vec::add(s1.re, s3.im), vec::sub(s1.im, s3.re)};  // s1 - i s3
}

template <class T>
void dit4_step(T* x, int64_t q, const T* w) {
  T* x1 = x + q * kElemValues;
  T* x2 = x1 + q * kElemValues;
  T* x3 = x2 + q * kElemValues;
  for (int64_t j = 0; j < q; ++j, w += 6) {
    const int64_t o = j * kElemValues;
    Cplx<T> a0 = load_elem(x + o), a1 = load_elem(x1 + o);
    Cplx<T> a2 = load_elem(x2 + o), a3 = load_elem(x3 + o);
    dit4_butterfly(a0, a1, a2, a3, w);
    store_elem(x + o, a0);
    store_elem(x1 + o, a1);
    store_elem(x2 + o, a2);
    store_elem(x3 + o, a3);
  }
}

// Only outputs x[0 .. olen) needed, olen <= q: a0 = y0 + y1 + y2 + y3.
template <class T>
void dit4_step_one_output(T* x, int64_t q, int64_t olen, const T* w) {
  T* x1 = x + q * kElemValues;
  T* x2 = x1 + q * kElemValues;
  T* x3 = x2 + q * kElemValues;
  for (int64_t j = 0; j < olen; ++j, w += 6) {
    const int64_t o = j * kElemValues;
    const Cplx<T> y0 = load_elem(x + o);
    const Cplx<T> y2 = cmul_conj_tw(load_elem(x1 + o), w[2], w[3]);
    const Cplx<T> y1 = cmul_conj_tw(load_elem(x2 + o), w[0], w[1]);
    const Cplx<T> y3 = cmul_conj_tw(load_elem(x3 + o), w[4], w[5]);
    store_elem(x + o, cadd(cadd(y0, y2), cadd(y1, y3)));
  }
}

// Only outputs x[0 .. olen) needed, q < olen <= 2q: a0 for all j, a1 for j < olen - q.
template <class T>
void dit4_step_two_outputs(T* x, int64_t q, int64_t olen, const T* w) {
  T* x1 = x + q * kElemValues;
  T* x2 = x1 + q * kElemValues;
  T* x3 = x2 + q * kElemValues;
  const int64_t both = olen - q;
  for (int64_t j = 0; j < q; ++j, w += 6) {
    const int64_t o = j * kElemValues;
    const Cplx<T> y0 = load_elem(x + o);
    const Cplx<T> y2 = cmul_conj_tw(load_elem(x1 + o), w[2], w[3]);
    const Cplx<T> y1 = cmul_conj_tw(load_elem(x2 + o), w[0], w[1]);
    const Cplx<T> y3 = cmul_conj_tw(load_elem(x3 + o), w[4], w[5]);
    const Cplx<T> s0 = cadd(y0, y2), s1 = csub(y0, y2), s2 = cadd(y1, y3), s3 = csub(y1, y3);
    store_elem(x + o, cadd(s0, s2));
    if (j < both) store_elem(x1 + o, Cplx<T>{vec::sub(s1.re, s3.im), vec::add(s1.im, s3.re)});
  }
}

template <class T>
SERENGETI_FFT8_INLINE void dit4_no_twiddle(T* x) {
  const Cplx<T> y0 = load_elem(x), y2 = load_elem(x + 16), y1 = load_elem(x + 32),
                y3 = load_elem(x + 48);
  const Cplx<T> s0 = cadd(y0, y2), s1 = csub(y0, y2), s2 = cadd(y1, y3), s3 = csub(y1, y3);
  store_elem(x, cadd(s0, s2));
  store_elem(x + 16, Cplx<T>{vec::sub(s1.re, s3.im), vec::add(s1.im, s3.re)});
  store_elem(x + 32, csub(s0, s2));
  store_elem(x + 48, Cplx<T>{vec::add(s1.re, s3.im), vec::sub(s1.im, s3.re)});
}

// ------------------------------------------------------------------------------------------------
// Whole transforms of one contiguous block.

inline int log2_of(int64_t b) {
  int l = 0;
  while ((int64_t{1} << l) < b) ++l;
  return l;
}

template <class T>
inline const T* radix4_table(const Fft8PlanData<T>& p, int64_t b) {
  return p.radix4 + p.radix4_offset[log2_of(b)];
}

// Breadth-first DIF over a block small enough for L1 (radix-4 sweeps, then radix 2 if needed).
// (Radix-16 sweeps -- two levels per load/store -- were tried and were ~1.6x slower: 32 live
// vectors spill from AVX2's 16 registers, and at large strides the 16 lines of a group all map to
// one 8-way L1 set, so they are evicted between their load and their store.)
template <class T>
void dif_leaf(T* x, int64_t size, const Fft8PlanData<T>& p) {
  int64_t b = size;
  for (; b >= 4; b /= 4) {
    if (b == 4) {
      for (int64_t g = 0; g < size; g += 4) dif4_no_twiddle(x + g * kElemValues);
    } else if (vec::kHoistInvariants<T>) {
      dif4_sweep(x, size, b / 4, radix4_table(p, b));
    } else {
      for (int64_t g = 0; g < size; g += b) dif4_step(x + g * kElemValues, b / 4, radix4_table(p, b));
    }
  }
  if (b == 2)
    for (int64_t g = 0; g < size; g += 2) radix2_no_twiddle(x + g * kElemValues);
}

// The DIF leaf's sweeps in reverse order, each inverted.
template <class T>
void dit_leaf(T* x, int64_t size, const Fft8PlanData<T>& p) {
  int64_t b = (log2_of(size) & 1) ? 2 : 1;
  if (b == 2)
    for (int64_t g = 0; g < size; g += 2) radix2_no_twiddle(x + g * kElemValues);
  for (b *= 4; b <= size; b *= 4) {
    if (b == 4) {
      for (int64_t g = 0; g < size; g += 4) dit4_no_twiddle(x + g * kElemValues);
    } else if (vec::kHoistInvariants<T>) {
      dit4_sweep(x, size, b / 4, radix4_table(p, b));
    } else {
      for (int64_t g = 0; g < size; g += b) dit4_step(x + g * kElemValues, b / 4, radix4_table(p, b));
    }
  }
}

// Depth-first DIF of `size` elements whose inputs at index >= len (1 <= len <= size) are zero
// (and need not be initialised). Output in bit-reversed order.
template <class T>
void dif_block(T* x, int64_t size, int64_t len, const Fft8PlanData<T>& p) {
  if (size <= p.leaf_elems) {
    zero_elems(x + len * kElemValues, size - len);
    dif_leaf(x, size, p);
    return;
  }
  const int64_t q = size / 4;
  const T* w = radix4_table(p, size);
  int64_t sub_len = q;
  if (len <= q) {
    dif4_step_one_input(x, q, len, w);
    sub_len = len;
  } else if (len <= 2 * q) {
    dif4_step_two_inputs(x, q, len, w);
  } else {
    zero_elems(x + len * kElemValues, size - len);
    dif4_step(x, q, w);
  }
  for (int r = 0; r < 4; ++r) dif_block(x + r * q * kElemValues, q, sub_len, p);
}

// Depth-first DIT of `size` elements (bit-reversed input); only outputs < olen are computed.
template <class T>
void dit_block(T* x, int64_t size, int64_t olen, const Fft8PlanData<T>& p) {
  if (size <= p.leaf_elems) {
    dit_leaf(x, size, p);
    return;
  }
  const int64_t q = size / 4;
  const T* w = radix4_table(p, size);
  const int64_t sub_olen = olen <= q ? olen : q;
  for (int r = 0; r < 4; ++r) dit_block(x + r * q * kElemValues, q, sub_olen, p);
  if (olen <= q) {
    dit4_step_one_output(x, q, olen, w);
  } else if (olen <= 2 * q) {
    dit4_step_two_outputs(x, q, olen, w);
  } else {
    dit4_step(x, q, w);
  }
}

}  // namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA
