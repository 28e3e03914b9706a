#include "cpu/fftconv/lane_io.h"

#include <cstring>
#include <type_traits>

#include "cpu/fftconv/element_convert.h"
#include "cpu/simd/cpu_features.h"
#include "serengeti/error.h"

#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
#include "cpu/fftconv/lane_io_avx2.h"
#endif

namespace serengeti::cpu::fftconv {
namespace {

// Storage type -> compute type, resolved at compile time so the inner loops carry no switch.
template <DType D> struct Storage;
template <> struct Storage<DType::kFloat32> {
  using Raw = float;
  static float widen(Raw r) { return r; }
  static Raw narrow(double v) { return float(v); }
};
template <> struct Storage<DType::kFloat64> {
  using Raw = double;
  static double widen(Raw r) { return r; }
  static Raw narrow(double v) { return v; }
};
template <> struct Storage<DType::kFloat16> {
  using Raw = uint16_t;
  static float widen(Raw r) { return half_to_float(r); }
  static Raw narrow(double v) { return float_to_half(float(v)); }
};
template <> struct Storage<DType::kBFloat16> {
  using Raw = uint16_t;
  static float widen(Raw r) { return bf16_to_float(r); }
  static Raw narrow(double v) { return float_to_bf16(float(v)); }
};

template <class T, DType D>
void load_rows(T* buf, const LaneRows& src, const LaneRows& gate, int lanes, int64_t count) {
  using S = Storage<D>;
  for (int l = 0; l < lanes; ++l) {
    const auto* s = static_cast<const typename S::Raw*>(src.data) + l * src.lane_stride;
    if (gate.present()) {
      const auto* g = static_cast<const typename S::Raw*>(gate.data) + l * gate.lane_stride;
      for (int64_t t = 0; t < count; ++t)
        buf[t * 8 + l] = T(S::widen(s[t * src.t_stride])) * T(S::widen(g[t * gate.t_stride]));
    } else {
      for (int64_t t = 0; t < count; ++t) buf[t * 8 + l] = T(S::widen(s[t * src.t_stride]));
    }
  }
}

template <class T, DType D>
void store_rows(const MutableLaneRows& dst, const T* buf, const LaneRows& gate, int lanes,
                int64_t count) {
  using S = Storage<D>;
  for (int l = 0; l < lanes; ++l) {
    auto* d = static_cast<typename S::Raw*>(dst.data) + l * dst.lane_stride;
    if (gate.present()) {
      const auto* g = static_cast<const typename S::Raw*>(gate.data) + l * gate.lane_stride;
      for (int64_t t = 0; t < count; ++t)
        d[t * dst.t_stride] = S::narrow(buf[t * 8 + l] * T(S::widen(g[t * gate.t_stride])));
    } else {
      for (int64_t t = 0; t < count; ++t) d[t * dst.t_stride] = S::narrow(buf[t * 8 + l]);
    }
  }
}

#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
bool use_avx2(DType dtype, int64_t t_stride, const LaneRows& gate) {
  // Asked on every call (cheap): tests flip set_force_portable() to run both paths.
  return avx2_enabled() && avx2::handles_dtype(dtype) && t_stride == 1 &&
         (!gate.present() || gate.t_stride == 1);
}
#endif

}  // namespace

template <class T>
void load_lanes(T* buf, const LaneRows& src, const LaneRows& gate, int lanes, int64_t count) {
  SG_CHECK_INTERNAL(!gate.present() || gate.dtype == src.dtype, "load_lanes: gate dtype mismatch");
  SG_CHECK_INTERNAL(lanes >= 0 && lanes <= 8, "load_lanes: bad lane count");
  if (count <= 0) return;
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2(src.dtype, src.t_stride, gate)) {
      avx2::load_lanes_unit_stride(buf, src.data, src.dtype, src.lane_stride, gate.data,
                                   gate.dtype, gate.lane_stride, lanes, count);
      return;
    }
  }
#endif
  switch (src.dtype) {
    case DType::kFloat32: load_rows<T, DType::kFloat32>(buf, src, gate, lanes, count); break;
    case DType::kFloat64: load_rows<T, DType::kFloat64>(buf, src, gate, lanes, count); break;
    case DType::kFloat16: load_rows<T, DType::kFloat16>(buf, src, gate, lanes, count); break;
    case DType::kBFloat16: load_rows<T, DType::kBFloat16>(buf, src, gate, lanes, count); break;
  }
  for (int l = lanes; l < 8; ++l)
    for (int64_t t = 0; t < count; ++t) buf[t * 8 + l] = T(0);
}

template <class T>
void store_lanes(const MutableLaneRows& dst, const T* buf, const LaneRows& gate, int lanes,
                 int64_t count) {
  SG_CHECK_INTERNAL(!gate.present() || gate.dtype == dst.dtype, "store_lanes: gate dtype mismatch");
  if (count <= 0 || lanes <= 0) return;
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2(dst.dtype, dst.t_stride, gate)) {
      avx2::store_lanes_unit_stride(dst.data, dst.dtype, dst.lane_stride, buf, gate.data,
                                    gate.dtype, gate.lane_stride, lanes, count);
      return;
    }
  }
#endif
  switch (dst.dtype) {
    case DType::kFloat32: store_rows<T, DType::kFloat32>(dst, buf, gate, lanes, count); break;
    case DType::kFloat64: store_rows<T, DType::kFloat64>(dst, buf, gate, lanes, count); break;
    case DType::kFloat16: store_rows<T, DType::kFloat16>(dst, buf, gate, lanes, count); break;
    case DType::kBFloat16: store_rows<T, DType::kBFloat16>(dst, buf, gate, lanes, count); break;
  }
}

void zero_lanes(const MutableLaneRows& dst, int lanes, int64_t count) {
  const int64_t elem = int64_t(dtype_size(dst.dtype));
  for (int l = 0; l < lanes; ++l) {
    char* row = static_cast<char*>(dst.data) + l * dst.lane_stride * elem;
    if (dst.t_stride == 1) {
      std::memset(row, 0, size_t(count * elem));  // all-zero bits are +0 in every dtype
    } else {
      for (int64_t t = 0; t < count; ++t) std::memset(row + t * dst.t_stride * elem, 0, size_t(elem));
    }
  }
}

template void load_lanes<float>(float*, const LaneRows&, const LaneRows&, int, int64_t);
template void load_lanes<double>(double*, const LaneRows&, const LaneRows&, int, int64_t);
template void store_lanes<float>(const MutableLaneRows&, const float*, const LaneRows&, int,
                                 int64_t);
template void store_lanes<double>(const MutableLaneRows&, const double*, const LaneRows&, int,
                                  int64_t);

}  // namespace serengeti::cpu::fftconv
