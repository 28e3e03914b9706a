// Passes over a packed spectrum: the real split after the forward complex FFT (and its inverse
// before the inverse FFT), the pointwise product, and the gradient scalings. Included after
// fft8_complex_kernels.h in each ISA translation unit.
//
// Real split. With z[j] = x[2j] + i x[2j+1] and Z = DFT_m(z), the even/odd-sample spectra are
//   E[k] = (Z[k] + conj Z[m-k]) / 2,   O[k] = (Z[k] - conj Z[m-k]) / (2i),
// and X[k] = E[k] + w^k O[k] with w = exp(-2 pi i / n); since E, O are Hermitian and
// w^(m-k) = -conj(w^k):  X[k] = S/2 + c D,  X[m-k] = conj(S/2 - c D)  with S = A + conj B,
// D = A - conj B, A = Z[k], B = Z[m-k], c = -(i/2) w^k. Inverting (and folding the 1/m of the
// inverse complex FFT in): Z[k] = (S/2 + conj(c) D) / m, Z[m-k] = conj(S/2 - conj(c) D) / m with
// S, D built from X[k], X[m-k] the same way. Bin 0 and m/2 pair with themselves.
//
// In bit-reversed storage, position 0 holds bin 0, position 1 bin m/2, and positions [2^s, 2^(s+1))
// hold the bins whose lowest set bit is bit log2(m)-1-s; p and 3*2^s - 1 - p there hold k and m-k.
// So the pairs are walked as two streams per octave, one up and one down.
#ifndef SERENGETI_FFT8_ISA
#error "include fft8_complex_kernels.h first"
#endif

namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA {

// The pair-twiddle table lists octave `lo` (positions [lo, 2 lo)) from index lo/2 - 1 on.
inline int64_t split_table_index(int64_t lo, int64_t i) { return lo / 2 - 1 + i; }

// X[k] = h S + c D and X[m-k] = conj(h S - c D) for the mirrored pairs (lo + i, 2 lo - 1 - i),
// i in [i0, i1), of octave lo. The forward uses (h, c) = (1/2, c_k); the inverse uses
// (1/(2m), conj(c_k)/m) via c_scale and c_im_sign.
template <class T>
void real_split_octave(T* x, int64_t lo, int64_t i0, int64_t i1, const T* table, T h, T c_scale,
                       T c_im_sign) {
  const VecOf<T> hv = vec::set1(h);
  const T* c = table + 2 * split_table_index(lo, i0);
  T* up = x + (lo + i0) * kElemValues;
  T* down = x + (2 * lo - 1 - i0) * kElemValues;
  for (int64_t i = i0; i < i1; ++i, c += 2, up += kElemValues, down -= kElemValues) {
    const VecOf<T> cr = vec::set1(c[0] * c_scale);
    const VecOf<T> ci = vec::set1(c[1] * c_scale * c_im_sign);
    const Cplx<T> a = load_elem(up), b = load_elem(down);
    const Cplx<T> s = {vec::mul(hv, vec::add(a.re, b.re)), vec::mul(hv, vec::sub(a.im, b.im))};
    const VecOf<T> dr = vec::sub(a.re, b.re), di = vec::add(a.im, b.im);
    const Cplx<T> cd = {vec::fmsub(cr, dr, vec::mul(ci, di)), vec::fmadd(cr, di, vec::mul(ci, dr))};
    store_elem(up, cadd(s, cd));
    store_elem(down, Cplx<T>{vec::sub(s.re, cd.re), vec::sub(cd.im, s.im)});
  }
}

// Which way the split runs: forward (after the complex FFT) or inverse (before it).
struct SplitDirection {
  bool inverse;
};

// Bins 0 and m/2 (positions 0 and 1), which pair with themselves.
template <class T>
void real_split_self_paired(T* x, const Fft8PlanData<T>& p, SplitDirection dir) {
  const Cplx<T> z0 = load_elem(x), z1 = load_elem(x + kElemValues);
  if (!dir.inverse) {
    // X[0] = Re Z0 + Im Z0, X[n/2] = Re Z0 - Im Z0 (packed as re, im); X[m/2] = conj Z[m/2].
    store_elem(x, Cplx<T>{vec::add(z0.re, z0.im), vec::sub(z0.re, z0.im)});
    store_elem(x + kElemValues, Cplx<T>{z1.re, vec::sub(vec::set1(T(0)), z1.im)});
  } else {
    // Z0 = ((X0 + Xn/2) + i (X0 - Xn/2)) / 2m; Z[m/2] = conj(X[m/2]) / m.
    const T inv_m = T(1) / static_cast<T>(p.m);
    const VecOf<T> h = vec::set1(T(0.5) * inv_m);
    store_elem(x, Cplx<T>{vec::mul(h, vec::add(z0.re, z0.im)), vec::mul(h, vec::sub(z0.re, z0.im))});
    store_elem(x + kElemValues,
               Cplx<T>{vec::mul(vec::set1(inv_m), z1.re), vec::mul(vec::set1(-inv_m), z1.im)});
  }
}

template <class T>
void real_split_range(T* x, const Fft8PlanData<T>& p, SplitDirection dir, int64_t lo, int64_t i0,
                      int64_t i1) {
  if (!dir.inverse) {
    real_split_octave(x, lo, i0, i1, p.real_split, T(0.5), T(1), T(1));
  } else {
    const T inv_m = T(1) / static_cast<T>(p.m);
    real_split_octave(x, lo, i0, i1, p.real_split, T(0.5) * inv_m, inv_m, T(-1));
  }
}

// The whole split for a spectrum of m elements (or for the first `limit` positions only).
template <class T>
void real_split_all(T* x, const Fft8PlanData<T>& p, SplitDirection dir, int64_t limit) {
  real_split_self_paired(x, p, dir);
  for (int64_t lo = 2; lo < limit; lo *= 2) real_split_range(x, p, dir, lo, 0, lo / 2);
}

// ------------------------------------------------------------------------------------------------
// Fused circular convolution pass: forward split -> multiply by the kernel spectrum K -> inverse
// split, pair by pair, so the spectrum is never written out (one pass instead of three). The pair
// (p, q) is the same in all three steps: X_p = S/2 + c D, X_q = conj(S/2 - c D); Y = X K (or
// X conj K); then Z'_p = (S'/2 + conj(c) D') / m, Z'_q = conj(S'/2 - conj(c) D') / m.

template <class T, bool kConj>
SERENGETI_FFT8_INLINE Cplx<T> cmul_elem(const Cplx<T>& x, const Cplx<T>& y) {
  if (kConj)
    return {vec::fmadd(x.re, y.re, vec::mul(x.im, y.im)), vec::fmsub(x.im, y.re, vec::mul(x.re, y.im))};
  return {vec::fmsub(x.re, y.re, vec::mul(x.im, y.im)), vec::fmadd(x.re, y.im, vec::mul(x.im, y.re))};
}

template <class T, bool kConj>
void convolve_split_octave(T* x, const T* kspec, T inv_m, int64_t lo, int64_t i0, int64_t i1,
                           const T* table) {
  const VecOf<T> half = vec::set1(T(0.5)), half_m = vec::set1(T(0.5) * inv_m);
  const T* c = table + 2 * split_table_index(lo, i0);
  const int64_t p0 = lo + i0, q0 = 2 * lo - 1 - i0;
  for (int64_t i = 0; i < i1 - i0; ++i, c += 2) {
    T* up = x + (p0 + i) * kElemValues;
    T* down = x + (q0 - i) * kElemValues;
    const VecOf<T> cr = vec::set1(c[0]), ci = vec::set1(c[1]);
    // Forward split.
    const Cplx<T> a = load_elem(up), b = load_elem(down);
    const Cplx<T> s = {vec::mul(half, vec::add(a.re, b.re)), vec::mul(half, vec::sub(a.im, b.im))};
    const VecOf<T> dr = vec::sub(a.re, b.re), di = vec::add(a.im, b.im);
    const Cplx<T> cd = {vec::fmsub(cr, dr, vec::mul(ci, di)), vec::fmadd(cr, di, vec::mul(ci, dr))};
    const Cplx<T> xp = cadd(s, cd);
    const Cplx<T> xq = {vec::sub(s.re, cd.re), vec::sub(cd.im, s.im)};
    // Pointwise product with the kernel spectrum (same packed positions).
    const Cplx<T> yp = cmul_elem<T, kConj>(xp, load_elem(kspec + (p0 + i) * kElemValues));
    const Cplx<T> yq = cmul_elem<T, kConj>(xq, load_elem(kspec + (q0 - i) * kElemValues));
    // Inverse split with conj(c) / m.
    const Cplx<T> s2 = {vec::mul(half_m, vec::add(yp.re, yq.re)), vec::mul(half_m, vec::sub(yp.im, yq.im))};
    const VecOf<T> er = vec::mul(vec::sub(yp.re, yq.re), vec::set1(inv_m));
    const VecOf<T> ei = vec::mul(vec::add(yp.im, yq.im), vec::set1(inv_m));
    // conj(c) * E = (cr er + ci ei, cr ei - ci er)
    const Cplx<T> ce = {vec::fmadd(cr, er, vec::mul(ci, ei)), vec::fmsub(cr, ei, vec::mul(ci, er))};
    store_elem(up, cadd(s2, ce));
    store_elem(down, Cplx<T>{vec::sub(s2.re, ce.re), vec::sub(ce.im, s2.im)});
  }
}

// Positions 0 (DC, Nyquist: real bins, real products) and 1 (bin m/2).
template <class T, bool kConj>
void convolve_self_paired(T* x, const T* kspec, T inv_m) {
  const Cplx<T> z0 = load_elem(x), k0 = load_elem(kspec);
  const VecOf<T> dc = vec::mul(vec::add(z0.re, z0.im), k0.re);
  const VecOf<T> ny = vec::mul(vec::sub(z0.re, z0.im), k0.im);
  const VecOf<T> h = vec::set1(T(0.5) * inv_m);
  store_elem(x, Cplx<T>{vec::mul(h, vec::add(dc, ny)), vec::mul(h, vec::sub(dc, ny))});
  const Cplx<T> z1 = load_elem(x + kElemValues);
  const Cplx<T> y1 = cmul_elem<T, kConj>(Cplx<T>{z1.re, vec::sub(vec::set1(T(0)), z1.im)},
                                         load_elem(kspec + kElemValues));
  store_elem(x + kElemValues,
             Cplx<T>{vec::mul(vec::set1(inv_m), y1.re), vec::mul(vec::set1(-inv_m), y1.im)});
}

// The fused pass over positions [0, limit) (limit = m for the whole spectrum).
template <class T, bool kConj>
void convolve_split_all(T* x, const T* kspec, const Fft8PlanData<T>& p, int64_t limit) {
  const T inv_m = T(1) / static_cast<T>(p.m);
  convolve_self_paired<T, kConj>(x, kspec, inv_m);
  for (int64_t lo = 2; lo < limit; lo *= 2)
    convolve_split_octave<T, kConj>(x, kspec, inv_m, lo, 0, lo / 2, p.real_split);
}

// dst (=|+=) a * b or a * conj(b). Element 0 holds two real bins: plain lane-wise products.
template <class T, bool kConj, bool kAccumulate>
void multiply_spectra(T* dst, const T* a, const T* b, int64_t m) {
  {
    Cplx<T> r = {vec::mul(vec::load(a), vec::load(b)), vec::mul(vec::load(a + 8), vec::load(b + 8))};
    if (kAccumulate) r = cadd(r, load_elem(dst));
    store_elem(dst, r);
  }
  for (int64_t e = 1; e < m; ++e) {
    const int64_t o = e * kElemValues;
    const Cplx<T> x = load_elem(a + o), y = load_elem(b + o);
    Cplx<T> r;
    if (kConj) {  // (xr + i xi)(yr - i yi)
      r = {vec::fmadd(x.re, y.re, vec::mul(x.im, y.im)), vec::fmsub(x.im, y.re, vec::mul(x.re, y.im))};
    } else {
      r = {vec::fmsub(x.re, y.re, vec::mul(x.im, y.im)), vec::fmadd(x.re, y.im, vec::mul(x.im, y.re))};
    }
    if (kAccumulate) r = cadd(r, load_elem(dst + o));
    store_elem(dst + o, r);
  }
}

template <class T>
void multiply_dispatch(T* dst, const T* a, const T* b, int64_t m, bool conj_b, bool accumulate) {
  if (conj_b) {
    if (accumulate) multiply_spectra<T, true, true>(dst, a, b, m);
    else multiply_spectra<T, true, false>(dst, a, b, m);
  } else {
    if (accumulate) multiply_spectra<T, false, true>(dst, a, b, m);
    else multiply_spectra<T, false, false>(dst, a, b, m);
  }
}

// Element 0 (DC, Nyquist) times edge, all others times interior.
template <class T>
void scale_spectrum(T* x, int64_t m, T edge, T interior) {
  const VecOf<T> e = vec::set1(edge), s = vec::set1(interior);
  store_elem(x, Cplx<T>{vec::mul(e, vec::load(x)), vec::mul(e, vec::load(x + 8))});
  for (int64_t i = 1; i < m; ++i) {
    T* q = x + i * kElemValues;
    store_elem(q, Cplx<T>{vec::mul(s, vec::load(q)), vec::mul(s, vec::load(q + 8))});
  }
}

}  // namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA
