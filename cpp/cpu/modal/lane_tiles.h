// Moving activations between (B, C, L) tensors of any dtype and strides and the [t][8] float tiles
// of the lane kernels: lane l reads/writes its own row (a channel), widened to T.
// Portable code only (uses element_convert.h).
#pragma once

#include <cstdint>

#include "cpu/modal/scan_lanes.h"
#include "serengeti/dtype.h"
#include "serengeti/tensor_view.h"

namespace serengeti::cpu::modal {

struct LaneRows {
  void* rows[kLanes] = {};  // element (t = 0) of each lane's row; null: lane unused (zeros)
  DType dtype = DType::kFloat32;
  int64_t stride = 1;       // elements between time steps
};

// Rows (b, c0 + l) of a (B, C, L) view, lanes past C unused.
LaneRows lane_rows(const TensorView& v, int64_t b, int64_t c0);

// tile[t * 8 + l] = row_l[t0 + t], t < len.
template <class T>
void gather_tile(const LaneRows& rows, int64_t t0, int64_t len, T* tile);

// row_l[t0 + t] = tile[t * 8 + l] (rounded to the row's dtype), for used lanes.
template <class T>
void scatter_tile(const LaneRows& rows, int64_t t0, int64_t len, const T* tile);

}  // namespace serengeti::cpu::modal
