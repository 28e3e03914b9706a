#include "cpu/fftconv/validate_params.h"

#include "serengeti/error.h"

namespace serengeti::cpu::fftconv {
namespace {

// The FFT engine goes up to N = 2^24, i.e. L <= 2^23 (N >= 2L - 1).
constexpr int64_t kMaxLength = int64_t(1) << 23;

// The filter / compute dtype that goes with an activation dtype.
DType filter_dtype_for(DType activation) {
  return activation == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
}

void check_sizes(const TensorView& v, const char* name, int ndim, const int64_t* sizes) {
  SG_CHECK_ARG(v.ndim == ndim, name, ": expected ", ndim, " dims, got ", v.ndim);
  for (int d = 0; d < ndim; ++d)
    SG_CHECK_ARG(v.sizes[d] == sizes[d], name, ": expected size ", sizes[d], " in dim ", d,
                 ", got ", v.sizes[d]);
  for (int d = 0; d < ndim; ++d)
    SG_CHECK_ARG(v.strides[d] >= 0, name, ": negative strides are not supported");
}

void check_dtype(const TensorView& v, const char* name, DType expected) {
  SG_CHECK_ARG(v.dtype == expected, name, ": expected dtype ", dtype_name(expected), ", got ",
               dtype_name(v.dtype));
}

// Outputs must not alias themselves through a zero stride.
void check_writable(const TensorView& v, const char* name) {
  for (int d = 0; d < v.ndim; ++d)
    SG_CHECK_ARG(v.sizes[d] <= 1 || v.strides[d] != 0, name,
                 ": an output cannot have a zero (broadcast) stride");
}

void check_activation(const TensorView& v, const char* name, const ConvShape& s, DType dtype,
                      bool output) {
  if (!v.present()) return;
  const int64_t sizes[3] = {s.batch, s.channels, s.length};
  check_sizes(v, name, 3, sizes);
  check_dtype(v, name, dtype);
  if (output) check_writable(v, name);
}

void check_spectrum(const TensorView& v, const char* name, const ConvShape& s, DType dtype) {
  const int64_t sizes[4] = {s.groups(), s.fft_size / 2, 2, 8};
  check_sizes(v, name, 4, sizes);
  check_dtype(v, name, dtype);
  SG_CHECK_ARG(v.contiguous(), name, ": must be contiguous");
}

void check_filter_taps(const TensorView& v, const char* name, const ConvShape& s, DType dtype,
                       bool output) {
  const int64_t sizes[2] = {s.channels, s.taps};
  check_sizes(v, name, 2, sizes);
  check_dtype(v, name, dtype);
  if (output) check_writable(v, name);
}

void check_skip(const TensorView& v, const char* name, const ConvShape& s, DType dtype,
                bool output) {
  if (!v.present()) return;
  const int64_t sizes[1] = {s.channels};
  check_sizes(v, name, 1, sizes);
  check_dtype(v, name, dtype);
  if (output) check_writable(v, name);
}

void check_length(int64_t length, const char* name) {
  SG_CHECK_ARG(length >= 1, name, ": sequence length must be >= 1, got ", length);
  SG_CHECK_ARG(length <= kMaxLength, name, ": sequence length ", length, " exceeds the maximum ",
               kMaxLength);
}

// Sizes from u, then the filter arguments (k xor k_f, D) shared by forward and backward.
ConvShape shape_from_inputs(const TensorView& u, const TensorView& k, const TensorView& k_f,
                            const TensorView& D, bool bidirectional) {
  SG_CHECK_ARG(u.present(), "u: required");
  SG_CHECK_ARG(u.ndim == 3, "u: expected 3 dims (B, H, L), got ", u.ndim);
  ConvShape s;
  s.batch = u.sizes[0];
  s.channels = u.sizes[1];
  s.length = u.sizes[2];
  SG_CHECK_ARG(s.batch >= 0 && s.channels >= 0, "u: negative size");
  check_length(s.length, "u");
  s.fft_size = fftconv_fft_size(s.length);
  s.bidirectional = bidirectional;
  const int64_t sizes[3] = {s.batch, s.channels, s.length};
  check_sizes(u, "u", 3, sizes);
  const DType filter_dtype = filter_dtype_for(u.dtype);
  SG_CHECK_ARG(k.present() != k_f.present(), "k, k_f: exactly one of k and k_f must be given");
  if (k.present()) {
    SG_CHECK_ARG(k.ndim == 2, "k: expected 2 dims (H, Lk), got ", k.ndim);
    s.taps = k.sizes[1];
    SG_CHECK_ARG(s.taps >= 1, "k: filter length must be >= 1, got ", s.taps);
    check_filter_taps(k, "k", s, filter_dtype, false);
  } else {
    check_spectrum(k_f, "k_f", s, filter_dtype);
  }
  check_skip(D, "D", s, filter_dtype, false);
  return s;
}

}  // namespace

ConvShape validate_forward(const FftConvForwardParams& p) {
  const ConvShape s = shape_from_inputs(p.u, p.k, p.k_f, p.D, p.bidirectional);
  const DType dtype = p.u.dtype;
  check_activation(p.pregate, "pregate", s, dtype, false);
  check_activation(p.postgate, "postgate", s, dtype, false);
  SG_CHECK_ARG(p.y.present(), "y: required");
  check_activation(p.y, "y", s, dtype, true);
  return s;
}

ConvShape validate_backward(const FftConvBackwardParams& p) {
  const ConvShape s = shape_from_inputs(p.u, p.k, p.k_f, p.D, p.bidirectional);
  const DType dtype = p.u.dtype;
  const DType filter_dtype = filter_dtype_for(dtype);
  check_activation(p.pregate, "pregate", s, dtype, false);
  check_activation(p.postgate, "postgate", s, dtype, false);
  SG_CHECK_ARG(p.dy.present(), "dy: required");
  check_activation(p.dy, "dy", s, dtype, false);
  check_activation(p.du, "du", s, dtype, true);
  SG_CHECK_ARG(!p.dpregate.present() || p.pregate.present(), "dpregate: requested without pregate");
  check_activation(p.dpregate, "dpregate", s, dtype, true);
  SG_CHECK_ARG(!p.dpostgate.present() || p.postgate.present(),
               "dpostgate: requested without postgate");
  check_activation(p.dpostgate, "dpostgate", s, dtype, true);
  if (p.dk.present()) {
    SG_CHECK_ARG(p.k.present(), "dk: requested without k (use dk_f with k_f)");
    check_filter_taps(p.dk, "dk", s, filter_dtype, true);
  }
  if (p.dk_f.present()) {
    SG_CHECK_ARG(p.k_f.present(), "dk_f: requested without k_f (use dk with k)");
    check_spectrum(p.dk_f, "dk_f", s, filter_dtype);
  }
  SG_CHECK_ARG(!p.dD.present() || p.D.present(), "dD: requested without D");
  check_skip(p.dD, "dD", s, filter_dtype, true);
  return s;
}

ConvShape validate_filter_forward(const FftFilterParams& p) {
  SG_CHECK_ARG(p.k.present(), "k: required");
  SG_CHECK_ARG(p.k.ndim == 2, "k: expected 2 dims (H, Lk), got ", p.k.ndim);
  SG_CHECK_ARG(p.k.dtype == DType::kFloat32 || p.k.dtype == DType::kFloat64,
               "k: expected dtype float32 or float64, got ", dtype_name(p.k.dtype));
  check_length(p.length, "length");
  ConvShape s;
  s.channels = p.k.sizes[0];
  s.taps = p.k.sizes[1];
  s.length = p.length;
  s.fft_size = fftconv_fft_size(p.length);
  s.bidirectional = p.bidirectional;
  SG_CHECK_ARG(s.channels >= 0, "k: negative size");
  SG_CHECK_ARG(s.taps >= 1, "k: filter length must be >= 1, got ", s.taps);
  check_filter_taps(p.k, "k", s, p.k.dtype, false);
  SG_CHECK_ARG(p.k_f.present(), "k_f: required");
  check_spectrum(p.k_f, "k_f", s, p.k.dtype);
  return s;
}

ConvShape validate_filter_backward(const FftFilterBackwardParams& p) {
  SG_CHECK_ARG(p.dk_f.present(), "dk_f: required");
  SG_CHECK_ARG(p.dk.present(), "dk: required");
  SG_CHECK_ARG(p.dk.ndim == 2, "dk: expected 2 dims (H, Lk), got ", p.dk.ndim);
  SG_CHECK_ARG(p.dk.dtype == DType::kFloat32 || p.dk.dtype == DType::kFloat64,
               "dk: expected dtype float32 or float64, got ", dtype_name(p.dk.dtype));
  check_length(p.length, "length");
  ConvShape s;
  s.channels = p.dk.sizes[0];
  s.taps = p.dk.sizes[1];
  s.length = p.length;
  s.fft_size = fftconv_fft_size(p.length);
  s.bidirectional = p.bidirectional;
  SG_CHECK_ARG(s.channels >= 0, "dk: negative size");
  SG_CHECK_ARG(s.taps >= 1, "dk: filter length must be >= 1, got ", s.taps);
  check_filter_taps(p.dk, "dk", s, p.dk.dtype, true);
  check_spectrum(p.dk_f, "dk_f", s, p.dk.dtype);
  return s;
}

}  // namespace serengeti::cpu::fftconv
