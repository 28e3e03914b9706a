// One radix-16 DIF stage of a tile of 16 x 16 complex values as tensor-core matrix products
// (nvcuda::wmma m16n16k16, fp16 operands, float32 accumulation).
//
// Precision: each float32 operand x is split as x = hi + lo with hi = fp16(x), lo = fp16(x - hi),
// and every real product A B is computed as  A_lo B_hi + A_hi B_lo + A_hi B_hi  (A_lo B_lo, below
// 2^-22 |A||B|, is dropped; the small terms are accumulated first). The represented operands are
// within 2^-22 of the float32 values, so a stage is about as accurate as a float32 radix-16
// butterfly network (measured: see README.md), at 3x the tensor-core work of plain fp16 operands,
// whose 2^-11 rounding would cost ~6e-4 relative error per transform pair and fail the float32
// and float16 tolerances of the tests.
//
// Range: fp16 overflows at 65504 and loses relative precision below 2^-14. Before the split, each
// independent 16-point DFT of the tile (a column in the strided form, a row in the contiguous
// form) is scaled by a power of two that brings its largest |re|, |im| into [2^14, 2^15); the
// result is scaled back exactly. So any float32 input range works and no DFT loses precision
// because a neighbour is larger.
//
// Complex products from real ones (F = Fr + i Fi the DFT matrix, X = Xr + i Xi the data):
//   forward  F X:        re = Fr Xr + (-Fi) Xi,  im = Fr Xi + Fi Xr
//   inverse  conj(F) X:  re = Fr Xr + Fi Xi,     im = Fr Xi + (-Fi) Xr
// so the block keeps Fr, Fi and -Fi (hi and lo parts) in shared memory.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// F[j][k] = W_16^(jk), row-major 16 x 16, split into hi/lo fp16 parts.
struct Dft16Matrices {
  __half re_hi[256], re_lo[256];
  __half im_hi[256], im_lo[256];
  __half neg_im_hi[256], neg_im_lo[256];
};

// A warp's fp16 copy of one data tile (row-major 16 x 16, ldm 16).
struct WarpStaging {
  __half re_hi[256], re_lo[256];
  __half im_hi[256], im_lo[256];
};

__device__ __forceinline__ void split_half(float v, __half* hi, __half* lo) {
  const __half h = __float2half_rn(v);
  *hi = h;
  *lo = __float2half_rn(v - __half2float(h));
}

// All threads of the block; a barrier must follow before the matrices are used.
__device__ __forceinline__ void fill_dft16_matrices(Dft16Matrices* m) {
  for (int e = threadIdx.x; e < 256; e += blockDim.x) {
    const int j = e >> 4, k = e & 15;
    const float2 w = unit_root(float((j * k) & 15) / 8.0f);  // exp(-2 pi i jk / 16)
    split_half(w.x, &m->re_hi[e], &m->re_lo[e]);
    split_half(w.y, &m->im_hi[e], &m->im_lo[e]);
    split_half(-w.y, &m->neg_im_hi[e], &m->neg_im_lo[e]);
  }
}

// Powers of two that bring a DFT's largest magnitude m into [2^14, 2^15) and back. The shift is
// clamped to +-100 so both factors stay normal floats (an all-zero DFT keeps factor 1).
struct Pow2Scale {
  float scale, unscale;
};
__device__ __forceinline__ Pow2Scale pow2_scale_for(float max_magnitude) {
  int shift = 0;
  if (max_magnitude > 0.0f) {
    const int exponent = ((__float_as_int(max_magnitude) >> 23) & 0xff) - 127;  // floor(log2 m)
    shift = 14 - exponent;
    shift = shift > 100 ? 100 : (shift < -100 ? -100 : shift);
  }
  return {__int_as_float((127 + shift) << 23), __int_as_float((127 - shift) << 23)};
}

namespace wmma = nvcuda::wmma;

// The six fp16 pieces of the DFT matrix as wmma fragments of role Use (matrix_a when the matrix
// multiplies from the left, matrix_b from the right), arranged for the forward or inverse DFT.
template <class Use>
struct DftFragments {
  using Fragment = wmma::fragment<Use, 16, 16, 16, __half, wmma::row_major>;
  Fragment re_hi, re_lo;        // Fr
  Fragment for_re_hi, for_re_lo;  // multiplies Xi in the real part: -Fi (forward) or Fi (inverse)
  Fragment for_im_hi, for_im_lo;  // multiplies Xr in the imaginary part: Fi (forward) or -Fi

  __device__ __forceinline__ void load(const Dft16Matrices& m, bool inverse) {
    wmma::load_matrix_sync(re_hi, m.re_hi, 16);
    wmma::load_matrix_sync(re_lo, m.re_lo, 16);
    wmma::load_matrix_sync(for_re_hi, inverse ? m.im_hi : m.neg_im_hi, 16);
    wmma::load_matrix_sync(for_re_lo, inverse ? m.im_lo : m.neg_im_lo, 16);
    wmma::load_matrix_sync(for_im_hi, inverse ? m.neg_im_hi : m.im_hi, 16);
    wmma::load_matrix_sync(for_im_lo, inverse ? m.neg_im_lo : m.im_lo, 16);
  }
};

using Accumulator = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// acc += P Q with P, Q given as hi/lo pieces; small terms first.
template <class FragA, class FragB>
__device__ __forceinline__ void split_mma_small(Accumulator& acc, const FragA& a_hi, const FragA& a_lo,
                                               const FragB& b_hi, const FragB& b_lo) {
  wmma::mma_sync(acc, a_lo, b_hi, acc);
  wmma::mma_sync(acc, a_hi, b_lo, acc);
}

// Both tile forms: the largest magnitude of the lane's DFT (m: the lane's 8 values; lane l ^ 16 holds
// the other 8) sets its power-of-two scale, the lane's scaled values go split into hi/lo halves to
// staging elements e0 + step c, and the staged tile is loaded as the fragments of use Use.
template <class Use>
__device__ __forceinline__ Pow2Scale stage_tile(const float (&xr)[8], const float (&xi)[8], float m, WarpStaging& st,
                                                int e0, int step, typename DftFragments<Use>::Fragment& xr_hi,
                                                typename DftFragments<Use>::Fragment& xr_lo,
                                                typename DftFragments<Use>::Fragment& xi_hi,
                                                typename DftFragments<Use>::Fragment& xi_lo) {
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 16));
  const Pow2Scale s = pow2_scale_for(m);
#pragma unroll
  for (int c = 0; c < 8; ++c) {
    const int e = e0 + c * step;
    split_half(xr[c] * s.scale, &st.re_hi[e], &st.re_lo[e]);
    split_half(xi[c] * s.scale, &st.im_hi[e], &st.im_lo[e]);
  }
  __syncwarp();
  wmma::load_matrix_sync(xr_hi, st.re_hi, 16);
  wmma::load_matrix_sync(xr_lo, st.re_lo, 16);
  wmma::load_matrix_sync(xi_hi, st.im_hi, 16);
  wmma::load_matrix_sync(xi_lo, st.im_lo, 16);
  return s;
}

// Strided form (stage stride s >= 16): the tile's 16 rows are the 16 points of 16 independent
// DFTs (one per column): element (j, c) at data[base + j * stride + c]. D = F X, in place.
// kInverse: conj(F) X, with the conjugate twiddle W_{16s}^-(i j) applied to the input first;
// forward: the twiddle W_{16s}^(i k) applied to the output (row k). `inner0` is the inner index
// i of column 0; twiddle exponents are in units of the table's W_S: t = (i j) << tw_shift.
template <bool kInverse>
__device__ __forceinline__ void dft16_tile_strided(float* re, float* im, int base, int stride,
                                                   int inner0, int tw_shift, const float2* table,
                                                   int log2_table, const DftFragments<wmma::matrix_a>& f,
                                                   WarpStaging& st, int lane) {
  const int col = lane & 15, row0 = (lane >> 4) * 8;
  const int inner = inner0 + col;
  float xr[8], xi[8];
  float m = 0.0f;
#pragma unroll
  for (int r = 0; r < 8; ++r) {
    const int idx = base + (row0 + r) * stride + col;
    float2 v = make_float2(re[idx], im[idx]);
    if (kInverse) v = cmul_conj(v, twiddle(table, log2_table, (inner * (row0 + r)) << tw_shift));
    xr[r] = v.x;
    xi[r] = v.y;
    m = fmaxf(m, fmaxf(fabsf(v.x), fabsf(v.y)));
  }
  using FragB = DftFragments<wmma::matrix_b>::Fragment;
  FragB xr_hi, xr_lo, xi_hi, xi_lo;
  const Pow2Scale s = stage_tile<wmma::matrix_b>(xr, xi, m, st, row0 * 16 + col, 16, xr_hi, xr_lo, xi_hi, xi_lo);
  Accumulator acc_re, acc_im;
  wmma::fill_fragment(acc_re, 0.0f);
  wmma::fill_fragment(acc_im, 0.0f);
  split_mma_small(acc_re, f.re_hi, f.re_lo, xr_hi, xr_lo);
  split_mma_small(acc_re, f.for_re_hi, f.for_re_lo, xi_hi, xi_lo);
  wmma::mma_sync(acc_re, f.re_hi, xr_hi, acc_re);
  wmma::mma_sync(acc_re, f.for_re_hi, xi_hi, acc_re);
  split_mma_small(acc_im, f.re_hi, f.re_lo, xi_hi, xi_lo);
  split_mma_small(acc_im, f.for_im_hi, f.for_im_lo, xr_hi, xr_lo);
  wmma::mma_sync(acc_im, f.re_hi, xi_hi, acc_im);
  wmma::mma_sync(acc_im, f.for_im_hi, xr_hi, acc_im);
  wmma::store_matrix_sync(re + base, acc_re, stride, wmma::mem_row_major);
  wmma::store_matrix_sync(im + base, acc_im, stride, wmma::mem_row_major);
  __syncwarp();
#pragma unroll
  for (int r = 0; r < 8; ++r) {
    const int idx = base + (row0 + r) * stride + col;
    float2 v = make_float2(re[idx] * s.unscale, im[idx] * s.unscale);
    if (!kInverse) v = cmul(v, twiddle(table, log2_table, (inner * (row0 + r)) << tw_shift));
    re[idx] = v.x;
    im[idx] = v.y;
  }
  __syncwarp();
}

// Contiguous form (stage stride 1, the last radix-16 stage): the tile's 16 rows are 16 DFTs of 16
// contiguous points: element (r, j) at data[base + 16 r + j]. D = X F (F is symmetric; the
// fragments f say forward or inverse), in place; no twiddles (the inner index is always 0).
__device__ __forceinline__ void dft16_tile_contiguous(float* re, float* im, int base,
                                                      const DftFragments<wmma::matrix_b>& f,
                                                      WarpStaging& st, int lane) {
  const int row = lane & 15, col0 = (lane >> 4) * 8;
  float xr[8], xi[8];
  float m = 0.0f;
#pragma unroll
  for (int c = 0; c < 8; ++c) {
    const int idx = base + row * 16 + col0 + c;
    xr[c] = re[idx];
    xi[c] = im[idx];
    m = fmaxf(m, fmaxf(fabsf(xr[c]), fabsf(xi[c])));
  }
  using FragA = DftFragments<wmma::matrix_a>::Fragment;
  FragA xr_hi, xr_lo, xi_hi, xi_lo;
  const Pow2Scale s = stage_tile<wmma::matrix_a>(xr, xi, m, st, row * 16 + col0, 1, xr_hi, xr_lo, xi_hi, xi_lo);
  Accumulator acc_re, acc_im;
  wmma::fill_fragment(acc_re, 0.0f);
  wmma::fill_fragment(acc_im, 0.0f);
  // X F: the data fragment is on the left.
  split_mma_small(acc_re, xr_hi, xr_lo, f.re_hi, f.re_lo);
  split_mma_small(acc_re, xi_hi, xi_lo, f.for_re_hi, f.for_re_lo);
  wmma::mma_sync(acc_re, xr_hi, f.re_hi, acc_re);
  wmma::mma_sync(acc_re, xi_hi, f.for_re_hi, acc_re);
  split_mma_small(acc_im, xi_hi, xi_lo, f.re_hi, f.re_lo);
  split_mma_small(acc_im, xr_hi, xr_lo, f.for_im_hi, f.for_im_lo);
  wmma::mma_sync(acc_im, xi_hi, f.re_hi, acc_im);
  wmma::mma_sync(acc_im, xr_hi, f.for_im_hi, acc_im);
  wmma::store_matrix_sync(re + base, acc_re, 16, wmma::mem_row_major);
  wmma::store_matrix_sync(im + base, acc_im, 16, wmma::mem_row_major);
  __syncwarp();
#pragma unroll
  for (int c = 0; c < 8; ++c) {
    const int idx = base + row * 16 + col0 + c;
    re[idx] *= s.unscale;
    im[idx] *= s.unscale;
  }
  __syncwarp();
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
