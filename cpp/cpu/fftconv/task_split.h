// How a call's work is cut into parallel tasks.
//
// The natural task is one channel group for every batch row: the group's filter (spectrum) is
// prepared once and reused for all rows, and sums over the batch (dk, dk_f) are accumulated in a
// fixed order inside the task, which keeps them bitwise deterministic for any thread count.
// With few groups and several batch rows that leaves threads idle, so (when no batch sum is
// needed) tasks become (batch row, group) pairs and the group filters are prepared up front.
#pragma once

#include <cstdint>

namespace serengeti::cpu::fftconv {

inline bool one_task_per_group(int64_t groups, int64_t batch, int threads) {
  if (batch <= 1 || threads <= 1) return true;
  // Enough groups that dynamic scheduling balances them, or an exact multiple of the threads.
  return groups >= 4 * int64_t(threads) || groups % threads == 0;
}

// Filters prepared up front for pair tasks must stay a modest share of memory.
constexpr int64_t kMaxSharedFilterBytes = int64_t(64) << 20;

}  // namespace serengeti::cpu::fftconv
