#include "cpu/fftconv/filter_taps.h"

#include <algorithm>

namespace serengeti::cpu::fftconv {
namespace {

// Rows starting at tap index `first` of k.
LaneRows from_tap(const LaneRows& k, int64_t first) {
  LaneRows rows = k;
  rows.data = offset_elements(k.data, k.dtype, first * k.t_stride);
  return rows;
}

MutableLaneRows from_tap(const MutableLaneRows& k, int64_t first) {
  MutableLaneRows rows = k;
  rows.data = offset_elements(k.data, k.dtype, first * k.t_stride);
  return rows;
}

}  // namespace

TapPlacement tap_placement(const ConvShape& shape) {
  TapPlacement p;
  p.fft_size = shape.fft_size;
  p.centre = shape.centre();
  // Offsets s with 0 <= c + s < Lk and |s| <= L - 1 (causal: c = 0, so s >= 0 automatically).
  p.lowest_offset = std::max(-p.centre, -(shape.length - 1));
  p.highest_offset = std::min(shape.taps - 1 - p.centre, shape.length - 1);
  return p;
}

template <class T>
void load_filter_taps(T* buf, const LaneRows& k, const TapPlacement& placement, int lanes,
                      const T* skip) {
  const int64_t n = placement.fft_size;
  const LaneRows no_gate;
  // Offsets s >= 0 at t = s.
  const int64_t forward_count = placement.highest_offset + 1;
  load_lanes(buf, from_tap(k, placement.centre), no_gate, lanes, forward_count);
  if (placement.lowest_offset < 0) {
    // Offsets s < 0 wrap to t = N + s; everything between the two runs is zero.
    const int64_t back_count = -placement.lowest_offset;
    std::fill(buf + forward_count * 8, buf + (n - back_count) * 8, T(0));
    load_lanes(buf + (n - back_count) * 8, from_tap(k, placement.centre + placement.lowest_offset),
               no_gate, lanes, back_count);
  }
  if (skip != nullptr)
    for (int l = 0; l < 8; ++l) buf[l] += skip[l];
}

template <class T>
void store_filter_taps(const MutableLaneRows& dk, int64_t taps, const T* buf,
                       const TapPlacement& placement, int lanes) {
  const int64_t n = placement.fft_size;
  const LaneRows no_gate;
  const int64_t first_kept = placement.centre + placement.lowest_offset;   // tap index
  const int64_t last_kept = placement.centre + placement.highest_offset;   // tap index
  if (first_kept > 0) zero_lanes(dk, lanes, first_kept);
  if (placement.lowest_offset < 0)
    store_lanes(from_tap(dk, first_kept), buf + (n + placement.lowest_offset) * 8, no_gate, lanes,
                -placement.lowest_offset);
  store_lanes(from_tap(dk, placement.centre), buf, no_gate, lanes, placement.highest_offset + 1);
  if (last_kept + 1 < taps) zero_lanes(from_tap(dk, last_kept + 1), lanes, taps - last_kept - 1);
}

template void load_filter_taps<float>(float*, const LaneRows&, const TapPlacement&, int,
                                      const float*);
template void load_filter_taps<double>(double*, const LaneRows&, const TapPlacement&, int,
                                       const double*);
template void store_filter_taps<float>(const MutableLaneRows&, int64_t, const float*,
                                       const TapPlacement&, int);
template void store_filter_taps<double>(const MutableLaneRows&, int64_t, const double*,
                                        const TapPlacement&, int);

}  // namespace serengeti::cpu::fftconv
