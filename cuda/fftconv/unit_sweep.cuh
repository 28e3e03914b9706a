// The unit sweep: a whole sequence of M = 2^14 points (N = 32768) in one block of 99 KB, for GPUs
// whose shared memory cannot hold the 128 KB of its float32 planes (sm_86, sm_89; sm_80 too).
//
// plan(2^14) begins with a radix-4 stage of stride S = 2^12 (plan.cuh), leaving four rows of S
// points; under real folding they form two units (spectrum.cuh, RowSplit): rows of low bins {0, 2}
// and {1, 3}. The block holds one unit (2 S points, 64 KB + constants = 87 KB) at a time:
//
//   first stage on load  row c:  a_c[i] = W_M^(i c) sum_{d<4} x[d S + i] (-i)^(d c)
//   inner stages, spectral step of the unit's pairs, inverse inner stages (shared memory)
//   last stage on store  out[d S + i] += sum over the unit's rows c of A_c[i] conj(W_M^(i c)) i^(d c)
//
// N >= 2L - 1 puts every output sample the op keeps (t < L <= M) in the first half of the packed
// sequence, d in {0, 1}: M/2 complex values, accumulated over the two units in registers
// (kSweepOutputs = 32 float2 per thread), never in global memory. The position order of the
// spectrum is plan(2^14)'s, so k_f is the same whichever execution a device takes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/complex_math.cuh"
#include "cuda/fftconv/outer_pass.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

constexpr int kSweepLog2M = 14;
constexpr int kSweepLog2Row = 12;
constexpr int kSweepRow = 1 << kSweepLog2Row;
constexpr int kSweepUnits = 2;
// Packed outputs per thread: the first half of the sequence, d = 0 and d = 1.
constexpr int kSweepOutputs = (2 * kSweepRow) / kThreads;
static_assert(kSweepLog2M - kSweepLog2Row == 2, "the unit sweep splits a sequence into four rows");
static_assert(kSweepRow % kThreads == 0, "every thread owns the same outputs of each row");

__host__ __device__ inline SharedLayout unit_sweep_layout() {
  return make_shared_layout(2 * kSweepRow, kSweepLog2Row, 0);
}

__host__ __device__ inline RowSplit unit_sweep_split() { return make_row_split(kSweepLog2M, kSweepLog2Row); }

// x (-i)^q: a quarter turn per q, exact.
__device__ __forceinline__ float2 quarter_turns(float2 x, int q) {
  switch (q & 3) {
    case 1: return make_float2(x.y, -x.x);
    case 2: return make_float2(-x.x, -x.y);
    case 3: return make_float2(-x.y, x.x);
    default: return x;
  }
}

// Slots 0 and 1 <- the unit's two rows of stage 0 applied to sequence `sequence` of `source` (a
// float2 source(row, n), n < M, as in outer_pass.cuh). All threads; no barrier inside.
template <class Source>
__device__ __forceinline__ void load_unit_first_stage(const BlockShared& sm, const RowSplit& split,
                                                      const Source& source, int64_t sequence, int unit) {
  const int first_row = split.first_row(unit), second_row = split.second_row(unit);
  for (int e = threadIdx.x; e < 2 * kSweepRow; e += blockDim.x) {
    const int slot = e >> kSweepLog2Row, i = e & (kSweepRow - 1);
    const int c = slot == 0 ? first_row : second_row;
    float2 a = make_float2(0.0f, 0.0f);
#pragma unroll
    for (int d = 0; d < 4; ++d) a = cadd(a, quarter_turns(source(sequence, d * kSweepRow + i), d * c));
    if (c > 0 && i > 0) a = cmul(a, pass_twiddle(int64_t(i) * c, kSweepLog2M));
    sm.re[e] = a.x;
    sm.im[e] = a.y;
  }
}

// The unit's two rows loaded through stage 0 and forward transformed (all threads; ends
// synchronised). Returns the slot ranges, for the inverse.
template <class Source>
__device__ __forceinline__ SlotRanges transform_unit_first_stage(const BlockShared& sm, const RowSplit& split,
                                                                 const Source& source, int64_t sequence,
                                                                 int unit) {
  load_unit_first_stage(sm, split, source, sequence, unit);
  __syncthreads();  // the rows (and, the first time, the block constants) are in place
  SlotRanges ranges;
  ranges.add(0, 2);
  transform_slots<false>(sm, ranges);
  return ranges;
}

// out[j] (packed position threadIdx.x + kThreads j) += the unit's share of the inverse stage 0,
// from the inverse-transformed rows in slots 0 and 1 (natural order). All threads; reads only.
__device__ __forceinline__ void accumulate_unit_last_stage(const BlockShared& sm, const RowSplit& split, int unit,
                                                           float2 (&out)[kSweepOutputs]) {
  const int first_row = split.first_row(unit), second_row = split.second_row(unit);
  constexpr int kPerRow = kSweepOutputs / 2;  // outputs of d = 0 (j < kPerRow) and d = 1
#pragma unroll
  for (int j = 0; j < kPerRow; ++j) {
    const int i = threadIdx.x + kThreads * j;
#pragma unroll
    for (int slot = 0; slot < 2; ++slot) {
      const int c = slot == 0 ? first_row : second_row;
      float2 x = make_float2(sm.re[(slot << kSweepLog2Row) + i], sm.im[(slot << kSweepLog2Row) + i]);
      if (c > 0 && i > 0) x = cmul_conj(x, pass_twiddle(int64_t(i) * c, kSweepLog2M));
      out[j] = cadd(out[j], x);
      out[j + kPerRow] = cadd(out[j + kPerRow], quarter_turns(x, 4 - c));  // x i^c
    }
  }
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
