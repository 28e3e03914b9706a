// Real-input folding: a real sequence w of length N = 2M is transformed as the complex sequence
// z[n] = w[2n] + i w[2n+1] of length M, and its real spectrum W[k] (k = 0..M) is recovered from
// Z = DFT_M(z) bin by bin, pairing bin k with bin M - k:
//
//   E = (Z[k] + conj Z[M-k]) / 2,  O = -i (Z[k] - conj Z[M-k]) / 2,  t = exp(-2 pi i k / N)
//   W[k] = E + t O,   W[M-k] = conj(E - t O)                                          (fold)
//
// (E and O are the spectra of the even and odd samples.) The way back, from a Hermitian spectrum
// Y[0..M] to the packed zy[n] = y[2n] + i y[2n+1] of y = irfft_N(Y), is zy = IDFT_M(Zy) with
//
//   E = (Y[k] + conj Y[M-k]) / 2,  O = (Y[k] - conj Y[M-k]) / 2
//   Zy[k] = E + i conj(t) O,   Zy[M-k] = conj(E - i conj(t) O)                        (unfold)
//
// For k = 0 the partner is bin M (Nyquist): both W[0] and W[M] are real and share one complex
// slot, stored as (W[0], W[M]); the same formulas with t = 1 produce and consume that packing.
// A bin paired with itself (k = M/2) takes the same formulas with both inputs equal.
//
// The filter spectrum k_f uses the same packing: position p of channel h holds K[bin(p)] as a
// float2, position 0 holds (K[0], K[M]).
#pragma once

#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"
#include "cuda/fftconv/plan.cuh"
#include "cuda/fftconv/shared_layout.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// a = Z[k] -> W[k], b = Z[M-k] -> W[M-k]  (t = exp(-2 pi i k / N))
__device__ __forceinline__ void fold_pair(float2& a, float2& b, float2 t) {
  const float2 bc = cconj(b);
  const float2 e = cscale(cadd(a, bc), 0.5f);
  const float2 d = cscale(csub(a, bc), 0.5f);
  const float2 o = make_float2(d.y, -d.x);  // -i d
  const float2 to = cmul(t, o);
  a = cadd(e, to);
  b = cconj(csub(e, to));
}

// a = Y[k] -> Zy[k], b = Y[M-k] -> Zy[M-k]
__device__ __forceinline__ void unfold_pair(float2& a, float2& b, float2 t) {
  const float2 bc = cconj(b);
  const float2 e = cscale(cadd(a, bc), 0.5f);
  const float2 o = cscale(csub(a, bc), 0.5f);
  const float2 tco = cmul_conj(o, t);                   // conj(t) o
  const float2 itco = make_float2(-tco.y, tco.x);       // i conj(t) o
  a = cadd(e, itco);
  b = cconj(csub(e, itco));
}

// The packed spectra at position 0 multiply component by component: (W0 K0, WM KM).
__device__ __forceinline__ float2 spectrum_product(float2 w, float2 k, bool dc_nyquist, bool conj_k) {
  if (dc_nyquist) return make_float2(w.x * k.x, w.y * k.y);
  return conj_k ? cmul_conj(w, k) : cmul(w, k);
}

// One pair of bins k and M - k of a block: their indices in the block's shared planes (local) and
// their positions in the sequence's M-point spectrum (global: the k_f position). p == q for a bin
// paired with itself; dc_nyquist marks k = 0, whose partner is the Nyquist bin M (both real,
// packed into one complex slot at position 0).
struct SpectrumPair {
  int local_p, local_q;
  int64_t global_p, global_q;
  bool dc_nyquist;
  float2 t;  // exp(-2 pi i k / N), N = 2M
};

// After the fold: (x, y) = (W[k], W[M-k]); at DC/Nyquist x = (W[0], 0), y = (W[M], 0).
// Returns what the spectrum stores at global_p (and, when p != q, at global_q).
__device__ __forceinline__ float2 packed_at_p(float2 x, float2 y, bool dc_nyquist) {
  return dc_nyquist ? make_float2(x.x, y.x) : x;
}

// (x, y) = folded (W[k], W[M-k]) -> unfold(W K) (conj K with conj_k) in place. kp, kq: the
// spectrum at global_p and global_q (at DC/Nyquist both are the packed (K[0], K[M])).
__device__ __forceinline__ void multiply_unfold(float2& x, float2& y, float2 kp, float2 kq,
                                                const SpectrumPair& pair, bool conj_k) {
  if (pair.dc_nyquist) {
    x = make_float2(x.x * kp.x, 0.0f);
    y = make_float2(y.x * kp.y, 0.0f);
  } else {
    x = conj_k ? cmul_conj(x, kp) : cmul(x, kp);
    y = conj_k ? cmul_conj(y, kq) : cmul(y, kq);
  }
  unfold_pair(x, y, pair.t);
}

// The adjoint of "fold and store" for one pair (fft_filter backward): the Hermitian half-spectrum
// Y' with Y'[k] = dK[k] / 2 inside, Y'[0] = dK[0] and Y'[M] = dK[M] (packed at position 0), read
// from the gradient dk_f of the stored spectrum, as the (x, y) that unfold_pair takes. See filter.cu.
__device__ __forceinline__ void spectrum_gradient_pair(const float2* dk_f, const SpectrumPair& pair,
                                                       float2* x, float2* y) {
  if (pair.dc_nyquist) {
    const float2 g0 = dk_f[0];
    *x = make_float2(g0.x, 0.0f);
    *y = make_float2(g0.y, 0.0f);
  } else {
    *x = cscale(dk_f[pair.global_p], 0.5f);
    *y = cscale(dk_f[pair.global_q], 0.5f);
  }
}

// The pair's two bins read from the block's shared planes and folded: (x, y) = (W[k], W[M-k]).
__device__ __forceinline__ void load_folded_pair(const BlockShared& sm, const SpectrumPair& sp, float2& x,
                                                 float2& y) {
  x = make_float2(sm.re[sp.local_p], sm.im[sp.local_p]);
  y = make_float2(sm.re[sp.local_q], sm.im[sp.local_q]);
  fold_pair(x, y, sp.t);
}

// (x, y) written back to the pair's places in the shared planes (once for a bin paired with itself).
__device__ __forceinline__ void store_pair(const BlockShared& sm, const SpectrumPair& sp, float2 x, float2 y) {
  sm.re[sp.local_p] = x.x;
  sm.im[sp.local_p] = x.y;
  if (sp.local_q != sp.local_p) {
    sm.re[sp.local_q] = y.x;
    sm.im[sp.local_q] = y.y;
  }
}

// The folded pair (x, y) stored into a spectrum row of the k_f layout.
__device__ __forceinline__ void store_spectrum_pair(float2* row, const SpectrumPair& sp, float2 x, float2 y) {
  row[sp.global_p] = packed_at_p(x, y, sp.dc_nyquist);
  if (sp.global_q != sp.global_p) row[sp.global_q] = y;
}

// The forward's spectral step for one pair, in place in the shared planes: W = fold(Z); Y = W K;
// Zy = unfold(Y). k: the channel's spectrum row.
__device__ __forceinline__ void convolve_pair(const BlockShared& sm, const SpectrumPair& sp, const float2* k) {
  float2 x, y;
  load_folded_pair(sm, sp, x, y);
  multiply_unfold(x, y, k[sp.global_p], k[sp.global_q], sp, false);
  store_pair(sm, sp, x, y);
}

// fft_filter backward for one pair: the unfolded Y' from the spectrum gradient row dk_f, into the
// shared planes.
__device__ __forceinline__ void unfold_gradient_pair(const BlockShared& sm, const SpectrumPair& sp,
                                                     const float2* dk_f) {
  float2 x, y;
  spectrum_gradient_pair(dk_f, sp, &x, &y);
  unfold_pair(x, y, sp.t);
  store_pair(sm, sp, x, y);
}

// Pair i = 0..S/2 of a slot holding a whole sequence of S = M points (the fused kernels).
__device__ __forceinline__ SpectrumPair whole_sequence_pair(const Plan& plan, int slot, int i) {
  const int size = 1 << plan.log2_size;
  SpectrumPair pair;
  const int p = position_of_bin(plan, i), q = position_of_bin(plan, (size - i) & (size - 1));
  pair.local_p = (slot << plan.log2_size) + p;
  pair.local_q = (slot << plan.log2_size) + q;
  pair.global_p = p;
  pair.global_q = q;
  pair.dc_nyquist = i == 0;
  pair.t = unit_root(float(i) / float(size));  // exp(-i pi k / M) = exp(-2 pi i k / N)
  return pair;
}

// Long transforms: after the outer passes, a sequence of M points is R = M / S rows of S points
// (plan.cuh). Row `row` holds bins low(row) + R k2 with the inner bin k2 at inner position
// position_of_bin(inner, k2). Bin k's partner M - k lives in the row with low bin R - low (mod R),
// so the rows of a sequence form R/2 units of two slots:
//   unit 0:      rows of low bins 0 and R/2, each paired with itself (k2 <-> -k2 mod S, and
//                k2 <-> S - 1 - k2);
//   unit u > 0:  rows of low bins u and R - u, inner bin k2 of the first pairing with S - 1 - k2
//                of the second.
struct RowSplit {
  Plan full, inner;
  int log2_rows;  // R = 2^log2_rows = M / S
  __device__ __forceinline__ int row_of_low_bin(int low) const {
    return position_of_bin(full, low) >> inner.log2_size;
  }
  // The two rows of unit u (first: low bin 0 or u; second: R/2 or R - u).
  __device__ __forceinline__ int first_row(int unit) const { return row_of_low_bin(unit); }
  __device__ __forceinline__ int second_row(int unit) const {
    const int rows = 1 << log2_rows;
    return row_of_low_bin(unit == 0 ? rows / 2 : rows - unit);
  }
  // Pairs per unit: S + 1 for unit 0 (S/2 + 1 and S/2), S otherwise (item S is then unused).
  __device__ __forceinline__ int items_per_unit() const { return (1 << inner.log2_size) + 1; }
};

__host__ __device__ inline RowSplit make_row_split(int log2_m, int log2_row) {
  RowSplit s;
  s.full = make_plan(log2_m);
  s.inner = make_plan(log2_row);
  s.log2_rows = log2_m - log2_row;
  return s;
}

// Item i of unit u whose rows sit in block slots slot_a (first row) and slot_b (second row).
// Returns false for the unused last item of a unit u > 0.
__device__ __forceinline__ bool unit_pair(const RowSplit& split, int unit, int item, int slot_a,
                                          int slot_b, SpectrumPair* pair) {
  const int log2_row = split.inner.log2_size;
  const int size = 1 << log2_row, rows = 1 << split.log2_rows;
  const int log2_m = split.full.log2_size;
  int slot_p, slot_q, row_p, row_q, k2p, k2q, low;
  if (unit == 0) {
    if (item <= size / 2) {  // the low-bin-0 row, k2 <-> -k2
      slot_p = slot_q = slot_a;
      row_p = row_q = split.first_row(0);
      k2p = item;
      k2q = (size - item) & (size - 1);
      low = 0;
    } else {  // the low-bin-R/2 row, k2 <-> S - 1 - k2
      slot_p = slot_q = slot_b;
      row_p = row_q = split.second_row(0);
      k2p = item - (size / 2 + 1);
      k2q = size - 1 - k2p;
      low = rows / 2;
    }
  } else {
    if (item >= size) return false;
    slot_p = slot_a;
    slot_q = slot_b;
    row_p = split.first_row(unit);
    row_q = split.second_row(unit);
    k2p = item;
    k2q = size - 1 - item;
    low = unit;
  }
  const int qp = position_of_bin(split.inner, k2p), qq = position_of_bin(split.inner, k2q);
  pair->local_p = (slot_p << log2_row) + qp;
  pair->local_q = (slot_q << log2_row) + qq;
  pair->global_p = (int64_t(row_p) << log2_row) + qp;
  pair->global_q = (int64_t(row_q) << log2_row) + qq;
  pair->dc_nyquist = unit == 0 && item == 0;
  const int64_t k = low + (int64_t(k2p) << split.log2_rows);  // the global bin at p
  pair->t = unit_root(float(k) / float(int64_t(1) << log2_m));
  return true;
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
