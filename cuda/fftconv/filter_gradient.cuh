// The filter-gradient partial sums, one pair of bins at a time: S[p] (+)= G[p] conj(W[p]) at the
// pair's positions of a [positions] row owned by one block (no other block touches it: no atomics,
// a fixed order over the batch rows of the chunk, so dk and dk_f are bitwise reproducible). At
// DC/Nyquist both spectra are real and packed, (G0 W0, GM WM).
#pragma once

#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/spectrum.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// (wx, wy) and (gx, gy): the folded spectra of w and g at the pair (fold_pair outputs).
__device__ __forceinline__ void accumulate_filter_pair(float2* row, const SpectrumPair& sp, float2 wx,
                                                       float2 wy, float2 gx, float2 gy, bool first) {
  const float2 at_p = sp.dc_nyquist ? make_float2(gx.x * wx.x, gy.x * wy.x) : cmul_conj(gx, wx);
  row[sp.global_p] = first ? at_p : cadd(row[sp.global_p], at_p);
  if (sp.global_q != sp.global_p) {
    const float2 at_q = cmul_conj(gy, wy);
    row[sp.global_q] = first ? at_q : cadd(row[sp.global_q], at_q);
  }
}

// The backward's spectral step for one pair, in place: W (the pair sa, slots from 0) and G (the
// same pair b_offset further on, buffer B) are folded as transformed; the filter-gradient partials
// accumulate into row (null: not wanted); then unfold(W K) -> z and unfold(G conj K) -> dw as
// wanted. k: the channel's spectrum row (read only for z or dw).
__device__ __forceinline__ void backward_pair(const BackwardArgs& a, const BlockShared& sm, const SpectrumPair& sa,
                                              int b_offset, float2* row, const float2* k, bool first) {
  SpectrumPair sb = sa;
  sb.local_p += b_offset;
  sb.local_q += b_offset;
  float2 wx = make_float2(0.0f, 0.0f), wy = wx, gx = wx, gy = wx;
  if (a.transform_w()) load_folded_pair(sm, sa, wx, wy);
  if (a.transform_g()) load_folded_pair(sm, sb, gx, gy);
  if (row != nullptr) accumulate_filter_pair(row, sa, wx, wy, gx, gy, first);
  if (a.want_z()) {
    multiply_unfold(wx, wy, k[sa.global_p], k[sa.global_q], sa, false);
    store_pair(sm, sa, wx, wy);
  }
  if (a.want_dw()) {
    multiply_unfold(gx, gy, k[sb.global_p], k[sb.global_q], sb, true);
    store_pair(sm, sb, gx, gy);
  }
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
