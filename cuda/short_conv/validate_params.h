// Validation of the short-conv params the CUDA launchers rely on (the dispatcher validates too, but
// a launcher must never index out of bounds because a params struct was filled inconsistently).
// Throws serengeti::InvalidArgument whose message starts with the argument's name. Host only.
#pragma once

#include <cstdint>
#include <string>

#include "cuda/emu/sg_launch.h"
#include "serengeti/error.h"
#include "serengeti/short_conv.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {
namespace validate {

constexpr int64_t kMaxTapCount = 128;

// Given: has data, or describes an empty tensor (torch may hand a null pointer for zero elements,
// e.g. the (B, C, 0) state of a K = 1 filter).
inline bool given(const TensorView& v) { return v.present() || v.ndim > 0; }

inline std::string shape_of(const TensorView& v) {
  std::string s = "(";
  for (int d = 0; d < v.ndim; ++d) s += (d ? ", " : "") + std::to_string(v.sizes[d]);
  return s + (v.ndim == 1 ? ",)" : ")");
}

inline void known_dtype(const TensorView& v, const char* name) {
  const DType d = v.dtype;
  SG_CHECK_ARG(d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 ||
                   d == DType::kBFloat16,
               name, ": unsupported dtype code ", int(d));
}

inline void shape(const TensorView& v, const char* name, int64_t s0, int64_t s1, int64_t s2,
                  int ndim, const char* meaning) {
  const int64_t want[3] = {s0, s1, s2};
  bool ok = v.ndim == ndim;
  for (int d = 0; ok && d < ndim; ++d) ok = v.sizes[d] == want[d];
  std::string expected = "(";
  for (int d = 0; d < ndim; ++d) expected += (d ? ", " : "") + std::to_string(want[d]);
  expected += ndim == 1 ? ",)" : ")";
  SG_CHECK_ARG(ok, name, ": expected shape ", expected, " ", meaning, ", got ", shape_of(v));
  for (int d = 0; d < ndim; ++d)
    SG_CHECK_ARG(v.strides[d] >= 0, name, ": negative stride along dim ", d);
}

// An output must not broadcast: elements sharing an address would be written by racing threads.
// An empty output has nothing to write, whatever its strides.
inline void writable(const TensorView& v, const char* name) {
  if (v.numel() == 0) return;
  for (int d = 0; d < v.ndim; ++d)
    SG_CHECK_ARG(v.sizes[d] <= 1 || v.strides[d] != 0, name, ": output has stride 0 along dim ", d,
                 " (size ", v.sizes[d], "); it must not be a broadcast view");
}

inline void required(const TensorView& v, const char* name) {
  SG_CHECK_ARG(v.present() || (v.ndim > 0 && v.numel() == 0), name, ": required but absent");
}

// x (B, C, L), weight (C, K), optional bias (C,); returns K.
inline int64_t x_weight_bias(const TensorView& x, const TensorView& weight, const TensorView& bias) {
  required(x, "x");
  SG_CHECK_ARG(x.ndim == 3, "x: expected 3 dims (B, C, L), got ", x.ndim, " dims");
  shape(x, "x", x.sizes[0], x.sizes[1], x.sizes[2], 3, "(B, C, L)");
  known_dtype(x, "x");
  required(weight, "weight");
  SG_CHECK_ARG(weight.ndim == 2, "weight: expected 2 dims (C, K), got ", weight.ndim, " dims");
  const int64_t K = weight.sizes[1];
  SG_CHECK_ARG(K >= 1 && K <= kMaxTapCount, "weight: expected 1 <= K <= ", kMaxTapCount,
               " taps, got K = ", K);
  shape(weight, "weight", x.sizes[1], K, 0, 2, "(C, K)");
  known_dtype(weight, "weight");
  if (given(bias)) {
    shape(bias, "bias", x.sizes[1], 0, 0, 1, "(C,)");
    known_dtype(bias, "bias");
  }
  return K;
}

inline void like_x(const TensorView& v, const char* name, const TensorView& x, bool output) {
  shape(v, name, x.sizes[0], x.sizes[1], x.sizes[2], 3, "(B, C, L) like x");
  SG_CHECK_ARG(v.dtype == x.dtype, name, ": expected x's dtype ", dtype_name(x.dtype), ", got ",
               dtype_name(v.dtype));
  if (output) writable(v, name);
}

inline void state(const TensorView& v, const char* name, const TensorView& x, int64_t K, bool output) {
  if (!given(v)) return;
  shape(v, name, x.sizes[0], x.sizes[1], K - 1, 3, "(B, C, K-1)");
  SG_CHECK_ARG(v.dtype == x.dtype, name, ": expected x's dtype ", dtype_name(x.dtype), ", got ",
               dtype_name(v.dtype));
  if (output) writable(v, name);
}

}  // namespace validate
}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
