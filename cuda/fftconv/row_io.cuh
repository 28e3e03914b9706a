// Moving a block's slots between shared memory and workspace rows (multi-kernel path), and the
// unit -> (sequence, rows) bookkeeping of the inner kernels.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/spectrum.cuh"

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

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
