// Moving one channel group between a strided (.., H, L) tensor and the FFT engine's lane layout.
//
// The engine transforms 8 channels ("lanes") at once with samples interleaved: sample t of lane l
// lives at buf[t*8 + l]. A group is up to 8 consecutive channels of one batch row; lanes past the
// last channel of a partial group are filled with zeros on load and skipped on store.
//
// Every load and store can fold in one elementwise factor (a gate) read from a second tensor with
// the same shape: that is how pregate, postgate, dy (for dpostgate) and u (for dpregate) are
// applied without an extra pass.
#pragma once

#include <cstdint>

#include "serengeti/dtype.h"

namespace serengeti::cpu::fftconv {

// Up to 8 rows of a tensor: row (lane) l, element t is data[l*lane_stride + t*t_stride].
struct LaneRows {
  const void* data = nullptr;  // null: absent (a gate that is not there multiplies by one)
  DType dtype = DType::kFloat32;
  int64_t lane_stride = 0;
  int64_t t_stride = 0;
  bool present() const { return data != nullptr; }
};

struct MutableLaneRows {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  int64_t lane_stride = 0;
  int64_t t_stride = 0;
  bool present() const { return data != nullptr; }
};

// buf[t*8 + l] = src[l][t] * gate[l][t]  for t < count, l < lanes;  0 for lanes <= l < 8.
// T is float (for float32/float16/bfloat16 storage) or double.
template <class T>
void load_lanes(T* buf, const LaneRows& src, const LaneRows& gate, int lanes, int64_t count);

// dst[l][t] = buf[t*8 + l] * gate[l][t]  for t < count, l < lanes (converted to dst's dtype).
template <class T>
void store_lanes(const MutableLaneRows& dst, const T* buf, const LaneRows& gate, int lanes,
                 int64_t count);

// dst[l][t] = 0 for t < count, l < lanes.
void zero_lanes(const MutableLaneRows& dst, int lanes, int64_t count);

}  // namespace serengeti::cpu::fftconv
