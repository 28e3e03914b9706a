// Moving a block's slots between shared memory and workspace rows (multi-kernel path), the
// unit -> (sequence, rows) bookkeeping of the inner kernels, and their walk over bin pairs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/spectrum.cuh"
#include "cuda/fftconv/transform.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// Unit `unit` (global index over sequences x R/2 units) -> its sequence and the row index that
// block slot 2j (first row) or 2j + 1 (second row) holds.
struct UnitRows {
  int64_t sequence;
  int row[2];
};
__device__ __forceinline__ UnitRows unit_rows(const RowSplit& split, int64_t unit) {
  const int64_t per_sequence = int64_t(1) << (split.log2_rows - 1);
  UnitRows r;
  r.sequence = unit / per_sequence;
  const int u = int(unit - r.sequence * per_sequence);
  r.row[0] = split.first_row(u);
  r.row[1] = split.second_row(u);
  return r;
}

// Slots [first_slot, first_slot + 2 * units) <- rows of `ws` (M points per sequence) for units
// first_unit .. first_unit + units - 1. All threads; no barrier inside.
__device__ __forceinline__ void load_unit_rows(const BlockShared& sm, const RowSplit& split,
                                               const float2* ws, int64_t first_unit, int units,
                                               int first_slot) {
  const int log2_row = split.inner.log2_size;
  const int log2_m = split.full.log2_size;
  for (int e = threadIdx.x; e < ((2 * units) << log2_row); e += blockDim.x) {
    const int slot = e >> log2_row, n = e & ((1 << log2_row) - 1);
    const UnitRows r = unit_rows(split, first_unit + slot / 2);
    const float2 v = ws[(r.sequence << log2_m) + (int64_t(r.row[slot & 1]) << log2_row) + n];
    sm.re[((first_slot + slot) << log2_row) + n] = v.x;
    sm.im[((first_slot + slot) << log2_row) + n] = v.y;
  }
}

__device__ __forceinline__ void store_unit_rows(const BlockShared& sm, const RowSplit& split,
                                                float2* ws, int64_t first_unit, int units,
                                                int first_slot) {
  const int log2_row = split.inner.log2_size;
  const int log2_m = split.full.log2_size;
  for (int e = threadIdx.x; e < ((2 * units) << log2_row); e += blockDim.x) {
    const int slot = e >> log2_row, n = e & ((1 << log2_row) - 1);
    const UnitRows r = unit_rows(split, first_unit + slot / 2);
    ws[(r.sequence << log2_m) + (int64_t(r.row[slot & 1]) << log2_row) + n] =
        make_float2(sm.re[((first_slot + slot) << log2_row) + n], sm.im[((first_slot + slot) << log2_row) + n]);
  }
}

// Slots 0 .. 2 active - 1 <- the rows of units first .. first + active - 1 of ws, forward
// transformed (all threads; ends synchronised). Returns the slot ranges, for the inverse.
__device__ __forceinline__ SlotRanges transform_unit_rows(const BlockShared& sm, const RowSplit& split,
                                                         const float2* ws, int64_t first, int active) {
  load_unit_rows(sm, split, ws, first, active, 0);
  __syncthreads();
  SlotRanges ranges;
  ranges.add(0, round_slots_to_tiles(2 * active, split.inner.log2_size));
  transform_slots<false>(sm, ranges);
  return ranges;
}

// f(j, pair) for every bin pair of units first .. first + active - 1, unit j of the block in
// slots 2j and 2j + 1, spread over the block's threads. No barrier inside.
template <class F>
__device__ __forceinline__ void for_each_unit_pair(const RowSplit& split, int64_t first, int active, F&& f) {
  const int64_t per_sequence = int64_t(1) << (split.log2_rows - 1);
  const int items = split.items_per_unit();
  for (int item = threadIdx.x; item < active * items; item += blockDim.x) {
    const int j = item / items;
    SpectrumPair sp;
    if (unit_pair(split, int((first + j) % per_sequence), item - j * items, 2 * j, 2 * j + 1, &sp)) f(j, sp);
  }
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
