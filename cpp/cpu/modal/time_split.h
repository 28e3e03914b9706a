// How the filter sweeps split work: one task per (row, range of time). Rows (channels, or batch
// rows x channels) are independent; when there are too few rows to keep every thread busy, each row
// is also cut into ranges of whole blocks, whose partial results are combined in a fixed order
// (deterministic for any thread count).
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/modal/block_kernels.h"

namespace serengeti::cpu::modal {

struct TimeSplit {
  int64_t ranges = 1;        // ranges per row
  int64_t range_length = 0;  // a multiple of kBlock (the last range may be shorter)

  int64_t begin(int64_t r) const { return r * range_length; }
  int64_t end(int64_t r, int64_t L) const { return std::min(L, (r + 1) * range_length); }
};

// Ranges of at least kMinRange samples (so the per-task tables and anchors stay negligible),
// enough tasks for about four per thread.
inline TimeSplit split_time(int64_t rows, int64_t L, int num_threads) {
  constexpr int64_t kMinRange = 16384;
  TimeSplit split;
  const int64_t wanted_tasks = 4 * int64_t(num_threads);
  if (num_threads > 1 && rows < wanted_tasks && L > kMinRange) {
    const int64_t per_row = (wanted_tasks + rows - 1) / rows;
    split.ranges = std::max<int64_t>(1, std::min(per_row, L / kMinRange));
  }
  const int64_t blocks = (L + kBlock - 1) / kBlock;
  split.range_length = ((blocks + split.ranges - 1) / split.ranges) * kBlock;
  split.ranges = (L + split.range_length - 1) / split.range_length;
  return split;
}

}  // namespace serengeti::cpu::modal
