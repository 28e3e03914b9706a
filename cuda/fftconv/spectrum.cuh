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

// One pair of bins of a slot that holds a whole sequence (a fused block): bins k and S - k at
// positions p and q (p == q for k = 0, where the pair is DC/Nyquist, and for k = S/2).
struct BinPair {
  int p, q;
  bool dc_nyquist;
  float2 t;  // exp(-2 pi i k / N), N = 2S
};

// Pair i = 0..S/2 of a whole-sequence slot of S = 2^log2_row points.
__device__ __forceinline__ BinPair whole_sequence_pair(const Plan& plan, int i) {
  const int size = 1 << plan.log2_size;
  BinPair pair;
  pair.p = position_of_bin(plan, i);
  pair.q = position_of_bin(plan, (size - i) & (size - 1));
  pair.dc_nyquist = i == 0;
  pair.t = unit_root(float(i) / float(size));  // exp(-i pi k / M) = exp(-2 pi i k / N)
  return pair;
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
