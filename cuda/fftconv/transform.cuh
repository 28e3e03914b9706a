// The complex FFT of every slot of a block (S = 2^log2_row points per slot, in shared memory):
// forward = the DIF stages of plan(S) in order, inverse = the same stages backwards with
// conjugate twiddles and conjugate DFTs (see plan.cuh). The inverse is unnormalised (a forward
// followed by an inverse multiplies by S); callers fold the 1/S into their final scaling.
//
// Work split: radix-16 stages go to the warps a 16 x 16 tile at a time (dft16_mma.cuh); the
// small first stage (radix 2, 4 or 8, only when log2 S is not a multiple of 4) is done by all
// threads, one butterfly each, in float32. A __syncthreads separates the stages.
//
// Slot ranges: a stage runs over whole tiles of 256 points, so a range must cover a multiple of
// 256 / S slots when S < 256 (the caller pads with zero slots).
#pragma once

#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"
#include "cuda/fftconv/dft16_mma.cuh"
#include "cuda/fftconv/plan.cuh"
#include "cuda/fftconv/register_fft.cuh"
#include "cuda/fftconv/shared_layout.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// Up to two ranges of slots [first, first + count) transformed together (a backward block
// transforms its signal and gradient buffers in the same stage sweep).
struct SlotRanges {
  int first[2] = {0, 0};
  int count[2] = {0, 0};
  int n = 0;
  __device__ __forceinline__ void add(int f, int c) {
    if (c <= 0) return;
    if (n == 0) {  // constant indices: the ranges stay in registers
      first[0] = f;
      count[0] = c;
    } else {
      first[1] = f;
      count[1] = c;
    }
    ++n;
  }
};

// Slot count rounded up so a range covers whole 256-point tiles.
__host__ __device__ inline int round_slots_to_tiles(int slots, int log2_row) {
  const int per_tile = log2_row >= 8 ? 1 : (1 << (8 - log2_row));
  return (slots + per_tile - 1) / per_tile * per_tile;
}

// Radix 2^lr (lr = 1..3) first stage: stride s = S / r, one butterfly per (slot, inner i < s).
// forward: y = DFT_r(x), then y_c times W_S^(ic);  inverse: x_d times W_S^-(id) first, then
// y = conj-DFT_r(x).
template <bool kInverse, int kLog2Radix>
__device__ __forceinline__ void small_radix_stage(const BlockShared& sm, const SlotRanges& ranges) {
  constexpr int kRadix = 1 << kLog2Radix;
  const int log2_row = sm.log2_row;
  const int log2_stride = log2_row - kLog2Radix;
  const int stride = 1 << log2_stride;
#pragma unroll
  for (int g = 0; g < 2; ++g) {
    if (g >= ranges.n) break;
    const int butterflies = ranges.count[g] << log2_stride;
    for (int b = threadIdx.x; b < butterflies; b += blockDim.x) {
      const int slot = ranges.first[g] + (b >> log2_stride);
      const int i = b & (stride - 1);
      const int base = (slot << log2_row) + i;
      float2 x[kRadix], y[kRadix];
#pragma unroll
      for (int d = 0; d < kRadix; ++d) {
        x[d] = make_float2(sm.re[base + d * stride], sm.im[base + d * stride]);
        if (kInverse && d > 0 && i > 0) x[d] = cmul_conj(x[d], twiddle(sm.table, log2_row, i * d));
      }
      small_dft<kInverse, kLog2Radix>(x, y);
#pragma unroll
      for (int c = 0; c < kRadix; ++c) {
        if (!kInverse && c > 0 && i > 0) y[c] = cmul(y[c], twiddle(sm.table, log2_row, i * c));
        sm.re[base + c * stride] = y[c].x;
        sm.im[base + c * stride] = y[c].y;
      }
    }
  }
}

// Radix-16 stage with stride 2^log2_stride >= 16: tiles of 16 rows (the DFT points, stride s) by
// 16 consecutive inner indices.
template <bool kInverse>
__device__ __forceinline__ void radix16_strided_stage(const BlockShared& sm, const SlotRanges& ranges,
                                                      int log2_stride) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int log2_row = sm.log2_row;
  const int stride = 1 << log2_stride;
  const int log2_groups = log2_stride - 4;             // 16-column groups per 16 x s block
  const int tw_shift = log2_row - 4 - log2_stride;     // W_{16s}^x = W_S^(x << tw_shift)
  DftFragments<wmma::matrix_a> f;
  f.load(*sm.dft, kInverse);
  WarpStaging& st = sm.staging[warp];
#pragma unroll
  for (int g = 0; g < 2; ++g) {
    if (g >= ranges.n) break;
    const int tiles = ranges.count[g] << (log2_row - 8);
    for (int t = warp; t < tiles; t += kWarps) {
      const int slot = ranges.first[g] + (t >> (log2_row - 8));
      const int in_slot = t & ((1 << (log2_row - 8)) - 1);
      const int outer = in_slot >> log2_groups, group = in_slot & ((1 << log2_groups) - 1);
      const int base = (slot << log2_row) + outer * 16 * stride + group * 16;
      dft16_tile_strided<kInverse>(sm.re, sm.im, base, stride, group * 16, tw_shift, sm.table,
                                   log2_row, f, st, lane);
    }
  }
}

// Radix-16 stage with stride 1: tiles of 16 consecutive 16-point DFTs.
template <bool kInverse>
__device__ __forceinline__ void radix16_contiguous_stage(const BlockShared& sm, const SlotRanges& ranges) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  DftFragments<wmma::matrix_b> f;
  f.load(*sm.dft, kInverse);
  WarpStaging& st = sm.staging[warp];
#pragma unroll
  for (int g = 0; g < 2; ++g) {
    if (g >= ranges.n) break;
    const int tiles = (ranges.count[g] << sm.log2_row) >> 8;  // whole tiles (see round_slots_to_tiles)
    const int base0 = ranges.first[g] << sm.log2_row;
    for (int t = warp; t < tiles; t += kWarps) dft16_tile_contiguous(sm.re, sm.im, base0 + t * 256, f, st, lane);
  }
}

// The whole transform. Ends with a __syncthreads (results visible to every thread); the caller
// must have synchronised after writing the input.
template <bool kInverse>
__device__ __forceinline__ void transform_slots(const BlockShared& sm, const SlotRanges& ranges) {
  const Plan plan = make_plan(sm.log2_row);
  for (int step = 0; step < plan.stages; ++step) {
    const int j = kInverse ? plan.stages - 1 - step : step;
    if (plan.log2_radix(j) == 1) {
      small_radix_stage<kInverse, 1>(sm, ranges);
    } else if (plan.log2_radix(j) == 2) {
      small_radix_stage<kInverse, 2>(sm, ranges);
    } else if (plan.log2_radix(j) == 3) {
      small_radix_stage<kInverse, 3>(sm, ranges);
    } else if (plan.log2_stride(j) == 0) {
      radix16_contiguous_stage<kInverse>(sm, ranges);
    } else {
      radix16_strided_stage<kInverse>(sm, ranges, plan.log2_stride(j));
    }
    __syncthreads();
  }
}

// Table and DFT matrices for a block (all threads; the caller synchronises before use).
__device__ __forceinline__ void prepare_block_constants(const BlockShared& sm) {
  fill_twiddle_table(sm.table, sm.log2_row);
  fill_dft16_matrices(sm.dft);
}

// A block kernel's start: its dynamic shared memory (`base`, the kernel's extern __shared__
// array) carved for `points` complex points in rows of 2^log2_row, with the twiddle table and the
// DFT matrices filled (all threads; the kernel's first __syncthreads makes them visible).
__device__ __forceinline__ BlockShared open_block(unsigned char* base, int points, int log2_row) {
  const BlockShared sm = carve_shared(base, make_shared_layout(points, log2_row, 0), log2_row);
  prepare_block_constants(sm);
  return sm;
}

// The items (rows, channels or units) a block takes in one turn of its grid-stride loop:
// [first, first + active), active = per_block except at the end.
struct BlockItems {
  int64_t first;
  int active;
};
__device__ __forceinline__ BlockItems block_items(int64_t block, int64_t total, int per_block) {
  const int64_t first = block * per_block;
  return BlockItems{first, int(total - first < per_block ? total - first : per_block)};
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
