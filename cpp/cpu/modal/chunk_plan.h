// How the modal scan cuts time: chunks of whole tiles, so that chunks of one lane group can run in
// parallel (two passes and a short sequential carry, see modal_scan_cpu.cpp). One chunk per group
// when the groups alone occupy the threads (then a single pass does all the work).
#pragma once

#include <algorithm>
#include <cstdint>

namespace serengeti::cpu::modal {

constexpr int64_t kTile = 64;  // time steps per tile (tiles are [64][8], 2 KiB in float)

struct ChunkPlan {
  int64_t chunks = 1;
  int64_t length = 0;  // multiple of kTile; the last chunk may be shorter
  int64_t begin(int64_t k) const { return k * length; }
  int64_t end(int64_t k, int64_t L) const { return std::min(L, (k + 1) * length); }
};

// max_length > 0 bounds the chunk length (the backward keeps per-chunk checkpoints).
inline ChunkPlan plan_chunks(int64_t groups, int64_t L, int num_threads, int64_t max_length) {
  constexpr int64_t kMinChunk = 1024;
  ChunkPlan plan;
  const int64_t wanted = 4 * int64_t(num_threads);
  if (num_threads > 1 && groups < wanted)
    plan.chunks = std::max<int64_t>(1, std::min((wanted + groups - 1) / groups, L / kMinChunk));
  if (max_length > 0) plan.chunks = std::max(plan.chunks, (L + max_length - 1) / max_length);
  const int64_t tiles = (L + kTile - 1) / kTile;
  plan.length = std::max<int64_t>(1, (tiles + plan.chunks - 1) / plan.chunks) * kTile;
  plan.chunks = std::max<int64_t>(1, (L + plan.length - 1) / plan.length);
  return plan;
}

}  // namespace serengeti::cpu::modal
