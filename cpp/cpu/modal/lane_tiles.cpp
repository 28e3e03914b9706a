// Tile gathers and scatters (lane_tiles.h). Per lane a contiguous run when the time stride is 1;
// the conversion switch is hoisted out of the sample loop.
#include "cpu/modal/lane_tiles.h"

#include "cpu/fftconv/element_convert.h"

namespace serengeti::cpu::modal {
namespace {

template <class T, class Load>
void gather_with(const LaneRows& rows, int64_t t0, int64_t len, T* tile, Load load) {
  for (int l = 0; l < kLanes; ++l) {
    if (!rows.rows[l]) {
      for (int64_t t = 0; t < len; ++t) tile[t * kLanes + l] = T(0);
      continue;
    }
    for (int64_t t = 0; t < len; ++t) tile[t * kLanes + l] = load(rows.rows[l], (t0 + t) * rows.stride);
  }
}

}  // namespace

LaneRows lane_rows(const TensorView& v, int64_t b, int64_t c0) {
  LaneRows rows;
  rows.dtype = v.dtype;
  rows.stride = v.strides[2];
  const int64_t elem = int64_t(dtype_size(v.dtype));
  for (int l = 0; l < kLanes; ++l)
    if (c0 + l < v.sizes[1])
      rows.rows[l] = static_cast<char*>(v.data) + (b * v.strides[0] + (c0 + l) * v.strides[1]) * elem;
  return rows;
}

template <class T>
void gather_tile(const LaneRows& rows, int64_t t0, int64_t len, T* tile) {
  using namespace fftconv;
  switch (rows.dtype) {
    case DType::kFloat32:
      return gather_with(rows, t0, len, tile, [](const void* p, int64_t i) { return T(static_cast<const float*>(p)[i]); });
    case DType::kFloat64:
      return gather_with(rows, t0, len, tile, [](const void* p, int64_t i) { return T(static_cast<const double*>(p)[i]); });
    case DType::kFloat16:
      return gather_with(rows, t0, len, tile, [](const void* p, int64_t i) { return T(half_to_float(static_cast<const uint16_t*>(p)[i])); });
    case DType::kBFloat16:
      return gather_with(rows, t0, len, tile, [](const void* p, int64_t i) { return T(bf16_to_float(static_cast<const uint16_t*>(p)[i])); });
  }
}

template <class T>
void scatter_tile(const LaneRows& rows, int64_t t0, int64_t len, const T* tile) {
  for (int l = 0; l < kLanes; ++l) {
    if (!rows.rows[l]) continue;
    void* row = rows.rows[l];
    switch (rows.dtype) {
      case DType::kFloat32:
        for (int64_t t = 0; t < len; ++t) static_cast<float*>(row)[(t0 + t) * rows.stride] = float(tile[t * kLanes + l]);
        break;
      default:
        for (int64_t t = 0; t < len; ++t)
          fftconv::store_element<T>(row, rows.dtype, (t0 + t) * rows.stride, tile[t * kLanes + l]);
    }
  }
}

template void gather_tile<float>(const LaneRows&, int64_t, int64_t, float*);
template void gather_tile<double>(const LaneRows&, int64_t, int64_t, double*);
template void scatter_tile<float>(const LaneRows&, int64_t, int64_t, const float*);
template void scatter_tile<double>(const LaneRows&, int64_t, int64_t, const double*);

}  // namespace serengeti::cpu::modal
