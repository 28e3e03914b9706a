// float2 as a complex number (x = real, y = imaginary), the few operations the FFT needs, and the
// twiddle factors W_S^t = exp(-2 pi i t / S).
//
// Twiddles come from a table of the first octant, W_S^t for t in [0, S/8] (S/8 + 1 entries,
// computed once per block with sincospif, which CUDA evaluates to 1-2 ulp), extended exactly to
// every t by the symmetries of the circle: W^(t + S/4) = -i W^t (a swap and a sign change) and,
// for S/8 < u < S/4, W^u = -i conj(W^(S/4 - u)). No arithmetic, so every twiddle is as accurate as
// a table entry. The table of a 2^13-point row is 8 KB of shared memory.
#pragma once

#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

__device__ __forceinline__ float2 cmul(float2 a, float2 b) {
  return make_float2(fmaf(a.x, b.x, -a.y * b.y), fmaf(a.x, b.y, a.y * b.x));
}
// a * conj(b)
__device__ __forceinline__ float2 cmul_conj(float2 a, float2 b) {
  return make_float2(fmaf(a.x, b.x, a.y * b.y), fmaf(a.y, b.x, -a.x * b.y));
}
__device__ __forceinline__ float2 cconj(float2 a) { return make_float2(a.x, -a.y); }
__device__ __forceinline__ float2 cadd(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ float2 csub(float2 a, float2 b) { return make_float2(a.x - b.x, a.y - b.y); }
__device__ __forceinline__ float2 cscale(float2 a, float s) { return make_float2(a.x * s, a.y * s); }

// exp(-i pi x) for an exactly representable x (sincospif of the exact angle: no rounded pi).
__device__ __forceinline__ float2 unit_root(float x) {
  float s, c;
  sincospif(x, &s, &c);
  return make_float2(c, -s);
}

// table[t] = W_S^t for t in [0, S/8]; all threads of the block call it (no barrier inside).
__device__ __forceinline__ void fill_twiddle_table(float2* table, int log2_size) {
  const int count = (1 << log2_size) / 8 + 1;
  const float step = 2.0f / float(1 << log2_size);  // exact: a power of two
  for (int t = threadIdx.x; t < count; t += blockDim.x) table[t] = unit_root(float(t) * step);
}

// W_S^t for any integer t (taken modulo S) from the octant table.
__device__ __forceinline__ float2 twiddle(const float2* table, int log2_size, int t) {
  const int size = 1 << log2_size;
  t &= size - 1;
  const int quarter = size >> 2;
  const int quadrant = t / quarter;
  const int u = t - quadrant * quarter;  // in [0, S/4)
  float2 w;
  if (u <= (size >> 3)) {
    w = table[u];
  } else {
    // W^(S/4 - u) = (c, -s)  =>  W^u = -i (c + i s) = (s, -c)
    const float2 v = table[quarter - u];
    w = make_float2(-v.y, -v.x);
  }
  // times (-i)^quadrant: (a + ib)(-i) = b - ia
  switch (quadrant) {
    case 1: return make_float2(w.y, -w.x);
    case 2: return make_float2(-w.x, -w.y);
    case 3: return make_float2(-w.y, w.x);
    default: return w;
  }
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
