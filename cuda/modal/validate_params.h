// Validation the modal CUDA launchers rely on, on top of the shared modal_checks (shapes, filter
// dtypes, layouts): a launcher must never index out of bounds or reinterpret memory because a
// params struct was filled inconsistently from C++. Throws serengeti::InvalidArgument naming the op
// and the argument. Host only.
#pragma once

#include <cstdint>

#include "cpu/modal/modal_checks.h"
#include "cuda/emu/sg_launch.h"
#include "serengeti/error.h"
#include "serengeti/modal.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {
namespace validate {

inline void known_dtype(const char* op, const TensorView& v, const char* name) {
  const DType d = v.dtype;
  SG_CHECK_ARG(d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 ||
                   d == DType::kBFloat16,
               op, ": ", name, ": unsupported dtype code ", int(d));
}

inline void same_dtype(const char* op, const TensorView& v, const char* name, DType want) {
  if (!v.present()) return;
  SG_CHECK_ARG(v.dtype == want, op, ": ", name, ": expected dtype ", dtype_name(want), ", got ",
               dtype_name(v.dtype));
}

// Poles, residues, states and D are float32, or float64 with float64 activations.
inline DType filter_dtype(DType activations) {
  return activations == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
}

// An output must not broadcast: elements sharing an address would be written by racing threads.
inline void writable(const char* op, const TensorView& v, const char* name) {
  if (!v.present() || v.numel() == 0) return;
  for (int d = 0; d < v.ndim; ++d)
    SG_CHECK_ARG(v.sizes[d] <= 1 || v.strides[d] != 0, op, ": ", name, ": output has stride 0 along dim ",
                 d, " (size ", v.sizes[d], "); it must not be a broadcast view");
}

inline void nonnegative_strides(const char* op, const TensorView& v, const char* name) {
  if (!v.present()) return;
  for (int d = 0; d < v.ndim; ++d)
    SG_CHECK_ARG(v.strides[d] >= 0, op, ": ", name, ": negative stride along dim ", d);
}

// The gated kernels split a (b, d) row index with 32-bit division (gated_layout.cuh).
inline void rows_fit(const char* op, int64_t batch, int64_t channels) {
  constexpr int64_t kMaxRows = (int64_t(1) << 32) - 1;
  SG_CHECK_ARG(channels == 0 || batch <= kMaxRows / channels, op, ": z: the CUDA kernels take at most ", kMaxRows,
               " (batch, channel) rows B * D, got B = ", batch, ", D = ", channels);
}

inline void modes_fit(const char* op, int64_t S, int64_t max_modes) {
  SG_CHECK_ARG(S <= max_modes, op, ": poles: the CUDA kernels hold at most ", max_modes,
               " modes per channel in shared memory, got S = ", S);
}

}  // namespace validate
}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
