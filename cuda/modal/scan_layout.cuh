// How the chunked scans cut a row and lay out their shared memory.
//
// A block owns a whole row (forward) or a whole channel (backward, looping over batch rows); its
// thread k owns the chunk [k * chunk_length, (k + 1) * chunk_length) of time, walked in tiles of
// kTile steps. Per tile, the thread keeps the tile's activations and outputs in registers and runs
// each mode's recurrence over the tile in registers too; between tiles a mode's state rests in
// shared memory ([S][components][threads], one slot per thread: no bank conflicts), so any S works
// with a fixed register budget and the activations are read once per pass.
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/block_shapes.cuh"
#include "cuda/modal/kernel_args.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {

constexpr int kTile = 8;            // time steps per register tile
constexpr int kScanMaxThreads = 256;

// Chunks of whole tiles, at least kMinChunk steps (shorter ones would spend more time in the carry
// than in the scan), at most `threads` of them.
inline void plan_chunks(ScanArgs& a, int threads) {
  constexpr int64_t kMinChunk = 16;
  int64_t length = ceil_div(a.length, int64_t(threads));
  length = ceil_div(length < kMinChunk ? kMinChunk : length, int64_t(kTile)) * kTile;
  a.chunk_length = length;
  a.chunks = a.length == 0 ? 1 : ceil_div(a.length, length);
}

// Fewer threads than chunks of kMinChunk would leave idle: halve while half still covers L.
inline int trim_threads(int threads, int64_t length) {
  while (threads > 32 && int64_t(threads / 2) * 16 >= length) threads /= 2;
  return threads;
}

// Copies channel c's poles and residues into shared memory as four planes of S values
// (re p | im p | re R | im R), the threads of the block striding over the modes.
template <class A>
__device__ __forceinline__ void stage_modes(const ScanArgs& a, int64_t c, A* modes, int64_t S) {
  for (int64_t n = threadIdx.x; n < S; n += blockDim.x) {
    const Complex<A> p = a.poles.load<A>(0, c, n), r = a.residues.load<A>(0, c, n);
    modes[n] = p.re;
    modes[S + n] = p.im;
    modes[2 * S + n] = r.re;
    modes[3 * S + n] = r.im;
  }
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
