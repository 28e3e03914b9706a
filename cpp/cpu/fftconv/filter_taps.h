// Where filter taps sit in the length-N FFT buffer, and moving them in (k) and out (dk).
//
// causal:        tap s (0 <= s < min(Lk, L)) at t = s. Taps s >= L never reach an output in
//                [0, L), so they are not loaded and their gradient is 0.
// bidirectional: with c = (Lk - 1) / 2, offset s = i - c of tap i sits at t = s (s >= 0) or at
//                t = N + s (s < 0): the buffer holds the circular filter, and because
//                N >= 2L - 1 the circular product restricted to [0, L) is the linear two-sided one.
//                Only |s| <= L - 1 can reach an output; other taps get gradient 0.
#pragma once

#include <cstdint>

#include "cpu/fftconv/conv_problem.h"
#include "cpu/fftconv/lane_io.h"

namespace serengeti::cpu::fftconv {

// The range of tap offsets s kept in the buffer: s in [lowest_offset, highest_offset].
struct TapPlacement {
  int64_t centre = 0;          // tap index of offset 0
  int64_t lowest_offset = 0;   // <= 0
  int64_t highest_offset = 0;  // >= 0
  int64_t fft_size = 0;
  // Samples of the buffer that can be nonzero: the `in_len` for the forward transform and the
  // `out_len` needed from an inverse transform to read the taps back.
  int64_t used_length() const { return lowest_offset < 0 ? fft_size : highest_offset + 1; }
};

TapPlacement tap_placement(const ConvShape& shape);

// buf[t*8 + l] for t < used_length(): the placed taps of channel l (zeros elsewhere), and
// skip[l] added to the offset-0 tap when skip is not null (y = k (*) w + D w folds into the filter
// as k'[0] = k[0] + D).
template <class T>
void load_filter_taps(T* buf, const LaneRows& k, const TapPlacement& placement, int lanes,
                      const T* skip);

// dk[l][i] for all Lk taps i: buf[t(i - c)*8 + l] where tap i is placed, 0 where it is not.
// buf must be valid for t < used_length().
template <class T>
void store_filter_taps(const MutableLaneRows& dk, int64_t taps, const T* buf,
                       const TapPlacement& placement, int lanes);

}  // namespace serengeti::cpu::fftconv
