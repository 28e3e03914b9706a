// One stage of a long transform as a pass over global memory (the multi-kernel path for
// transforms too large for one block's shared memory; see plan.cuh for the stage definition).
//
// A thread owns one butterfly: the R = 2^log2_radix points x_d = X[o R s + d s + i] of one row
// (sequence) of M points; consecutive threads take consecutive inner indices i, so every load and
// store of a warp is contiguous when s >= 32. The DFT runs in registers in float32
// (register_fft.cuh): these passes move 16 bytes per point each way and do ~10 flops per point,
// so they are bandwidth-bound and tensor cores would not make them faster.
//
//   forward:  y = DFT_R(x), y_c *= W_{Rs}^(i c)          (decimation in frequency)
//   inverse:  x_d *= W_{Rs}^-(i d), y = conj-DFT_R(x)     (undoes the forward stage, times R)
//
// Source and Sink are functors: float2 source(row, n) and sink(row, n, value) with n the point
// index in the row; they let the first forward pass read activations or filter taps and the last
// inverse pass write the op's outputs, while inner passes read and write the workspace in place.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"
#include "cuda/fftconv/register_fft.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

constexpr int kPassThreads = 256;

// W_n^x for n = 2^log2_n, 0 <= x < n (sincospif of the exact angle 2x/n).
__device__ __forceinline__ float2 pass_twiddle(int64_t x, int log2_n) {
  return unit_root(float(2 * x) / float(int64_t(1) << log2_n));
}

// In-place workspace rows of M points: X[row * M + n].
struct WorkspaceRows {
  float2* data;
  int log2_m;
  __device__ __forceinline__ float2 operator()(int64_t row, int64_t n) const {
    return data[(row << log2_m) + n];
  }
  __device__ __forceinline__ void operator()(int64_t row, int64_t n, float2 v) const {
    data[(row << log2_m) + n] = v;
  }
};

template <bool kInverse, int kLog2Radix, class Source, class Sink>
__device__ __forceinline__ void outer_pass_radix(const Source& source, const Sink& sink, int64_t rows,
                                                 int log2_m, int log2_stride) {
  constexpr int kRadix = 1 << kLog2Radix;
  const int log2_per_row = log2_m - kLog2Radix;  // butterflies per row
  const int log2_span = kLog2Radix + log2_stride;
  const int64_t stride = int64_t(1) << log2_stride;
  const int64_t total = rows << log2_per_row;
  for (int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < total;
       b += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = b >> log2_per_row;
    const int64_t within = b & ((int64_t(1) << log2_per_row) - 1);
    const int64_t i = within & (stride - 1);
    const int64_t base = ((within >> log2_stride) << log2_span) + i;
    float2 x[kRadix], y[kRadix];
#pragma unroll
    for (int d = 0; d < kRadix; ++d) {
      x[d] = source(row, base + d * stride);
      if (kInverse && d > 0 && i > 0) x[d] = cmul_conj(x[d], pass_twiddle(i * d, log2_span));
    }
    register_dft<kInverse, kLog2Radix>(x, y);
#pragma unroll
    for (int c = 0; c < kRadix; ++c) {
      if (!kInverse && c > 0 && i > 0) y[c] = cmul(y[c], pass_twiddle(i * c, log2_span));
      sink(row, base + c * stride, y[c]);
    }
  }
}

// The pass for a run-time radix (the stage's, from plan.cuh).
template <bool kInverse, class Source, class Sink>
__device__ __forceinline__ void outer_pass(const Source& source, const Sink& sink, int64_t rows,
                                           int log2_m, int log2_radix, int log2_stride) {
  with_log2_radix(log2_radix, [&](auto r) {
    outer_pass_radix<kInverse, decltype(r)::value>(source, sink, rows, log2_m, log2_stride);
  });
}

// Grid for `rows * M / R` butterflies.
inline unsigned pass_grid(int64_t rows, int log2_m, int log2_radix) {
  const int64_t threads = rows << (log2_m - log2_radix);
  const int64_t blocks = (threads + kPassThreads - 1) / kPassThreads;
  constexpr int64_t kMaxBlocks = int64_t(1) << 20;
  return unsigned(blocks < 1 ? 1 : (blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
