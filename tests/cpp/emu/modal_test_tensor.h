// Host tensors of the modal emulator tests: up to 4 dims in a GuardedBuffer (guard bands on both
// sides, contents start as 0xFF = NaN in every float dtype, so unwritten outputs show), in one of
// three layouts, read and written as double in logical row-major order.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda/emu/emu_api.h"
#include "serengeti/dtype.h"
#include "serengeti/tensor_view.h"
#include "short_conv_reference.h"

namespace modal_test {

using serengeti::DType;
using serengeti::TensorView;

enum class Layout {
  kDense,         // row-major
  kPadded,        // every stride padded (last one 2): gaps between all elements
  kChannelsLast,  // 3-dim (B, C, L) stored as (B, L, C); other ranks dense
};

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kDense: return "dense";
    case Layout::kPadded: return "padded";
    case Layout::kChannelsLast: return "channels-last";
  }
  return "?";
}

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, std::vector<int64_t> sizes, Layout layout = Layout::kDense, const std::string& label = "t")
      : dtype_(dtype), sizes_(std::move(sizes)), strides_(sizes_.size()) {
    const int n = int(sizes_.size());
    int64_t stride = layout == Layout::kPadded ? 2 : 1;
    for (int d = n - 1; d >= 0; --d) {
      strides_[d] = stride;
      stride = stride * sizes_[d] + (layout == Layout::kPadded ? 1 : 0);
    }
    if (layout == Layout::kChannelsLast && n == 3)
      strides_ = {sizes_[1] * sizes_[2], 1, sizes_[1]};
    int64_t span = 1;
    for (int d = 0; d < n; ++d) {
      if (sizes_[d] == 0) span = 0;
      if (span) span += (sizes_[d] - 1) * strides_[d];
    }
    if (n == 0) span = 1;
    elements_ = span;
    buffer_ = std::make_unique<sg_emu::GuardedBuffer>(std::max<int64_t>(span, 1) * elem_bytes(), label);
  }

  TensorView view() const {
    TensorView v;
    v.data = elements_ ? buffer_->data() : nullptr;
    v.dtype = dtype_;
    v.ndim = int(sizes_.size());
    for (int d = 0; d < v.ndim; ++d) {
      v.sizes[d] = sizes_[d];
      v.strides[d] = strides_[d];
    }
    return v;
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : sizes_) n *= s;
    return n;
  }
  int64_t offset_of(int64_t i) const {
    int64_t off = 0;
    for (int d = int(sizes_.size()) - 1; d >= 0; --d) {
      off += (i % sizes_[d]) * strides_[d];
      i /= sizes_[d];
    }
    return off;
  }
  double get(int64_t i) const { return read(offset_of(i)); }
  void set(int64_t i, double v) { write(offset_of(i), v); }
  std::vector<double> values() const {
    std::vector<double> v(numel());
    for (int64_t i = 0; i < numel(); ++i) v[i] = get(i);
    return v;
  }
  void set_values(const std::vector<double>& v) {
    for (int64_t i = 0; i < numel(); ++i) set(i, v[i]);
  }
  // Values in [-scale, scale] rounded to the dtype; returns what was stored.
  std::vector<double> fill_random(std::mt19937_64& rng, double scale) {
    std::uniform_real_distribution<double> dist(-scale, scale);
    for (int64_t i = 0; i < numel(); ++i) set(i, dist(rng));
    return values();
  }
  std::vector<unsigned char> bytes() const {
    const auto* p = static_cast<const unsigned char*>(buffer_->data());
    return std::vector<unsigned char>(p, p + elements_ * elem_bytes());
  }
  DType dtype() const { return dtype_; }

 private:
  std::size_t elem_bytes() const { return serengeti::dtype_size(dtype_); }
  double read(int64_t e) const {
    namespace ref = short_conv_reference;
    const unsigned char* p = static_cast<const unsigned char*>(buffer_->data()) + e * elem_bytes();
    switch (dtype_) {
      case DType::kFloat64: { double v; std::memcpy(&v, p, 8); return v; }
      case DType::kFloat32: { float v; std::memcpy(&v, p, 4); return v; }
      case DType::kFloat16: { uint16_t v; std::memcpy(&v, p, 2); return ref::half_bits_to_float(v); }
      case DType::kBFloat16: { uint16_t v; std::memcpy(&v, p, 2); return ref::bf16_bits_to_float(v); }
    }
    return NAN;
  }
  void write(int64_t e, double value) {
    namespace ref = short_conv_reference;
    unsigned char* p = static_cast<unsigned char*>(buffer_->data()) + e * elem_bytes();
    switch (dtype_) {
      case DType::kFloat64: std::memcpy(p, &value, 8); return;
      case DType::kFloat32: { const float v = float(value); std::memcpy(p, &v, 4); return; }
      case DType::kFloat16: { const uint16_t v = ref::float_to_half_bits(float(value)); std::memcpy(p, &v, 2); return; }
      case DType::kBFloat16: { const uint16_t v = ref::float_to_bf16_bits(float(value)); std::memcpy(p, &v, 2); return; }
    }
  }

  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> sizes_, strides_;
  int64_t elements_ = 0;
  std::unique_ptr<sg_emu::GuardedBuffer> buffer_;
};

}  // namespace modal_test
