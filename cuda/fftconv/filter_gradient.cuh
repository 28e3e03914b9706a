// The filter-gradient partial sums, one pair of bins at a time: S[p] (+)= G[p] conj(W[p]) at the
// pair's positions of a [positions] row owned by one block (no other block touches it: no atomics,
// a fixed order over the batch rows of the chunk, so dk and dk_f are bitwise reproducible). At
// DC/Nyquist both spectra are real and packed, (G0 W0, GM WM).
#pragma once

#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"
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

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
