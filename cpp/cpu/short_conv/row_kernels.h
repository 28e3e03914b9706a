// The per-task kernels of the short convolution, one set per instruction set.
//
// Two vectorisations, chosen by memory layout (short_conv_cpu.cpp decides):
//   time-major     (stride along L == 1, and the fallback for any other strides): one (b, c) row at a
//                  time, 8 consecutive time steps per vector, taps broadcast;
//   channels-last  (stride along C == 1): 8 channels per vector, one tap vector per (tap, 8
//                  channels); the forward streams whole time rows (all channels), the backward
//                  walks a tile of up to 64 channels down the rows.
// The time-major kernels and the channels-last backward stage a block of input into a compute-type
// "window" with the K-1 preceding inputs in front (conv_problem.h), so history, initial state and
// dtype conversion are handled once and the inner loops are pure FMA over the window.
//
// Scratch comes from the caller (a portable file owning thread_local buffers): the AVX2 files must
// not instantiate library templates such as std::vector that portable files also use (see
// scalar_convert.h on why one symbol must not be compiled with two instruction sets).
#pragma once

#include <cstdint>

#include "cpu/short_conv/conv_problem.h"

namespace serengeti::cpu::short_conv {

constexpr int64_t kTimeBlock = 256;      // time steps per staged block, time-major kernels
constexpr int64_t kLaneTimeBlock = 64;   // time rows per staged block, channels-last kernels
constexpr int64_t kTileChannels = 64;    // channels per channels-last task (whole cache lines)
constexpr int64_t kWindowPad = 8;        // zeroed slack after a window: one vector may overhang

// Scratch a kernel needs, in compute-type elements and in doubles. `tile_lanes` is the channel tile
// width rounded up to 8 (channels-last only).
struct ScratchSize {
  int64_t values = 0;
  int64_t sums = 0;
};

inline int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// Layouts (compute-type elements) are spelled out where each kernel carves its scratch up.
inline ScratchSize forward_time_major_scratch(int64_t taps) {
  const int64_t h = taps - 1;
  return {8 * taps + (h + kTimeBlock + kWindowPad), 0};
}
inline ScratchSize forward_channels_last_scratch(int64_t taps, int64_t channels) {
  return {(channels + 7) / 8 * 8 * (taps + 1), 0};
}
// Backward gradient windows also hold the H zero gradients that flush the last dx outputs: hence
// max(block, H).
inline ScratchSize backward_time_major_scratch(int64_t taps) {
  const int64_t h = taps - 1;
  const int64_t window = h + max_i64(kTimeBlock, h) + kWindowPad;
  return {2 * 8 * taps + 2 * window + h, taps + 1};
}
inline ScratchSize backward_channels_last_scratch(int64_t taps) {
  const int64_t h = taps - 1;
  const int64_t rows = (h + kLaneTimeBlock) + (h + max_i64(kLaneTimeBlock, h)) + h;
  return {kTileChannels * (2 * taps + 1) + rows * kTileChannels, kTileChannels * (taps + 1)};
}

// Entry points of one instruction set. D: the activations' dtype; values/sums: scratch of the sizes
// above (values in ComputeOf<D>).
//   forward_time_major:      rows b*C + c for row in [row_begin, row_end)
//   forward_channels_last:   batch row b, time rows [t_begin, t_end), all channels
//   backward_time_major:     channels [c_begin, c_end) x batch rows [b_begin, b_end)
//   backward_channels_last:  channels [c_begin, min(c_begin + kTileChannels, C)) x [b_begin, b_end)
// The backward kernels write dweight / dbias only when [b_begin, b_end) is the whole batch (the
// caller guarantees it when they are requested), summing over b in increasing order.
#define SERENGETI_SHORT_CONV_DECLARE_KERNELS(isa)                                                 \
  namespace isa {                                                                                 \
  template <DType D>                                                                              \
  void forward_time_major(const ForwardProblem& p, int64_t row_begin, int64_t row_end,           \
                          void* values);                                                          \
  template <DType D>                                                                              \
  void forward_channels_last(const ForwardProblem& p, int64_t b, int64_t t_begin, int64_t t_end,  \
                             void* values);                                                     \
  template <DType D>                                                                              \
  void backward_time_major(const BackwardProblem& p, int64_t c_begin, int64_t c_end,             \
                           int64_t b_begin, int64_t b_end, void* values, double* sums);          \
  template <DType D>                                                                              \
  void backward_channels_last(const BackwardProblem& p, int64_t c_begin, int64_t b_begin,        \
                              int64_t b_end, void* values, double* sums);                        \
  }

SERENGETI_SHORT_CONV_DECLARE_KERNELS(portable)
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
SERENGETI_SHORT_CONV_DECLARE_KERNELS(avx2)
#endif

#undef SERENGETI_SHORT_CONV_DECLARE_KERNELS

}  // namespace serengeti::cpu::short_conv
