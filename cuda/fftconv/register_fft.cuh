// Small DFTs in registers, in float32 on CUDA cores: radix 2, 4, 8 (the first stage of a block
// transform whose size is not a power of 16) and 16 (the outer passes over global memory of long
// transforms, which are memory-bound: ~10 flops per 16 bytes moved). All are decimation in
// frequency with inputs and outputs in natural order; kInverse gives the conjugate DFT
// (unnormalised).
#pragma once

#include <cuda_runtime.h>

#include <type_traits>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// y = DFT_4(x) (conj DFT with kInverse): two radix-2 levels whose only twiddle is -i (or +i),
// applied exactly as a swap and a sign change.
template <bool kInverse>
__device__ __forceinline__ void dft4(float2 x0, float2 x1, float2 x2, float2 x3, float2* y0, float2* y1,
                                     float2* y2, float2* y3) {
  const float2 a0 = cadd(x0, x2), a1 = csub(x0, x2), a2 = cadd(x1, x3), d = csub(x1, x3);
  const float2 a3 = kInverse ? make_float2(-d.y, d.x) : make_float2(d.y, -d.x);  // (+-i) d
  *y0 = cadd(a0, a2);
  *y2 = csub(a0, a2);
  *y1 = cadd(a1, a3);
  *y3 = csub(a1, a3);
}

// y = DFT_r(x) for r = 2, 4, 8, in natural order, by radix-2 decimation in frequency: the only
// rounded twiddles are W_8^1 and W_8^3 = (+-1 - i) / sqrt 2, so an output sees at most one
// rounded multiplication (a direct O(r^2) sum would round r products into every output).
// The radix is a template constant so that x and y stay in registers.
template <bool kInverse, int kLog2Radix>
__device__ __forceinline__ void small_dft(const float2* x, float2* y) {
  static_assert(kLog2Radix >= 1 && kLog2Radix <= 3, "radix 2, 4 or 8");
  if constexpr (kLog2Radix == 1) {
    y[0] = cadd(x[0], x[1]);
    y[1] = csub(x[0], x[1]);
  } else if constexpr (kLog2Radix == 2) {
    dft4<kInverse>(x[0], x[1], x[2], x[3], &y[0], &y[1], &y[2], &y[3]);
  } else {
    constexpr float kHalfSqrt2 = 0.70710678118654752440f;
    float2 b[4], c[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      b[j] = cadd(x[j], x[j + 4]);
      c[j] = csub(x[j], x[j + 4]);
    }
    // c_j *= W_8^j (forward) or W_8^-j (inverse)
    const float sign = kInverse ? 1.0f : -1.0f;  // imaginary sign of W_8^(+-1)
    c[1] = cmul(c[1], make_float2(kHalfSqrt2, sign * kHalfSqrt2));
    c[2] = kInverse ? make_float2(-c[2].y, c[2].x) : make_float2(c[2].y, -c[2].x);
    c[3] = cmul(c[3], make_float2(-kHalfSqrt2, sign * kHalfSqrt2));
    dft4<kInverse>(b[0], b[1], b[2], b[3], &y[0], &y[2], &y[4], &y[6]);
    dft4<kInverse>(c[0], c[1], c[2], c[3], &y[1], &y[3], &y[5], &y[7]);
  }
}

// y = DFT_16(x) as 4 x 4: y[k1 + 4 k2] = sum_j2 W_4^(j2 k2) W_16^(j2 k1) sum_j1 x[4 j1 + j2] W_4^(j1 k1).
// The inner DFT_4s are exact in their twiddles; the W_16 twiddles between them are 9 rounded
// constants (an output sees at most one rounded multiplication).
template <bool kInverse>
__device__ __forceinline__ void dft16(const float2* x, float2* y) {
  // (all loops have constant trip counts and unroll: a, x, y stay in registers)
  // W_16^e = (cos(pi e / 8), -sin(pi e / 8)) for e = 0..9, conjugated for the inverse.
  constexpr float kC1 = 0.92387953251128675613f, kS1 = 0.38268343236508977173f;
  constexpr float kH = 0.70710678118654752440f;
  const float2 w[10] = {{1.0f, 0.0f}, {kC1, -kS1}, {kH, -kH}, {kS1, -kC1}, {0.0f, -1.0f},
                        {-kS1, -kC1}, {-kH, -kH}, {-kC1, -kS1}, {-1.0f, 0.0f}, {-kC1, kS1}};
  float2 a[16];
#pragma unroll
  for (int j2 = 0; j2 < 4; ++j2) {
    float2 b0, b1, b2, b3;
    dft4<kInverse>(x[j2], x[4 + j2], x[8 + j2], x[12 + j2], &b0, &b1, &b2, &b3);
    a[4 * j2 + 0] = b0;
    a[4 * j2 + 1] = b1;
    a[4 * j2 + 2] = b2;
    a[4 * j2 + 3] = b3;
  }
#pragma unroll
  for (int j2 = 1; j2 < 4; ++j2)
#pragma unroll
    for (int k1 = 1; k1 < 4; ++k1) {
      const float2 t = w[j2 * k1];
      a[4 * j2 + k1] = kInverse ? cmul_conj(a[4 * j2 + k1], t) : cmul(a[4 * j2 + k1], t);
    }
#pragma unroll
  for (int k1 = 0; k1 < 4; ++k1)
    dft4<kInverse>(a[k1], a[4 + k1], a[8 + k1], a[12 + k1], &y[k1], &y[k1 + 4], &y[k1 + 8],
                   &y[k1 + 12]);
}

// y = DFT_r(x) for r = 2^kLog2Radix, 1 <= kLog2Radix <= 4.
template <bool kInverse, int kLog2Radix>
__device__ __forceinline__ void register_dft(const float2* x, float2* y) {
  if constexpr (kLog2Radix == 4) {
    dft16<kInverse>(x, y);
  } else {
    small_dft<kInverse, kLog2Radix>(x, y);
  }
}

// f(std::integral_constant<int, r>{}) for a run-time log2 radix r in 1..4 (device code).
template <class F>
__device__ __forceinline__ void with_log2_radix(int log2_radix, F&& f) {
  switch (log2_radix) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    default: f(std::integral_constant<int, 4>{}); break;
  }
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
