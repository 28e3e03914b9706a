// Standalone test of the CPU fftconv kernels against a naive float64 direct-sum reference.
//
// Covers every activation dtype (float16 / bfloat16 as raw bits, converted here independently of
// the library), causal and bidirectional filters, k and k_f (from fft_filter_forward), D / pregate
// / postgate on and off, awkward lengths, Lk below / equal to / above L, strided, channels-last and
// broadcast (zero-stride) inputs, both the direct and the FFT path (SERENGETI_FFTCONV_PATH),
// backward against the reference gradients and against exact adjoint identities in float64,
// bitwise determinism across thread counts, and argument validation.
//
// Tolerances (max |ours - reference| / max |reference| per output tensor): float64 1e-9; float32
// 1e-4 (FFT round-off grows like eps * log2 N, ~1e-6 here; 1e-4 leaves room for sums over long
// rows); float16 4e-3 (output rounding alone is 2^-11 ~ 4.9e-4 relative to each element); bfloat16
// 2e-2 (2^-8 ~ 3.9e-3 per element). Gradients of k and D are stored in float32 and use float32's
// bound.
//
// Prints one line per failure and a final "N passed, M failed"; exits nonzero on failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/fftconv/element_convert.h"
#include "cpu/fftconv/lane_io.h"
#include "cpu/simd/cpu_features.h"
#include "serengeti/error.h"
#include "serengeti/fftconv.h"

using namespace serengeti;

namespace {

int g_passed = 0, g_failed = 0;

void report(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s\n", what.c_str());
  }
}

// ---------------------------------------------------------------- float16 / bfloat16, test-side

uint16_t half_bits_from_double(double v) {
  if (std::isnan(v)) return 0x7E00;
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(v);
  if (a >= 65520.0) return sign | 0x7C00;
  if (a < std::ldexp(1.0, -14)) return sign | uint16_t(std::nearbyint(std::ldexp(a, 24)));
  int e = std::ilogb(a);
  double m = std::nearbyint(std::ldexp(a, 10 - e));  // in [1024, 2048]
  if (m == 2048.0) m = 1024.0, ++e;
  if (e > 15) return sign | 0x7C00;
  return sign | uint16_t(((e + 15) << 10) | (int(m) - 1024));
}

double double_from_half_bits(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 0) return sign * std::ldexp(double(m), -24);
  if (e == 31) return m ? NAN : sign * INFINITY;
  return sign * std::ldexp(double(1024 + m), e - 25);
}

uint16_t bf16_bits_from_double(double v) {
  if (std::isnan(v)) return 0x7FC0;
  const float f = float(v);
  if (f == 0.0f) return std::signbit(f) ? 0x8000 : 0;
  const int e = std::max(std::ilogb(f), -126);  // subnormals share the smallest normal's quantum
  const float rounded = float(std::ldexp(std::nearbyint(std::ldexp(double(f), 7 - e)), e - 7));
  uint32_t bits;
  std::memcpy(&bits, &rounded, 4);
  return uint16_t(bits >> 16);
}

double double_from_bf16_bits(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// ---------------------------------------------------------------- host tensors

enum class Layout { kContiguous, kStrided, kChannelsLast, kBroadcastBatch, kBroadcastTime };

struct HostTensor {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> sizes, strides;
  std::vector<unsigned char> storage;
  bool exists = false;

  int64_t offset(const std::vector<int64_t>& index) const {
    int64_t o = 0;
    for (size_t d = 0; d < index.size(); ++d) o += index[d] * strides[d];
    return o;
  }
  double at_offset(int64_t o) const {
    const unsigned char* p = storage.data() + o * int64_t(dtype_size(dtype));
    switch (dtype) {
      case DType::kFloat32: { float v; std::memcpy(&v, p, 4); return v; }
      case DType::kFloat64: { double v; std::memcpy(&v, p, 8); return v; }
      case DType::kFloat16: { uint16_t v; std::memcpy(&v, p, 2); return double_from_half_bits(v); }
      case DType::kBFloat16: { uint16_t v; std::memcpy(&v, p, 2); return double_from_bf16_bits(v); }
    }
    return 0;
  }
  void set_offset(int64_t o, double v) {
    unsigned char* p = storage.data() + o * int64_t(dtype_size(dtype));
    switch (dtype) {
      case DType::kFloat32: { float f = float(v); std::memcpy(p, &f, 4); break; }
      case DType::kFloat64: std::memcpy(p, &v, 8); break;
      case DType::kFloat16: { uint16_t h = half_bits_from_double(v); std::memcpy(p, &h, 2); break; }
      case DType::kBFloat16: { uint16_t h = bf16_bits_from_double(v); std::memcpy(p, &h, 2); break; }
    }
  }
  double operator()(int64_t i) const { return at_offset(i * strides[0]); }
  double operator()(int64_t i, int64_t j) const { return at_offset(i * strides[0] + j * strides[1]); }
  double operator()(int64_t i, int64_t j, int64_t k) const {
    return at_offset(i * strides[0] + j * strides[1] + k * strides[2]);
  }
  void set(int64_t i, int64_t j, double v) { set_offset(i * strides[0] + j * strides[1], v); }
  void set(int64_t i, double v) { set_offset(i * strides[0], v); }
  int64_t physical_elems() const { return int64_t(storage.size() / dtype_size(dtype)); }

  TensorView view() const {
    TensorView v;
    if (!exists) return v;
    v.data = const_cast<unsigned char*>(storage.data());
    v.dtype = dtype;
    v.ndim = int(sizes.size());
    for (int d = 0; d < v.ndim; ++d) v.sizes[d] = sizes[d], v.strides[d] = strides[d];
    return v;
  }
};

HostTensor absent() { return HostTensor(); }

// Strides for a given logical shape and layout (3-d layouts apply to (B, H, L)).
HostTensor make_tensor(DType dtype, std::vector<int64_t> sizes, Layout layout) {
  HostTensor t;
  t.exists = true;
  t.dtype = dtype;
  t.sizes = sizes;
  const size_t nd = sizes.size();
  t.strides.assign(nd, 0);
  int64_t span = 1;
  auto row_major = [&](std::vector<int> order, int64_t inner) {
    // order: dims from innermost to outermost
    int64_t s = inner;
    for (int d : order) {
      t.strides[size_t(d)] = s;
      s *= std::max<int64_t>(sizes[size_t(d)], 1);
    }
    span = s;
  };
  if (nd == 3) {
    switch (layout) {
      case Layout::kContiguous: row_major({2, 1, 0}, 1); break;
      case Layout::kStrided: row_major({2, 1, 0}, 2); break;
      case Layout::kChannelsLast: row_major({1, 2, 0}, 1); break;
      case Layout::kBroadcastBatch:
        row_major({2, 1}, 1);
        t.strides[0] = 0;
        break;
      case Layout::kBroadcastTime:
        row_major({1, 0}, 1);
        t.strides[2] = 0;
        break;
    }
  } else if (nd == 2) {
    switch (layout) {
      case Layout::kStrided: row_major({1, 0}, 3); break;
      case Layout::kChannelsLast: row_major({0, 1}, 1); break;
      default: row_major({1, 0}, 1); break;
    }
  } else {
    std::vector<int> order;
    for (int d = int(nd) - 1; d >= 0; --d) order.push_back(d);
    row_major(order, layout == Layout::kStrided ? 2 : 1);
  }
  t.storage.assign(size_t(std::max<int64_t>(span, 1)) * dtype_size(dtype), 0);
  return t;
}

void fill_random(HostTensor& t, std::mt19937_64& rng, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  for (int64_t i = 0; i < t.physical_elems(); ++i) t.set_offset(i, dist(rng));
}

void fill_nan(HostTensor& t) {
  for (int64_t i = 0; i < t.physical_elems(); ++i) t.set_offset(i, NAN);
}

HostTensor output_like(DType dtype, std::vector<int64_t> sizes, Layout layout) {
  HostTensor t = make_tensor(dtype, sizes, layout);
  fill_nan(t);
  return t;
}

// ---------------------------------------------------------------- reference (float64)

struct Problem {
  int64_t B, H, L, Lk;
  bool bidirectional;
  int64_t centre() const { return bidirectional ? (Lk - 1) / 2 : 0; }
  // Tap index i contributes to y[t] from w[t - s], s = i - c, when reachable.
  bool reachable(int64_t s) const {
    return bidirectional ? (s >= -(L - 1) && s <= L - 1) : (s >= 0 && s <= L - 1);
  }
};

struct Inputs {
  HostTensor u, pregate, postgate, k, D;
};

using Grid = std::vector<double>;  // (B, H, L) row-major
int64_t idx3(const Problem& P, int64_t b, int64_t h, int64_t t) { return (b * P.H + h) * P.L + t; }

Grid gated(const Problem& P, const HostTensor& x, const HostTensor& gate) {
  Grid out(size_t(P.B * P.H * P.L));
  for (int64_t b = 0; b < P.B; ++b)
    for (int64_t h = 0; h < P.H; ++h)
      for (int64_t t = 0; t < P.L; ++t)
        out[size_t(idx3(P, b, h, t))] = x(b, h, t) * (gate.exists ? gate(b, h, t) : 1.0);
  return out;
}

// z = k (*) w + D w  (causal or bidirectional).
Grid conv_ref(const Problem& P, const HostTensor& k, const HostTensor& D, const Grid& w) {
  Grid z(w.size(), 0.0);
  const int64_t c = P.centre();
  for (int64_t b = 0; b < P.B; ++b)
    for (int64_t h = 0; h < P.H; ++h)
      for (int64_t t = 0; t < P.L; ++t) {
        double acc = D.exists ? D(h) * w[size_t(idx3(P, b, h, t))] : 0.0;
        for (int64_t i = 0; i < P.Lk; ++i) {
          const int64_t s = i - c;
          if (!P.reachable(s) || t - s < 0 || t - s >= P.L) continue;
          acc += k(h, i) * w[size_t(idx3(P, b, h, t - s))];
        }
        z[size_t(idx3(P, b, h, t))] = acc;
      }
  return z;
}

// dw = corr(g, k) + D g: the adjoint of conv_ref in w.
Grid corr_ref(const Problem& P, const HostTensor& k, const HostTensor& D, const Grid& g) {
  Grid dw(g.size(), 0.0);
  const int64_t c = P.centre();
  for (int64_t b = 0; b < P.B; ++b)
    for (int64_t h = 0; h < P.H; ++h)
      for (int64_t t = 0; t < P.L; ++t) {
        double acc = D.exists ? D(h) * g[size_t(idx3(P, b, h, t))] : 0.0;
        for (int64_t i = 0; i < P.Lk; ++i) {
          const int64_t s = i - c;
          if (!P.reachable(s) || t + s < 0 || t + s >= P.L) continue;
          acc += k(h, i) * g[size_t(idx3(P, b, h, t + s))];
        }
        dw[size_t(idx3(P, b, h, t))] = acc;
      }
  return dw;
}

// ---------------------------------------------------------------- comparison

double tolerance_for(DType dtype) {
  switch (dtype) {
    case DType::kFloat64: return 1e-9;
    case DType::kFloat32: return 1e-4;
    case DType::kFloat16: return 4e-3;
    case DType::kBFloat16: return 2e-2;
  }
  return 0;
}

// max |got - want| / max |want| over a (B, H, L) output; NaN (unwritten) fails.
double grid_error(const Problem& P, const HostTensor& got, const Grid& want) {
  double max_err = 0, max_ref = 1e-30;
  for (int64_t b = 0; b < P.B; ++b)
    for (int64_t h = 0; h < P.H; ++h)
      for (int64_t t = 0; t < P.L; ++t) {
        const double g = got(b, h, t), w = want[size_t(idx3(P, b, h, t))];
        if (!std::isfinite(g)) return INFINITY;
        max_err = std::max(max_err, std::fabs(g - w));
        max_ref = std::max(max_ref, std::fabs(w));
      }
  return max_err / max_ref;
}

double vector_error(const std::vector<double>& got, const std::vector<double>& want) {
  double max_err = 0, max_ref = 1e-30;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    max_err = std::max(max_err, std::fabs(got[i] - want[i]));
    max_ref = std::max(max_ref, std::fabs(want[i]));
  }
  return max_err / max_ref;
}

std::vector<double> read_2d(const HostTensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.sizes[0]; ++i)
    for (int64_t j = 0; j < t.sizes[1]; ++j) out.push_back(t(i, j));
  return out;
}

std::vector<double> read_1d(const HostTensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.sizes[0]; ++i) out.push_back(t(i));
  return out;
}

// ---------------------------------------------------------------- one configuration

struct Config {
  DType dtype = DType::kFloat32;
  int64_t B = 1, H = 1, L = 1, Lk = 1;
  bool bidirectional = false;
  bool use_spectrum = false;  // k_f from fft_filter_forward instead of k
  bool with_D = false, with_pregate = false, with_postgate = false;
  Layout input_layout = Layout::kContiguous;
  Layout gate_layout = Layout::kContiguous;
  Layout output_layout = Layout::kContiguous;
  Layout filter_layout = Layout::kContiguous;
  const char* path = nullptr;  // "direct", "fft" or null (automatic)
  int threads = 2;

  std::string describe() const {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s B%lld H%lld L%lld Lk%lld %s %s D%d pre%d post%d in%d gate%d out%d k%d path=%s "
                  "threads=%d",
                  dtype_name(dtype), (long long)B, (long long)H, (long long)L, (long long)Lk,
                  bidirectional ? "bidir" : "causal", use_spectrum ? "k_f" : "k", with_D,
                  with_pregate, with_postgate, int(input_layout), int(gate_layout),
                  int(output_layout), int(filter_layout), path ? path : "auto", threads);
    return buf;
  }
};

DType filter_dtype(DType activation) {
  return activation == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
}

void set_path(const char* path) {
  if (path) {
    setenv("SERENGETI_FFTCONV_PATH", path, 1);
  } else {
    unsetenv("SERENGETI_FFTCONV_PATH");
  }
}

HostTensor spectrum_of(const Config& c, const HostTensor& k) {
  const int64_t n = fftconv_fft_size(c.L);
  HostTensor k_f = output_like(filter_dtype(c.dtype), {(c.H + 7) / 8, n / 2, 2, 8},
                               Layout::kContiguous);
  FftFilterParams fp;
  fp.k = k.view();
  fp.length = c.L;
  fp.bidirectional = c.bidirectional;
  fp.k_f = k_f.view();
  fp.launch.num_threads = c.threads;
  fft_filter_forward(fp);
  return k_f;
}

// dk from dk_f through the adjoint of fft_filter_forward.
HostTensor taps_gradient_of(const Config& c, const HostTensor& dk_f) {
  HostTensor dk = output_like(filter_dtype(c.dtype), {c.H, c.Lk}, Layout::kContiguous);
  FftFilterBackwardParams bp;
  bp.dk_f = dk_f.view();
  bp.length = c.L;
  bp.bidirectional = c.bidirectional;
  bp.dk = dk.view();
  bp.launch.num_threads = c.threads;
  fft_filter_backward(bp);
  return dk;
}

Inputs make_inputs(const Config& c, std::mt19937_64& rng) {
  Inputs in;
  in.u = make_tensor(c.dtype, {c.B, c.H, c.L}, c.input_layout);
  fill_random(in.u, rng);
  if (c.with_pregate) {
    in.pregate = make_tensor(c.dtype, {c.B, c.H, c.L}, c.gate_layout);
    fill_random(in.pregate, rng, 0.5, 1.5);
  }
  if (c.with_postgate) {
    in.postgate = make_tensor(c.dtype, {c.B, c.H, c.L}, c.gate_layout);
    fill_random(in.postgate, rng, -1.5, 1.5);
  }
  in.k = make_tensor(filter_dtype(c.dtype), {c.H, c.Lk}, c.filter_layout);
  fill_random(in.k, rng);
  if (c.with_D) {
    in.D = make_tensor(filter_dtype(c.dtype), {c.H}, Layout::kStrided);
    fill_random(in.D, rng);
  }
  return in;
}

void check_forward_and_backward(const Config& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Problem P{c.B, c.H, c.L, c.Lk, c.bidirectional};
  const Inputs in = make_inputs(c, rng);
  const double tol = tolerance_for(c.dtype);
  const double filter_tol = tolerance_for(filter_dtype(c.dtype));
  set_path(c.path);

  HostTensor k_f;
  if (c.use_spectrum) k_f = spectrum_of(c, in.k);

  // Forward.
  HostTensor y = output_like(c.dtype, {c.B, c.H, c.L}, c.output_layout);
  FftConvForwardParams fp;
  fp.u = in.u.view();
  fp.pregate = in.pregate.view();
  fp.postgate = in.postgate.view();
  fp.k = c.use_spectrum ? TensorView() : in.k.view();
  fp.k_f = k_f.view();
  fp.D = in.D.view();
  fp.bidirectional = c.bidirectional;
  fp.y = y.view();
  fp.launch.num_threads = c.threads;
  try {
    fftconv_forward(fp);
  } catch (const std::exception& e) {
    report(false, "forward threw " + std::string(e.what()) + " | " + c.describe());
    return;
  }
  const Grid w = gated(P, in.u, in.pregate);
  const Grid z = conv_ref(P, in.k, in.D, w);
  Grid y_ref = z;
  if (in.postgate.exists)
    for (int64_t b = 0; b < P.B; ++b)
      for (int64_t h = 0; h < P.H; ++h)
        for (int64_t t = 0; t < P.L; ++t) y_ref[size_t(idx3(P, b, h, t))] *= in.postgate(b, h, t);
  const double y_err = grid_error(P, y, y_ref);
  report(y_err <= tol, "forward y err=" + std::to_string(y_err) + " | " + c.describe());

  // Backward: every gradient requested.
  HostTensor dy = make_tensor(c.dtype, {c.B, c.H, c.L}, c.input_layout);
  fill_random(dy, rng);
  HostTensor du = output_like(c.dtype, {c.B, c.H, c.L}, c.output_layout);
  HostTensor dpre = c.with_pregate ? output_like(c.dtype, {c.B, c.H, c.L}, c.output_layout) : absent();
  HostTensor dpost = c.with_postgate ? output_like(c.dtype, {c.B, c.H, c.L}, c.output_layout) : absent();
  HostTensor dk = c.use_spectrum ? absent() : output_like(filter_dtype(c.dtype), {c.H, c.Lk}, c.filter_layout);
  HostTensor dk_f;
  if (c.use_spectrum) dk_f = output_like(filter_dtype(c.dtype), k_f.sizes, Layout::kContiguous);
  HostTensor dD = c.with_D ? output_like(filter_dtype(c.dtype), {c.H}, Layout::kStrided) : absent();
  FftConvBackwardParams bp;
  bp.u = fp.u, bp.pregate = fp.pregate, bp.postgate = fp.postgate, bp.k = fp.k, bp.k_f = fp.k_f;
  bp.D = fp.D;
  bp.bidirectional = c.bidirectional;
  bp.dy = dy.view();
  bp.du = du.view(), bp.dpregate = dpre.view(), bp.dpostgate = dpost.view();
  bp.dk = dk.view(), bp.dk_f = dk_f.view(), bp.dD = dD.view();
  bp.launch.num_threads = c.threads;
  try {
    fftconv_backward(bp);
  } catch (const std::exception& e) {
    report(false, "backward threw " + std::string(e.what()) + " | " + c.describe());
    return;
  }
  const Grid g = gated(P, dy, in.postgate);
  const Grid dw = corr_ref(P, in.k, in.D, g);
  Grid du_ref = dw, dpre_ref = dw, dpost_ref = z;
  for (int64_t b = 0; b < P.B; ++b)
    for (int64_t h = 0; h < P.H; ++h)
      for (int64_t t = 0; t < P.L; ++t) {
        const size_t i = size_t(idx3(P, b, h, t));
        if (in.pregate.exists) du_ref[i] *= in.pregate(b, h, t);
        dpre_ref[i] *= in.u(b, h, t);
        dpost_ref[i] *= dy(b, h, t);
      }
  const double du_err = grid_error(P, du, du_ref);
  report(du_err <= tol, "backward du err=" + std::to_string(du_err) + " | " + c.describe());
  if (c.with_pregate) {
    const double e = grid_error(P, dpre, dpre_ref);
    report(e <= tol, "backward dpregate err=" + std::to_string(e) + " | " + c.describe());
  }
  if (c.with_postgate) {
    const double e = grid_error(P, dpost, dpost_ref);
    report(e <= tol, "backward dpostgate err=" + std::to_string(e) + " | " + c.describe());
  }
  // dk[h][i] = sum_b sum_t g[t] w[t - s], s = i - c (0 where unreachable).
  std::vector<double> dk_ref(size_t(c.H * c.Lk), 0.0), dD_ref(size_t(c.H), 0.0);
  for (int64_t h = 0; h < c.H; ++h) {
    for (int64_t i = 0; i < c.Lk; ++i) {
      const int64_t s = i - P.centre();
      if (!P.reachable(s)) continue;
      double acc = 0;
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t t = std::max<int64_t>(0, s); t < std::min(c.L, c.L + s); ++t)
          acc += g[size_t(idx3(P, b, h, t))] * w[size_t(idx3(P, b, h, t - s))];
      dk_ref[size_t(h * c.Lk + i)] = acc;
    }
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t t = 0; t < c.L; ++t)
        dD_ref[size_t(h)] += g[size_t(idx3(P, b, h, t))] * w[size_t(idx3(P, b, h, t))];
  }
  // Sums of low-precision products carry the inputs' rounding, not just float32's.
  const double sum_tol = std::max(filter_tol, c.dtype == DType::kFloat64 ? 0.0 : 1e-4);
  {
    const std::vector<double> dk_got = c.use_spectrum ? read_2d(taps_gradient_of(c, dk_f)) : read_2d(dk);
    const double e = vector_error(dk_got, dk_ref);
    report(e <= sum_tol, std::string(c.use_spectrum ? "backward dk_f (via filter adjoint)" : "backward dk") +
                             " err=" + std::to_string(e) + " | " + c.describe());
  }
  if (c.with_D) {
    const double e = vector_error(read_1d(dD), dD_ref);
    report(e <= sum_tol, "backward dD err=" + std::to_string(e) + " | " + c.describe());
  }
  set_path(nullptr);
}

// ---------------------------------------------------------------- float64 adjoint identities

double dot_grid(const HostTensor& a, const HostTensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.sizes[0]; ++i)
    for (int64_t j = 0; j < a.sizes[1]; ++j)
      for (int64_t k = 0; k < a.sizes[2]; ++k) s += a(i, j, k) * b(i, j, k);
  return s;
}

double dot_flat(const HostTensor& a, const HostTensor& b) {  // contiguous tensors of equal shape
  double s = 0;
  for (int64_t i = 0; i < a.physical_elems(); ++i) s += a.at_offset(i) * b.at_offset(i);
  return s;
}

// y is linear in each of u, pregate, postgate, (k, D) and (k_f, D) separately, so
// <dy, y(x = v)> = <J^T dy, v> holds exactly (to round-off) for the gradient J^T dy from backward.
void check_adjoints(bool bidirectional, bool use_spectrum, const char* path, int64_t L, int64_t Lk) {
  std::mt19937_64 rng(1234 + L * 7 + Lk + bidirectional * 3 + use_spectrum);
  Config c;
  c.dtype = DType::kFloat64;
  c.B = 2, c.H = 11, c.L = L, c.Lk = Lk;
  c.bidirectional = bidirectional;
  c.use_spectrum = use_spectrum;
  c.with_D = c.with_pregate = c.with_postgate = true;
  c.path = path;
  set_path(path);
  const std::string what = "adjoint " + c.describe();
  Inputs in = make_inputs(c, rng);
  HostTensor k_f;
  if (use_spectrum) k_f = spectrum_of(c, in.k);
  HostTensor dy = make_tensor(c.dtype, {c.B, c.H, c.L}, Layout::kContiguous);
  fill_random(dy, rng);

  auto forward = [&](const HostTensor& u, const HostTensor& pre, const HostTensor& post,
                     const HostTensor& k, const HostTensor& kf, const HostTensor& D) {
    HostTensor y = output_like(c.dtype, {c.B, c.H, c.L}, Layout::kContiguous);
    FftConvForwardParams p;
    p.u = u.view(), p.pregate = pre.view(), p.postgate = post.view();
    p.k = use_spectrum ? TensorView() : k.view();
    p.k_f = use_spectrum ? kf.view() : TensorView();
    p.D = D.view();
    p.bidirectional = bidirectional;
    p.y = y.view();
    p.launch.num_threads = 2;
    fftconv_forward(p);
    return y;
  };

  HostTensor du = output_like(c.dtype, {c.B, c.H, c.L}, Layout::kContiguous);
  HostTensor dpre = output_like(c.dtype, {c.B, c.H, c.L}, Layout::kContiguous);
  HostTensor dpost = output_like(c.dtype, {c.B, c.H, c.L}, Layout::kContiguous);
  HostTensor dk = use_spectrum ? absent() : output_like(c.dtype, {c.H, c.Lk}, Layout::kContiguous);
  HostTensor dk_f = use_spectrum ? output_like(c.dtype, k_f.sizes, Layout::kContiguous) : absent();
  HostTensor dD = output_like(c.dtype, {c.H}, Layout::kContiguous);
  FftConvBackwardParams bp;
  bp.u = in.u.view(), bp.pregate = in.pregate.view(), bp.postgate = in.postgate.view();
  bp.k = use_spectrum ? TensorView() : in.k.view();
  bp.k_f = k_f.view();
  bp.D = in.D.view();
  bp.bidirectional = bidirectional;
  bp.dy = dy.view(), bp.du = du.view(), bp.dpregate = dpre.view(), bp.dpostgate = dpost.view();
  bp.dk = dk.view(), bp.dk_f = dk_f.view(), bp.dD = dD.view();
  bp.launch.num_threads = 2;
  fftconv_backward(bp);

  auto random_like = [&](const HostTensor& t, Layout layout) {
    HostTensor v = make_tensor(t.dtype, t.sizes, layout);
    fill_random(v, rng);
    return v;
  };
  auto close = [](double a, double b) { return std::fabs(a - b) <= 1e-9 * (std::fabs(a) + std::fabs(b) + 1e-3); };
  const HostTensor zero_D = [&] { HostTensor z = make_tensor(c.dtype, {c.H}, Layout::kContiguous); return z; }();

  {  // u
    HostTensor v = random_like(in.u, Layout::kContiguous);
    const double lhs = dot_grid(dy, forward(v, in.pregate, in.postgate, in.k, k_f, in.D));
    report(close(lhs, dot_grid(du, v)), what + " du");
  }
  {  // pregate
    HostTensor v = random_like(in.u, Layout::kContiguous);
    const double lhs = dot_grid(dy, forward(in.u, v, in.postgate, in.k, k_f, in.D));
    report(close(lhs, dot_grid(dpre, v)), what + " dpregate");
  }
  {  // postgate
    HostTensor v = random_like(in.u, Layout::kContiguous);
    const double lhs = dot_grid(dy, forward(in.u, in.pregate, v, in.k, k_f, in.D));
    report(close(lhs, dot_grid(dpost, v)), what + " dpostgate");
  }
  {  // (k, D) or (k_f, D) jointly
    HostTensor vD = random_like(in.D, Layout::kContiguous);
    double lhs, rhs;
    if (use_spectrum) {
      HostTensor vkf = random_like(k_f, Layout::kContiguous);
      lhs = dot_grid(dy, forward(in.u, in.pregate, in.postgate, in.k, vkf, vD));
      rhs = dot_flat(dk_f, vkf);
    } else {
      HostTensor vk = random_like(in.k, Layout::kContiguous);
      lhs = dot_grid(dy, forward(in.u, in.pregate, in.postgate, vk, k_f, vD));
      rhs = dot_flat(dk, vk);
    }
    rhs += dot_flat(dD, vD);
    report(close(lhs, rhs), what + (use_spectrum ? " dk_f+dD" : " dk+dD"));
  }
  set_path(nullptr);
}

// fft_filter_backward is the adjoint of fft_filter_forward: <dk_f, F k> == <F^T dk_f, k>.
void check_filter_adjoint(bool bidirectional, int64_t L, int64_t Lk) {
  std::mt19937_64 rng(99 + L + Lk);
  Config c;
  c.dtype = DType::kFloat64;
  c.H = 13, c.L = L, c.Lk = Lk, c.bidirectional = bidirectional;
  HostTensor k = make_tensor(DType::kFloat64, {c.H, c.Lk}, Layout::kStrided);
  fill_random(k, rng);
  const HostTensor k_f = spectrum_of(c, k);
  HostTensor dk_f = make_tensor(DType::kFloat64, k_f.sizes, Layout::kContiguous);
  fill_random(dk_f, rng);
  const HostTensor dk = taps_gradient_of(c, dk_f);
  double lhs = dot_flat(dk_f, k_f), rhs = 0;
  for (int64_t h = 0; h < c.H; ++h)
    for (int64_t i = 0; i < c.Lk; ++i) rhs += dk(h, i) * k(h, i);
  report(std::fabs(lhs - rhs) <= 1e-9 * (std::fabs(lhs) + std::fabs(rhs) + 1e-3),
         "filter adjoint " + c.describe());
}

// ---------------------------------------------------------------- determinism, layouts

std::vector<unsigned char> backward_bits(int threads, bool use_spectrum, const char* path) {
  std::mt19937_64 rng(77);
  Config c;
  c.dtype = DType::kFloat32;
  c.B = 3, c.H = 27, c.L = 300, c.Lk = path && std::strcmp(path, "direct") == 0 ? 20 : 300;
  c.use_spectrum = use_spectrum, c.with_D = true;
  c.threads = threads;
  set_path(path);
  Inputs in = make_inputs(c, rng);
  HostTensor k_f;
  if (use_spectrum) k_f = spectrum_of(c, in.k);
  HostTensor dy = make_tensor(c.dtype, {c.B, c.H, c.L}, Layout::kContiguous);
  fill_random(dy, rng);
  HostTensor dk = use_spectrum ? absent() : output_like(c.dtype, {c.H, c.Lk}, Layout::kContiguous);
  HostTensor dk_f = use_spectrum ? output_like(c.dtype, k_f.sizes, Layout::kContiguous) : absent();
  HostTensor dD = output_like(c.dtype, {c.H}, Layout::kContiguous);
  FftConvBackwardParams bp;
  bp.u = in.u.view(), bp.k = use_spectrum ? TensorView() : in.k.view(), bp.k_f = k_f.view();
  bp.D = in.D.view(), bp.dy = dy.view(), bp.dk = dk.view(), bp.dk_f = dk_f.view(), bp.dD = dD.view();
  bp.launch.num_threads = threads;
  fftconv_backward(bp);
  set_path(nullptr);
  std::vector<unsigned char> bits = use_spectrum ? dk_f.storage : dk.storage;
  bits.insert(bits.end(), dD.storage.begin(), dD.storage.end());
  return bits;
}

void check_determinism() {
  for (bool spectrum : {false, true})
    for (const char* path : {"fft", "direct"}) {
      if (spectrum && std::strcmp(path, "direct") == 0) continue;
      const auto one = backward_bits(1, spectrum, path), two = backward_bits(2, spectrum, path);
      const auto again = backward_bits(2, spectrum, path);
      report(one == two && two == again,
             std::string("determinism of dk/dk_f/dD across thread counts, ") +
                 (spectrum ? "k_f " : "k ") + path);
    }
}

// The SIMD unit-stride load/store and the scalar strided path must give the same bits.
void check_layouts_agree() {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    std::mt19937_64 rng(5);
    const int64_t B = 2, H = 13, L = 203, Lk = 203;
    std::vector<std::vector<unsigned char>> results;
    for (Layout layout : {Layout::kContiguous, Layout::kStrided, Layout::kChannelsLast}) {
      std::mt19937_64 same(5);
      HostTensor u = make_tensor(dtype, {B, H, L}, layout);
      HostTensor post = make_tensor(dtype, {B, H, L}, layout);
      // Fill logically identical values whatever the layout.
      std::uniform_real_distribution<double> dist(-1, 1);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t t = 0; t < L; ++t) {
            u.set_offset(u.offset({b, h, t}), dist(same));
            post.set_offset(post.offset({b, h, t}), dist(same));
          }
      HostTensor k = make_tensor(DType::kFloat32, {H, Lk}, Layout::kContiguous);
      fill_random(k, rng);
      rng.seed(5);
      HostTensor y = output_like(dtype, {B, H, L}, layout);
      FftConvForwardParams p;
      p.u = u.view(), p.postgate = post.view(), p.k = k.view(), p.y = y.view();
      p.launch.num_threads = 2;
      fftconv_forward(p);
      std::vector<unsigned char> logical;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t t = 0; t < L; ++t) {
            const int64_t o = y.offset({b, h, t}) * int64_t(dtype_size(dtype));
            logical.insert(logical.end(), y.storage.begin() + o, y.storage.begin() + o + int64_t(dtype_size(dtype)));
          }
      results.push_back(logical);
    }
    report(results[0] == results[1] && results[0] == results[2],
           std::string("contiguous, strided and channels-last give identical bits, ") + dtype_name(dtype));
  }
}

// ---------------------------------------------------------------- conversions

bool same_value(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Float samples that stress rounding: ties, subnormals, overflow, infinities, NaN, signed zero.
std::vector<float> awkward_floats() {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, -3e-7f,
                          6.1e-5f, 5.96e-8f, 2.98e-8f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048,
                          1.0f + 1.0f / 256, 1.0f + 3.0f / 256, 3.4e38f, INFINITY, -INFINITY, NAN};
  for (uint32_t bits = 0; bits < 0xFFFFFFFFu - 40009u; bits += 40009u) {
    float f;
    std::memcpy(&f, &bits, 4);
    v.push_back(f);
  }
  return v;
}

void check_conversions() {
  using namespace serengeti::cpu::fftconv;
  int bad_half = 0, bad_bf16 = 0, bad_widen = 0;
  for (float f : awkward_floats()) {
    bad_half += !same_value(double_from_half_bits(float_to_half(f)),
                            double_from_half_bits(half_bits_from_double(f)));
    bad_bf16 += !same_value(double_from_bf16_bits(float_to_bf16(f)),
                            double_from_bf16_bits(bf16_bits_from_double(f)));
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    bad_widen += !same_value(half_to_float(uint16_t(h)), double_from_half_bits(uint16_t(h)));
    bad_widen += !same_value(bf16_to_float(uint16_t(h)), double_from_bf16_bits(uint16_t(h)));
  }
  report(bad_half == 0, "float -> float16 rounding mismatches: " + std::to_string(bad_half));
  report(bad_bf16 == 0, "float -> bfloat16 rounding mismatches: " + std::to_string(bad_bf16));
  report(bad_widen == 0, "float16/bfloat16 widening mismatches: " + std::to_string(bad_widen));

  // The SIMD (unit stride) and scalar (strided) stores must round identically.
  const std::vector<float> values = awkward_floats();
  const int64_t count = int64_t(values.size()) / 8;
  std::vector<float> buf(values.begin(), values.begin() + count * 8);
  for (DType dtype : {DType::kFloat16, DType::kBFloat16, DType::kFloat32}) {
    const int64_t elem = int64_t(dtype_size(dtype));
    std::vector<unsigned char> unit(size_t(8 * count * elem)), strided(size_t(8 * count * 2 * elem));
    MutableLaneRows u{unit.data(), dtype, count, 1}, s{strided.data(), dtype, 2 * count, 2};
    store_lanes<float>(u, buf.data(), LaneRows(), 8, count);
    store_lanes<float>(s, buf.data(), LaneRows(), 8, count);
    bool same = true;
    for (int64_t l = 0; l < 8; ++l)
      for (int64_t t = 0; t < count; ++t)
        same &= std::memcmp(&unit[size_t((l * count + t) * elem)],
                            &strided[size_t((l * 2 * count + 2 * t) * elem)], size_t(elem)) == 0;
    report(same, std::string("unit-stride and strided stores agree bitwise, ") + dtype_name(dtype));
  }
}

// ---------------------------------------------------------------- validation

void expect_invalid(const std::function<void()>& call, const std::string& needle,
                    const std::string& what) {
  try {
    call();
    report(false, "validation (no throw): " + what);
  } catch (const InvalidArgument& e) {
    report(std::string(e.what()).find(needle) != std::string::npos,
           "validation message '" + std::string(e.what()) + "' should name " + needle);
  } catch (const std::exception& e) {
    report(false, "validation threw the wrong type: " + std::string(e.what()));
  }
}

void check_validation() {
  std::mt19937_64 rng(3);
  HostTensor u = make_tensor(DType::kFloat32, {2, 9, 10}, Layout::kContiguous);
  HostTensor k = make_tensor(DType::kFloat32, {9, 10}, Layout::kContiguous);
  HostTensor y = output_like(DType::kFloat32, {2, 9, 10}, Layout::kContiguous);
  fill_random(u, rng), fill_random(k, rng);
  auto base = [&] {
    FftConvForwardParams p;
    p.u = u.view(), p.k = k.view(), p.y = y.view();
    return p;
  };
  expect_invalid([&] { auto p = base(); p.u.ndim = 2; fftconv_forward(p); }, "u", "u ndim");
  expect_invalid([&] { auto p = base(); p.k.sizes[0] = 8; fftconv_forward(p); }, "k", "k channels");
  expect_invalid([&] { auto p = base(); p.k.dtype = DType::kFloat16; fftconv_forward(p); }, "k", "k dtype");
  expect_invalid([&] { auto p = base(); p.y.sizes[2] = 11; fftconv_forward(p); }, "y", "y length");
  expect_invalid([&] { auto p = base(); p.y = TensorView(); fftconv_forward(p); }, "y", "y missing");
  expect_invalid([&] { auto p = base(); p.k_f = p.k; fftconv_forward(p); }, "k_f", "k and k_f");
  expect_invalid([&] { auto p = base(); p.k = TensorView(); fftconv_forward(p); }, "k_f", "neither");
  expect_invalid([&] { auto p = base(); p.k = TensorView(); p.k_f = k.view(); fftconv_forward(p); }, "k_f", "k_f ndim");
  HostTensor bad_kf = make_tensor(DType::kFloat32, {2, 8, 2, 8}, Layout::kContiguous);
  expect_invalid([&] { auto p = base(); p.k = TensorView(); p.k_f = bad_kf.view(); fftconv_forward(p); }, "k_f", "k_f shape");
  expect_invalid([&] { auto p = base(); p.pregate = k.view(); fftconv_forward(p); }, "pregate", "pregate ndim");
  expect_invalid([&] { auto p = base(); p.D = u.view(); fftconv_forward(p); }, "D", "D ndim");
  expect_invalid([&] { auto p = base(); p.y.strides[2] = 0; fftconv_forward(p); }, "y", "y zero stride");
  expect_invalid([&] { auto p = base(); p.launch.backend = Backend::kCuda; fftconv_forward(p); }, "cuda", "cuda backend");
  expect_invalid([&] {
    FftConvBackwardParams p;
    p.u = u.view(), p.k = k.view(), p.dy = u.view(), p.dpregate = y.view();
    fftconv_backward(p);
  }, "dpregate", "dpregate without pregate");
  expect_invalid([&] {
    FftConvBackwardParams p;
    p.u = u.view(), p.k = k.view(), p.dy = u.view(), p.dD = k.view();
    fftconv_backward(p);
  }, "dD", "dD without D");
  expect_invalid([&] {
    FftConvBackwardParams p;
    p.u = u.view(), p.k = k.view(), p.dy = u.view(), p.dk_f = k.view();
    fftconv_backward(p);
  }, "dk_f", "dk_f with k");
  expect_invalid([&] {
    FftFilterParams p;
    p.k = k.view(), p.length = 10, p.k_f = bad_kf.view();
    fft_filter_forward(p);
  }, "k_f", "filter k_f shape");
  expect_invalid([&] {
    FftFilterParams p;
    p.k = k.view(), p.length = 0, p.k_f = bad_kf.view();
    fft_filter_forward(p);
  }, "length", "filter length");
}

// ---------------------------------------------------------------- the sweep

// `quick` drops the longest rows (used for the second, portable-code pass).
void run_sweep(bool quick) {
  const DType dtypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64};
  const std::vector<int64_t> lengths = quick ? std::vector<int64_t>{1, 2, 3, 7, 127, 1000}
                                             : std::vector<int64_t>{1, 2, 3, 7, 127, 1000, 4097};
  const int64_t channel_counts[] = {1, 3, 11};
  const Layout input_layouts[] = {Layout::kContiguous, Layout::kStrided, Layout::kChannelsLast};
  const Layout gate_layouts[] = {Layout::kContiguous, Layout::kBroadcastBatch, Layout::kBroadcastTime,
                                 Layout::kStrided};
  const Layout filter_layouts[] = {Layout::kContiguous, Layout::kStrided, Layout::kChannelsLast};
  uint64_t counter = 0;
  for (DType dtype : dtypes)
    for (int64_t L : lengths)
      for (int mode = 0; mode < 3; ++mode)  // causal k, causal k_f, bidirectional (k or k_f)
        for (int lk_kind = 0; lk_kind < 3; ++lk_kind) {  // Lk < L, = L, > L
          ++counter;
          Config c;
          c.dtype = dtype;
          c.L = L;
          c.bidirectional = mode == 2;
          c.use_spectrum = mode == 1 || (mode == 2 && counter % 2 == 0);
          const int64_t short_taps = std::max<int64_t>(1, std::min<int64_t>(L - 1, 1 + int64_t(counter % 23)));
          c.Lk = lk_kind == 0 ? short_taps : lk_kind == 1 ? L : (c.bidirectional ? 2 * L - 1 + int64_t(counter % 3) * 2 : L + 5);
          if (lk_kind == 0 && L == 1) c.Lk = 1;
          // Keep the float64 reference affordable on long rows.
          c.H = L >= 1000 ? channel_counts[counter % 2 ? 0 : 1] : channel_counts[counter % 3];
          c.B = L >= 1000 ? 1 + int64_t(counter % 2) : 1 + int64_t(counter % 3);
          c.with_D = counter % 2 == 0;
          c.with_pregate = counter % 3 != 0;
          c.with_postgate = (counter / 2) % 2 == 0;
          c.input_layout = input_layouts[counter % 3];
          c.gate_layout = gate_layouts[(counter / 3) % 4];
          c.output_layout = input_layouts[(counter / 5) % 3];
          c.filter_layout = filter_layouts[(counter / 7) % 3];
          c.threads = 1 + int(counter % 2);
          if (!c.bidirectional && !c.use_spectrum) {
            for (const char* path : {"direct", "fft"}) {
              c.path = path;
              check_forward_and_backward(c, counter);
            }
          } else {
            check_forward_and_backward(c, counter);
          }
        }
  // Many channel groups and batch rows: exercises both task splits (group tasks and
  // (row, group) pairs) and partial last groups.
  for (int64_t H : {5, 16, 19}) {
    for (int64_t B : {1, 3}) {
      for (const char* path : {"direct", "fft"}) {
        Config c;
        c.B = B, c.H = H, c.L = 64, c.Lk = 17, c.with_D = true, c.with_pregate = true;
        c.with_postgate = true, c.threads = 2, c.path = path;
        check_forward_and_backward(c, 1000 + uint64_t(H * B));
        c.use_spectrum = true;
        check_forward_and_backward(c, 2000 + uint64_t(H * B));
      }
    }
  }
  // Empty batch: gradients of k (k_f) and D must be written as zeros, on every path.
  for (int variant = 0; variant < 3; ++variant) {
    Config c;
    c.B = 0, c.H = 3, c.L = 10, c.Lk = 4, c.with_D = true;
    c.path = variant == 0 ? "direct" : "fft";
    c.use_spectrum = variant == 2;
    check_forward_and_backward(c, 7);
  }
}

}  // namespace

int main() {
  // Everything once with the SIMD kernels (when the CPU has AVX2) ...
  run_sweep(/*quick=*/false);
  for (bool bidir : {false, true})
    for (bool spectrum : {false, true}) {
      for (int64_t L : {1, 7, 130}) {
        for (int64_t Lk : {int64_t(1), L, 2 * L + 1}) {
          if (!bidir && !spectrum) {
            check_adjoints(bidir, spectrum, "direct", L, Lk);
            check_adjoints(bidir, spectrum, "fft", L, Lk);
          } else {
            check_adjoints(bidir, spectrum, nullptr, L, Lk);
          }
        }
      }
    }
  for (bool bidir : {false, true})
    for (int64_t L : {1, 5, 100})
      for (int64_t Lk : {int64_t(1), L, 2 * L + 3}) check_filter_adjoint(bidir, L, Lk);
  check_determinism();
  check_layouts_agree();
  check_conversions();
  check_validation();
  // ... and the shapes that matter once more on the portable path.
  if (serengeti::cpu::avx2_enabled()) {
    serengeti::cpu::set_force_portable(true);
    run_sweep(/*quick=*/true);
    check_determinism();
    check_layouts_agree();
    serengeti::cpu::set_force_portable(false);
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
