// The sizes of one fftconv call and helpers that address one channel group inside its views.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/fftconv/element_convert.h"
#include "cpu/fftconv/lane_io.h"
#include "serengeti/tensor_view.h"

namespace serengeti::cpu::fftconv {

constexpr int kGroupLanes = 8;  // channels per group = FFT engine lanes

struct ConvShape {
  int64_t batch = 0;     // B
  int64_t channels = 0;  // H
  int64_t length = 0;    // L
  int64_t taps = 0;      // Lk (0 when only the spectrum k_f is given)
  int64_t fft_size = 0;  // N
  bool bidirectional = false;

  int64_t groups() const { return (channels + kGroupLanes - 1) / kGroupLanes; }
  int lanes_in_group(int64_t group) const {
    return int(std::min<int64_t>(kGroupLanes, channels - group * kGroupLanes));
  }
  // Taps that can reach an output inside [0, L) in causal mode.
  int64_t causal_taps() const { return std::min(taps, length); }
  // Offset of the centre tap in bidirectional mode: k[centre + s] multiplies w[t - s].
  int64_t centre() const { return bidirectional ? (taps - 1) / 2 : 0; }
};

// Channels [h0, h0 + 8) of batch row b of a (B, H, L) view.
inline LaneRows activation_rows(const TensorView& v, int64_t b, int64_t h0) {
  LaneRows rows;
  if (!v.present()) return rows;
  rows.data = offset_elements(v.data, v.dtype, b * v.strides[0] + h0 * v.strides[1]);
  rows.dtype = v.dtype;
  rows.lane_stride = v.strides[1];
  rows.t_stride = v.strides[2];
  return rows;
}

inline MutableLaneRows mutable_activation_rows(const TensorView& v, int64_t b, int64_t h0) {
  MutableLaneRows rows;
  if (!v.present()) return rows;
  rows.data = offset_elements(v.data, v.dtype, b * v.strides[0] + h0 * v.strides[1]);
  rows.dtype = v.dtype;
  rows.lane_stride = v.strides[1];
  rows.t_stride = v.strides[2];
  return rows;
}

// Channels [h0, h0 + 8) of an (H, Lk) filter view.
inline LaneRows filter_rows(const TensorView& k, int64_t h0) {
  LaneRows rows;
  rows.data = offset_elements(k.data, k.dtype, h0 * k.strides[0]);
  rows.dtype = k.dtype;
  rows.lane_stride = k.strides[0];
  rows.t_stride = k.strides[1];
  return rows;
}

inline MutableLaneRows mutable_filter_rows(const TensorView& k, int64_t h0) {
  MutableLaneRows rows;
  rows.data = offset_elements(k.data, k.dtype, h0 * k.strides[0]);
  rows.dtype = k.dtype;
  rows.lane_stride = k.strides[0];
  rows.t_stride = k.strides[1];
  return rows;
}

// D[h0 + l] for l < lanes, 0 for the other lanes and when D is absent.
template <class T>
void load_group_skip(T out[kGroupLanes], const TensorView& D, int64_t h0, int lanes) {
  for (int l = 0; l < kGroupLanes; ++l)
    out[l] = (D.present() && l < lanes) ? load_element<T>(D.data, D.dtype, (h0 + l) * D.strides[0])
                                        : T(0);
}

}  // namespace serengeti::cpu::fftconv
