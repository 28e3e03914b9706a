// Validation of the fftconv params the CUDA launchers rely on (the dispatcher validates with the
// CPU rules too, but a launcher must never index out of bounds because a params struct was filled
// inconsistently), plus this backend's own limits. Throws serengeti::InvalidArgument whose message
// starts with the argument's name. Host only, header only (the kernel library does not link the
// CPU one).
#pragma once

#include <cstdint>
#include <string>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/plan.cuh"
#include "serengeti/error.h"
#include "serengeti/fftconv.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace validate {

// N = 2^23 (the largest transform of the plan): L up to 4,194,304.
constexpr int64_t kMaxLength = int64_t(1) << (kMaxLog2Size);

struct Shape {
  int64_t batch = 0, channels = 0, length = 0, taps = 0;
  int log2_m = 0;  // M = N / 2
  bool bidirectional = false;
  int64_t m() const { return int64_t(1) << log2_m; }
  int64_t padded_channels() const { return (channels + 7) / 8 * 8; }
};

inline int log2_half_fft_size(int64_t length) {
  const int64_t n = fftconv_fft_size(length);
  int log2n = 0;
  while ((int64_t(1) << log2n) < n) ++log2n;
  return log2n - 1;
}

inline void sizes(const TensorView& v, const char* name, int ndim, const int64_t* want) {
  SG_CHECK_ARG(v.ndim == ndim, name, ": expected ", ndim, " dims, got ", v.ndim);
  for (int d = 0; d < ndim; ++d) {
    SG_CHECK_ARG(v.sizes[d] == want[d], name, ": expected size ", want[d], " in dim ", d, ", got ",
                 v.sizes[d]);
    SG_CHECK_ARG(v.strides[d] >= 0, name, ": negative strides are not supported");
  }
}

inline void dtype(const TensorView& v, const char* name, DType want) {
  SG_CHECK_ARG(v.dtype == want, name, ": expected dtype ", dtype_name(want), ", got ", dtype_name(v.dtype));
}

inline void writable(const TensorView& v, const char* name) {
  for (int d = 0; d < v.ndim; ++d)
    SG_CHECK_ARG(v.sizes[d] <= 1 || v.strides[d] != 0, name,
                 ": an output cannot have a zero (broadcast) stride");
}

inline void length(int64_t l, const char* name) {
  SG_CHECK_ARG(l >= 1, name, ": sequence length must be >= 1, got ", l);
  SG_CHECK_ARG(l <= kMaxLength, name, ": sequence length ", l,
               " exceeds the CUDA backend's maximum ", kMaxLength);
}

inline void activation(const TensorView& v, const char* name, const Shape& s, DType want, bool output) {
  if (!v.present()) return;
  const int64_t want_sizes[3] = {s.batch, s.channels, s.length};
  sizes(v, name, 3, want_sizes);
  dtype(v, name, want);
  if (output) writable(v, name);
}

inline void spectrum(const TensorView& v, const char* name, const Shape& s) {
  const int64_t want[4] = {s.padded_channels() / 8, s.m(), 2, 8};
  sizes(v, name, 4, want);
  dtype(v, name, DType::kFloat32);
  SG_CHECK_ARG(v.contiguous(), name, ": must be contiguous");
}

inline void taps(const TensorView& v, const char* name, const Shape& s, bool output) {
  const int64_t want[2] = {s.channels, s.taps};
  sizes(v, name, 2, want);
  dtype(v, name, DType::kFloat32);
  if (output) writable(v, name);
}

inline void skip(const TensorView& v, const char* name, const Shape& s, bool output) {
  if (!v.present()) return;
  const int64_t want[1] = {s.channels};
  sizes(v, name, 1, want);
  dtype(v, name, DType::kFloat32);
  if (output) writable(v, name);
}

// u and the filter arguments shared by forward and backward.
inline Shape conv_inputs(const TensorView& u, const TensorView& k, const TensorView& k_f,
                         const TensorView& D, bool bidirectional) {
  SG_CHECK_ARG(u.present(), "u: required");
  SG_CHECK_ARG(u.ndim == 3, "u: expected 3 dims (B, H, L), got ", u.ndim);
  SG_CHECK_ARG(u.dtype == DType::kFloat32 || u.dtype == DType::kFloat16 || u.dtype == DType::kBFloat16,
               "u: the CUDA fftconv takes float32, float16 or bfloat16 activations, got ",
               dtype_name(u.dtype), " (float64 runs on the cpu backend)");
  Shape s;
  s.batch = u.sizes[0];
  s.channels = u.sizes[1];
  s.length = u.sizes[2];
  s.bidirectional = bidirectional;
  SG_CHECK_ARG(s.batch >= 0 && s.channels >= 0, "u: negative size");
  length(s.length, "u");
  s.log2_m = log2_half_fft_size(s.length);
  activation(u, "u", s, u.dtype, false);
  SG_CHECK_ARG(k.present() != k_f.present(), "k, k_f: exactly one of k and k_f must be given");
  if (k.present()) {
    SG_CHECK_ARG(k.ndim == 2, "k: expected 2 dims (H, Lk), got ", k.ndim);
    s.taps = k.sizes[1];
    SG_CHECK_ARG(s.taps >= 1, "k: filter length must be >= 1, got ", s.taps);
    taps(k, "k", s, false);
  } else {
    spectrum(k_f, "k_f", s);
  }
  skip(D, "D", s, false);
  return s;
}

inline Shape forward(const FftConvForwardParams& p) {
  const Shape s = conv_inputs(p.u, p.k, p.k_f, p.D, p.bidirectional);
  activation(p.pregate, "pregate", s, p.u.dtype, false);
  activation(p.postgate, "postgate", s, p.u.dtype, false);
  SG_CHECK_ARG(p.y.present(), "y: required");
  activation(p.y, "y", s, p.u.dtype, true);
  return s;
}

inline Shape backward(const FftConvBackwardParams& p) {
  const Shape s = conv_inputs(p.u, p.k, p.k_f, p.D, p.bidirectional);
  const DType d = p.u.dtype;
  activation(p.pregate, "pregate", s, d, false);
  activation(p.postgate, "postgate", s, d, false);
  SG_CHECK_ARG(p.dy.present(), "dy: required");
  activation(p.dy, "dy", s, d, false);
  activation(p.du, "du", s, d, true);
  SG_CHECK_ARG(!p.dpregate.present() || p.pregate.present(), "dpregate: requested without pregate");
  activation(p.dpregate, "dpregate", s, d, true);
  SG_CHECK_ARG(!p.dpostgate.present() || p.postgate.present(), "dpostgate: requested without postgate");
  activation(p.dpostgate, "dpostgate", s, d, true);
  if (p.dk.present()) {
    SG_CHECK_ARG(p.k.present(), "dk: requested without k (use dk_f with k_f)");
    taps(p.dk, "dk", s, true);
  }
  if (p.dk_f.present()) {
    SG_CHECK_ARG(p.k_f.present(), "dk_f: requested without k_f (use dk with k)");
    spectrum(p.dk_f, "dk_f", s);
  }
  SG_CHECK_ARG(!p.dD.present() || p.D.present(), "dD: requested without D");
  skip(p.dD, "dD", s, true);
  return s;
}

inline Shape filter_shape(const TensorView& k, const char* name, int64_t l, bool bidirectional) {
  SG_CHECK_ARG(k.present(), name, ": required");
  SG_CHECK_ARG(k.ndim == 2, name, ": expected 2 dims (H, Lk), got ", k.ndim);
  length(l, "length");
  Shape s;
  s.channels = k.sizes[0];
  s.taps = k.sizes[1];
  s.length = l;
  s.bidirectional = bidirectional;
  s.log2_m = log2_half_fft_size(l);
  SG_CHECK_ARG(s.channels >= 0, name, ": negative size");
  SG_CHECK_ARG(s.taps >= 1, name, ": filter length must be >= 1, got ", s.taps);
  return s;
}

inline Shape filter_forward(const FftFilterParams& p) {
  const Shape s = filter_shape(p.k, "k", p.length, p.bidirectional);
  taps(p.k, "k", s, false);
  SG_CHECK_ARG(p.k_f.present(), "k_f: required");
  spectrum(p.k_f, "k_f", s);
  return s;
}

inline Shape filter_backward(const FftFilterBackwardParams& p) {
  SG_CHECK_ARG(p.dk_f.present(), "dk_f: required");
  const Shape s = filter_shape(p.dk, "dk", p.length, p.bidirectional);
  taps(p.dk, "dk", s, true);
  spectrum(p.dk_f, "dk_f", s);
  return s;
}

inline void workspace(void* data, int64_t bytes, int64_t needed) {
  SG_CHECK_ARG(bytes >= needed, "workspace: expected at least ", needed, " bytes, got ", bytes);
  SG_CHECK_ARG(needed == 0 || data != nullptr, "workspace: required (", needed, " bytes) but absent");
}

}  // namespace validate
}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
