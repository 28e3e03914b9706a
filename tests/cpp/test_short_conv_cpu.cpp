// Tests of the CPU short depthwise causal convolution (serengeti/short_conv.h) against a naive
// float64 reference written here:
//   - forward over K, L, B, C, three layouts (channel-major, channels-last, odd strides), every dtype,
//     bias / SiLU / initial_state / final_state on and off (final_state with L < K-1 included);
//   - outputs are NaN-poisoned, and memory around the views must stay poisoned;
//   - chunked processing (final state -> next initial state) equals whole processing, bit for bit;
//   - backward vs the reference, adjoint identities <dy, J v> = <J^T dy, v> in float64 for every input
//     (states included), central finite differences with SiLU, determinism across thread counts;
//   - step == forward one token at a time; validation messages name the argument;
//   - everything on the AVX2 path (when the CPU has it) and again forced portable.
// Prints "N passed, M failed"; exits nonzero on failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/simd/cpu_features.h"
#include "serengeti/error.h"
#include "serengeti/short_conv.h"

using namespace serengeti;

namespace {

int passed = 0, failed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    if (failed <= 40) std::printf("FAILED: %s\n", what.c_str());
  }
}

// ---- the test's own dtype conversions (arithmetic, independent of the library's bit tricks) ----

// Rounds |v| to `bits` significant bits (ties to even), with the smallest exponent min_exp
// (below it the quantum stays 2^(min_exp - bits + 1): subnormals).
double round_significant(double v, int bits, int min_exp) {
  if (v == 0 || !std::isfinite(v)) return v;
  int e = std::ilogb(v);
  if (e < min_exp) e = min_exp;
  const double quantum = std::ldexp(1.0, e - bits + 1);
  return std::nearbyint(v / quantum) * quantum;  // default rounding mode: ties to even
}

uint16_t encode_half(double v) {
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = round_significant(std::fabs(v), 11, -14);
  if (std::isnan(v)) return 0x7E00;
  if (a >= 65520.0 || std::isinf(a)) return sign | 0x7C00;
  if (a == 0) return sign;
  if (a < std::ldexp(1.0, -14)) return sign | uint16_t(a / std::ldexp(1.0, -24));
  const int e = std::ilogb(a);
  const uint16_t mant = uint16_t(a / std::ldexp(1.0, e - 10)) - 1024;
  return sign | uint16_t((e + 15) << 10) | mant;
}
double decode_half(uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  if (e == 31) return m ? NAN : sign * INFINITY;
  if (e == 0) return sign * m * std::ldexp(1.0, -24);
  return sign * (1024 + m) * std::ldexp(1.0, e - 25);
}
uint16_t encode_bf16(double v) {
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v)) return 0x7FC0;
  const double a = round_significant(std::fabs(v), 8, -126);
  if (a == 0) return sign;
  const int e = std::ilogb(a);
  const uint16_t mant = uint16_t(a / std::ldexp(1.0, e - 7)) - 128;
  return sign | uint16_t((e + 127) << 7) | mant;
}
double decode_bf16(uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int e = (h >> 7) & 0xFF;
  const int m = h & 0x7F;
  if (e == 255) return m ? NAN : sign * INFINITY;
  if (e == 0) return sign * m * std::ldexp(1.0, -133);  // zero and subnormals
  return sign * (128 + m) * std::ldexp(1.0, e - 134);
}

// ---- host tensors with arbitrary strides and poisoned padding ------------------------------------

enum class Layout { kChannelMajor, kChannelsLast, kOdd };
const char* layout_name(Layout l) {
  return l == Layout::kChannelMajor ? "channel-major" : l == Layout::kChannelsLast ? "channels-last" : "odd";
}

struct HostTensor {
  DType dtype = DType::kFloat32;
  int ndim = 0;
  int64_t sizes[4] = {0, 0, 0, 0}, strides[4] = {0, 0, 0, 0};
  std::vector<unsigned char> storage;
  int64_t storage_elems = 0;

  size_t esize() const { return dtype_size(dtype); }
  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
  double get_raw(int64_t i) const {
    const unsigned char* p = storage.data() + i * esize();
    switch (dtype) {
      case DType::kFloat32: { float f; std::memcpy(&f, p, 4); return f; }
      case DType::kFloat64: { double d; std::memcpy(&d, p, 8); return d; }
      case DType::kFloat16: { uint16_t h; std::memcpy(&h, p, 2); return decode_half(h); }
      case DType::kBFloat16: { uint16_t h; std::memcpy(&h, p, 2); return decode_bf16(h); }
    }
    return 0;
  }
  void set_raw(int64_t i, double v) {
    unsigned char* p = storage.data() + i * esize();
    switch (dtype) {
      case DType::kFloat32: { float f = float(v); std::memcpy(p, &f, 4); return; }
      case DType::kFloat64: { std::memcpy(p, &v, 8); return; }
      case DType::kFloat16: { uint16_t h = encode_half(v); std::memcpy(p, &h, 2); return; }
      case DType::kBFloat16: { uint16_t h = encode_bf16(v); std::memcpy(p, &h, 2); return; }
    }
  }
  // Logical index (row-major over sizes) -> storage element.
  int64_t offset_of(int64_t logical) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      off += (logical % sizes[d]) * strides[d];
      logical /= sizes[d];
    }
    return off;
  }
  double get(int64_t logical) const { return get_raw(offset_of(logical)); }
  void set(int64_t logical, double v) { set_raw(offset_of(logical), v); }
  std::vector<double> values() const {
    std::vector<double> v(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) v[size_t(i)] = get(i);
    return v;
  }
  void fill(const std::vector<double>& v) {
    for (int64_t i = 0; i < numel(); ++i) set(i, v[size_t(i)]);
  }
  TensorView view() const {
    TensorView t;
    t.data = numel() == 0 ? nullptr : const_cast<unsigned char*>(storage.data());
    t.dtype = dtype;
    t.ndim = ndim;
    for (int d = 0; d < ndim; ++d) {
      t.sizes[d] = sizes[d];
      t.strides[d] = strides[d];
    }
    return t;
  }
  // The storage elements the view covers.
  std::vector<bool> covered() const {
    std::vector<bool> c(size_t(storage_elems), false);
    for (int64_t i = 0; i < numel(); ++i) c[size_t(offset_of(i))] = true;
    return c;
  }
  void poison() {
    for (int64_t i = 0; i < storage_elems; ++i) set_raw(i, NAN);
  }
  // True when every element outside the view still holds the poison.
  bool padding_intact() const {
    const std::vector<bool> c = covered();
    for (int64_t i = 0; i < storage_elems; ++i)
      if (!c[size_t(i)] && !std::isnan(get_raw(i))) return false;
    return true;
  }
};

// A tensor of the given sizes whose dims are laid out in `order` (outermost first), each dim's
// stride padded by `pad` elements and the innermost stride `inner` (odd layouts use 2 and 1).
HostTensor make_tensor(DType dtype, std::vector<int64_t> sizes, std::vector<int> order,
                       int64_t inner = 1, int64_t pad = 0) {
  HostTensor t;
  t.dtype = dtype;
  t.ndim = int(sizes.size());
  int64_t stride = inner;
  for (int k = t.ndim - 1; k >= 0; --k) {
    const int d = order[size_t(k)];
    t.sizes[d] = sizes[size_t(d)];
    t.strides[d] = stride;
    stride = stride * (sizes[size_t(d)] > 0 ? sizes[size_t(d)] : 1) + pad;
  }
  int64_t max_off = 0;
  bool empty = false;
  for (int d = 0; d < t.ndim; ++d) {
    if (t.sizes[d] == 0) empty = true;
    else max_off += (t.sizes[d] - 1) * t.strides[d];
  }
  t.storage_elems = empty ? 0 : max_off + 1 + pad;
  t.storage.assign(size_t(t.storage_elems) * t.esize(), 0);
  t.poison();
  return t;
}

// (B, C, L)-like tensor in one of the three layouts.
HostTensor make_bcl(DType dtype, int64_t B, int64_t C, int64_t L, Layout layout) {
  switch (layout) {
    case Layout::kChannelMajor: return make_tensor(dtype, {B, C, L}, {0, 1, 2});
    case Layout::kChannelsLast: return make_tensor(dtype, {B, C, L}, {0, 2, 1});
    case Layout::kOdd: return make_tensor(dtype, {B, C, L}, {0, 1, 2}, 2, 3);
  }
  return {};
}

std::mt19937_64 rng(12345);
std::vector<double> random_values(int64_t n, double scale = 1.0) {
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}
void fill_random(HostTensor& t, double scale = 1.0) { t.fill(random_values(t.numel(), scale)); }

// ---- the float64 reference -----------------------------------------------------------------------

double sigmoid(double a) { return 1.0 / (1.0 + std::exp(-a)); }

struct Case {
  int64_t B = 1, C = 1, L = 1, K = 1;
  DType dtype = DType::kFloat32, weight_dtype = DType::kFloat32;
  Layout layout = Layout::kChannelMajor;
  bool bias = false, silu = false, init = false, final_state = false, dfinal = false;
  int threads = 1;
  std::string name() const {
    char s[256];
    std::snprintf(s, sizeof s, "B=%lld C=%lld L=%lld K=%lld %s w:%s %s bias=%d silu=%d init=%d final=%d dfinal=%d thr=%d",
                  (long long)B, (long long)C, (long long)L, (long long)K, dtype_name(dtype),
                  dtype_name(weight_dtype), layout_name(layout), bias, silu, init, final_state,
                  dfinal, threads);
    return s;
  }
};

// Inputs as float64 (already rounded to their storage dtype), logical order.
struct Inputs {
  std::vector<double> x, w, bias, init, dy, dfinal;
};

struct Reference {
  std::vector<double> y, y_mag, final_state;
  std::vector<double> dx, dx_mag, dw, dw_mag, db, db_mag, dinit, dinit_mag;
};

Reference reference(const Case& k, const Inputs& in, bool with_backward) {
  const int64_t B = k.B, C = k.C, L = k.L, K = k.K, H = K - 1;
  Reference r;
  r.y.assign(size_t(B * C * L), 0);
  r.y_mag = r.y;
  r.final_state.assign(size_t(B * C * H), 0);
  r.dx.assign(size_t(B * C * L), 0);
  r.dx_mag = r.dx;
  r.dw.assign(size_t(C * K), 0);
  r.dw_mag = r.dw;
  r.db.assign(size_t(C), 0);
  r.db_mag = r.db;
  r.dinit.assign(size_t(B * C * H), 0);
  r.dinit_mag = r.dinit;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      auto xext = [&](int64_t s) {
        if (s >= 0) return in.x[size_t((b * C + c) * L + s)];
        return k.init ? in.init[size_t((b * C + c) * H + s + H)] : 0.0;
      };
      const double bias = k.bias ? in.bias[size_t(c)] : 0.0;
      std::vector<double> g(static_cast<size_t>(L)), gmag(static_cast<size_t>(L));
      for (int64_t t = 0; t < L; ++t) {
        double a = bias, mag = std::fabs(bias);
        for (int64_t i = 0; i < K; ++i) {
          a += in.w[size_t(c * K + i)] * xext(t - H + i);
          mag += std::fabs(in.w[size_t(c * K + i)] * xext(t - H + i));
        }
        const size_t o = size_t((b * C + c) * L + t);
        r.y[o] = k.silu ? a * sigmoid(a) : a;
        r.y_mag[o] = mag;
        if (with_backward) {
          const double s = sigmoid(a);
          const double dact = k.silu ? s * (1 + a * (1 - s)) : 1.0;
          g[size_t(t)] = in.dy[o] * dact;
          gmag[size_t(t)] = std::fabs(in.dy[o]) * (1.0 + (k.silu ? mag : 0.0));
        }
      }
      for (int64_t i = 0; i < H; ++i) r.final_state[size_t((b * C + c) * H + i)] = xext(L - H + i);
      if (!with_backward) continue;
      for (int64_t s = -H; s < L; ++s) {
        double v = 0, mag = 0;
        for (int64_t i = 0; i < K; ++i) {
          const int64_t t = s + H - i;
          if (t < 0 || t >= L) continue;
          v += in.w[size_t(c * K + i)] * g[size_t(t)];
          mag += std::fabs(in.w[size_t(c * K + i)]) * gmag[size_t(t)];
        }
        if (k.dfinal && s >= L - H) {
          v += in.dfinal[size_t((b * C + c) * H + s - (L - H))];
          mag += std::fabs(in.dfinal[size_t((b * C + c) * H + s - (L - H))]);
        }
        if (s >= 0) {
          r.dx[size_t((b * C + c) * L + s)] = v;
          r.dx_mag[size_t((b * C + c) * L + s)] = mag;
        } else {
          r.dinit[size_t((b * C + c) * H + s + H)] = v;
          r.dinit_mag[size_t((b * C + c) * H + s + H)] = mag;
        }
      }
      for (int64_t t = 0; t < L; ++t) {
        r.db[size_t(c)] += g[size_t(t)];
        r.db_mag[size_t(c)] += gmag[size_t(t)];
        for (int64_t i = 0; i < K; ++i) {
          r.dw[size_t(c * K + i)] += g[size_t(t)] * xext(t - H + i);
          r.dw_mag[size_t(c * K + i)] += gmag[size_t(t)] * std::fabs(xext(t - H + i));
        }
      }
    }
  return r;
}

// Tolerance per element: tol(dtype) * (magnitude of the terms + 1). float32: K <= 128 terms in
// float (<= 128 * 2^-24 relative) plus the vector exp; half / bfloat16: one output rounding
// (2^-11 / 2^-8 relative) dominates; float64: summation order only.
double tolerance(DType d) {
  switch (d) {
    case DType::kFloat64: return 1e-12;
    case DType::kFloat32: return 2e-5;
    case DType::kFloat16: return 1.2e-3;
    case DType::kBFloat16: return 8e-3;
  }
  return 0;
}

bool close_all(const HostTensor& out, const std::vector<double>& ref, const std::vector<double>& mag,
               double tol, std::string* detail) {
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double v = out.get(i);
    const double bound = tol * (mag[size_t(i)] + 1.0);
    if (!(std::fabs(v - ref[size_t(i)]) <= bound)) {
      char s[160];
      std::snprintf(s, sizeof s, " [element %lld: got %.9g want %.9g, bound %.3g]", (long long)i, v,
                    ref[size_t(i)], bound);
      *detail = s;
      return false;
    }
  }
  return true;
}

// ---- one problem: the tensors of a case and the calls --------------------------------------------

struct Problem {
  Case k;
  HostTensor x, w, bias, init, y, final_state, dy, dfinal, dx, dw, db, dinit;
  Inputs in;

  explicit Problem(const Case& c) : k(c) {
    const int64_t H = k.K - 1;
    x = make_bcl(k.dtype, k.B, k.C, k.L, k.layout);
    // Weight: contiguous (C, K), or K-major with odd layouts.
    w = k.layout == Layout::kOdd ? make_tensor(k.weight_dtype, {k.C, k.K}, {1, 0}, 1, 1)
                                 : make_tensor(k.weight_dtype, {k.C, k.K}, {0, 1});
    bias = make_tensor(k.weight_dtype, {k.C}, {0}, k.layout == Layout::kOdd ? 3 : 1);
    auto state = [&] {
      return k.layout == Layout::kOdd ? make_tensor(k.dtype, {k.B, k.C, H}, {0, 2, 1}, 2, 1)
                                      : make_tensor(k.dtype, {k.B, k.C, H}, {0, 1, 2});
    };
    init = state();
    final_state = state();
    dfinal = state();
    dinit = state();
    y = make_bcl(k.dtype, k.B, k.C, k.L, k.layout);
    dy = make_bcl(k.dtype, k.B, k.C, k.L, k.layout);
    dx = make_bcl(k.dtype, k.B, k.C, k.L, k.layout);
    dw = make_tensor(k.weight_dtype, {k.C, k.K}, {0, 1});
    db = make_tensor(k.weight_dtype, {k.C}, {0});
    fill_random(x);
    fill_random(w, 1.0 / std::sqrt(double(k.K)));
    fill_random(bias);
    fill_random(init);
    fill_random(dy);
    fill_random(dfinal);
    read_inputs();
  }
  void read_inputs() {
    in.x = x.values();
    in.w = w.values();
    in.bias = bias.values();
    in.init = init.values();
    in.dy = dy.values();
    in.dfinal = dfinal.values();
  }
  ShortConvForwardParams forward_params() const {
    ShortConvForwardParams p;
    p.x = x.view();
    p.weight = w.view();
    if (k.bias) p.bias = bias.view();
    if (k.init) p.initial_state = init.view();
    p.activation = k.silu ? Activation::kSilu : Activation::kNone;
    p.y = y.view();
    if (k.final_state) p.final_state = final_state.view();
    p.launch.num_threads = k.threads;
    return p;
  }
  ShortConvBackwardParams backward_params(bool want_dx = true, bool want_dw = true,
                                          bool want_db = true, bool want_dinit = true) const {
    ShortConvBackwardParams p;
    p.x = x.view();
    p.weight = w.view();
    if (k.bias) p.bias = bias.view();
    if (k.init) p.initial_state = init.view();
    p.activation = k.silu ? Activation::kSilu : Activation::kNone;
    p.dy = dy.view();
    if (k.dfinal) p.dfinal_state = dfinal.view();
    if (want_dx) p.dx = dx.view();
    if (want_dw) p.dweight = dw.view();
    if (want_db) p.dbias = db.view();
    if (want_dinit) p.dinitial_state = dinit.view();
    p.launch.num_threads = k.threads;
    return p;
  }
  void forward() { short_conv_forward(forward_params()); }
  void backward() { short_conv_backward(backward_params()); }
};

std::string path_name() { return cpu::force_portable() ? " [portable]" : " [avx2-if-available]"; }

// ---- forward and backward vs the reference --------------------------------------------------------

void test_case(const Case& k, bool with_backward) {
  Problem pr(k);
  pr.forward();
  const Reference ref = reference(k, pr.in, with_backward);
  const double tol = tolerance(k.dtype);
  std::string detail;
  const std::string name = k.name() + path_name();
  check(close_all(pr.y, ref.y, ref.y_mag, tol, &detail), "forward y " + name + detail);
  check(pr.y.padding_intact(), "forward y padding untouched " + name);
  if (k.final_state) {
    // A copy of inputs: exact.
    check(close_all(pr.final_state, ref.final_state, ref.final_state, 0.0, &detail),
          "forward final_state " + name + detail);
    check(pr.final_state.padding_intact(), "final_state padding untouched " + name);
  }
  if (!with_backward) return;
  pr.backward();
  const double wtol = std::max(tol, tolerance(k.weight_dtype));
  check(close_all(pr.dx, ref.dx, ref.dx_mag, tol, &detail), "backward dx " + name + detail);
  check(pr.dx.padding_intact(), "dx padding untouched " + name);
  check(close_all(pr.dw, ref.dw, ref.dw_mag, wtol, &detail), "backward dweight " + name + detail);
  check(close_all(pr.db, ref.db, ref.db_mag, wtol, &detail), "backward dbias " + name + detail);
  check(close_all(pr.dinit, ref.dinit, ref.dinit_mag, tol, &detail),
        "backward dinitial_state " + name + detail);
  check(pr.dinit.padding_intact(), "dinitial_state padding untouched " + name);
}

void sweep() {
  const DType dtypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16};
  const Layout layouts[] = {Layout::kChannelMajor, Layout::kChannelsLast, Layout::kOdd};
  int flags = 0;
  for (int64_t K : {1, 2, 3, 4, 5, 64, 128})
    for (int64_t L : {1, 2, 3, 7, 127, 1000})
      for (int64_t B : {1, 3})
        for (int64_t C : {1, 3, 17})
          for (Layout layout : layouts)
            for (DType dtype : dtypes) {
              // Rotate through the 32 combinations of the five flags (and the weight dtype).
              Case k;
              k.B = B; k.C = C; k.L = L; k.K = K;
              k.dtype = dtype;
              k.layout = layout;
              k.bias = flags & 1;
              k.silu = flags & 2;
              k.init = flags & 4;
              k.final_state = flags & 8;
              k.dfinal = flags & 16;
              k.weight_dtype = (flags % 3 == 0) ? dtype : DType::kFloat32;
              k.threads = 1 + (flags % 2);
              ++flags;
              // The biggest cases only in the forward-and-backward subset that keeps the run short.
              const bool backward = !(K >= 64 && L == 1000 && B * C > 3) || dtype == DType::kFloat32;
              test_case(k, backward);
            }
}

// Every flag combination on a few shapes, including L < K-1 (state reaching into initial_state).
void flag_combinations() {
  for (int64_t K : {4, 9})
    for (int64_t L : {2, 5, 40})
      for (int f = 0; f < 32; ++f)
        for (Layout layout : {Layout::kChannelMajor, Layout::kChannelsLast})
          for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
            Case k;
            k.B = 2; k.C = 11; k.L = L; k.K = K;
            k.dtype = dtype;
            k.layout = layout;
            k.bias = f & 1; k.silu = f & 2; k.init = f & 4; k.final_state = f & 8; k.dfinal = f & 16;
            test_case(k, true);
          }
}

// Backward with each gradient requested alone (the kernel skips work for absent outputs).
void partial_gradients() {
  for (Layout layout : {Layout::kChannelMajor, Layout::kChannelsLast, Layout::kOdd})
    for (int which = 0; which < 4; ++which) {
      Case k;
      k.B = 3; k.C = 13; k.L = 50; k.K = 5;
      k.layout = layout;
      k.bias = k.silu = k.init = k.dfinal = true;
      Problem pr(k);
      pr.dx.poison(); pr.dw.poison(); pr.db.poison(); pr.dinit.poison();
      short_conv_backward(pr.backward_params(which == 0, which == 1, which == 2, which == 3));
      const Reference ref = reference(k, pr.in, true);
      std::string detail;
      const double tol = tolerance(k.dtype);
      const HostTensor* outs[] = {&pr.dx, &pr.dw, &pr.db, &pr.dinit};
      const std::vector<double>* refs[] = {&ref.dx, &ref.dw, &ref.db, &ref.dinit};
      const std::vector<double>* mags[] = {&ref.dx_mag, &ref.dw_mag, &ref.db_mag, &ref.dinit_mag};
      for (int o = 0; o < 4; ++o) {
        const std::string name = "partial gradients (only #" + std::to_string(which) + ", out #" +
                                 std::to_string(o) + ") " + k.name() + path_name();
        if (o == which) {
          check(close_all(*outs[o], *refs[o], *mags[o], tol, &detail), name + detail);
        } else {
          bool untouched = true;
          for (int64_t i = 0; i < outs[o]->storage_elems; ++i)
            untouched = untouched && std::isnan(outs[o]->get_raw(i));
          check(untouched, name + " left untouched");
        }
      }
    }
}

// ---- chunked == whole -----------------------------------------------------------------------------

void chunked_equals_whole() {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64})
    for (Layout layout : {Layout::kChannelMajor, Layout::kChannelsLast, Layout::kOdd})
      for (int64_t K : {1, 3, 4, 7, 64})
        for (bool silu : {false, true}) {
          Case whole;
          whole.B = 2; whole.C = 19; whole.L = 300; whole.K = K;
          whole.dtype = dtype; whole.layout = layout; whole.silu = silu; whole.bias = true;
          whole.init = true; whole.final_state = true;
          Problem all(whole);
          all.forward();
          // Chunks of 1, 2 (< K-1 for long filters), 97 and the rest.
          const int64_t cuts[] = {0, 1, 3, 100, 300};
          HostTensor state = all.init;
          bool same = true;
          for (int piece = 0; piece + 1 < 5; ++piece) {
            Case part = whole;
            part.L = cuts[piece + 1] - cuts[piece];
            Problem chunk(part);
            chunk.w = all.w;
            chunk.bias = all.bias;
            chunk.init = state;
            for (int64_t b = 0; b < part.B; ++b)
              for (int64_t c = 0; c < part.C; ++c)
                for (int64_t t = 0; t < part.L; ++t)
                  chunk.x.set((b * part.C + c) * part.L + t,
                              all.x.get((b * whole.C + c) * whole.L + cuts[piece] + t));
            chunk.forward();
            for (int64_t b = 0; b < part.B; ++b)
              for (int64_t c = 0; c < part.C; ++c)
                for (int64_t t = 0; t < part.L; ++t) {
                  const double a = chunk.y.get((b * part.C + c) * part.L + t);
                  const double e = all.y.get((b * whole.C + c) * whole.L + cuts[piece] + t);
                  same = same && a == e;
                }
            state = chunk.final_state;
          }
          bool state_same = true;
          for (int64_t i = 0; i < all.final_state.numel(); ++i)
            state_same = state_same && state.get(i) == all.final_state.get(i);
          const std::string name = whole.name() + path_name();
          check(same, "chunked y == whole y (bitwise) " + name);
          check(state_same, "chunked final_state == whole final_state " + name);
        }
}

// ---- adjoint identities and finite differences in float64 ---------------------------------------

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Loss(theta) = <dy, y(theta)> + <dfinal, final(theta)> evaluated with the kernel's forward.
double loss(Problem& pr) {
  pr.forward();
  double s = dot(pr.dy.values(), pr.y.values());
  if (pr.k.final_state) s += dot(pr.dfinal.values(), pr.final_state.values());
  return s;
}

// For each input u in {x, weight, bias, initial_state}: <grad_u, v> against
//   silu off: J v exactly, since y is linear in x, bias and the state, and in the weight alone
//             (loss(u + v) - loss(u) with the other inputs fixed is exact for a linear map);
//   silu on:  the central difference (loss(u + eps v) - loss(u - eps v)) / (2 eps), eps = 1e-5.
void adjoint_and_finite_differences() {
  for (Layout layout : {Layout::kChannelMajor, Layout::kChannelsLast, Layout::kOdd})
    for (int64_t K : {1, 3, 6})
      for (int64_t L : {2, 33})
        for (bool silu : {false, true}) {
          Case k;
          k.B = 2; k.C = 10; k.L = L; k.K = K;
          k.dtype = k.weight_dtype = DType::kFloat64;
          k.layout = layout;
          k.bias = k.init = k.final_state = k.dfinal = true;
          k.silu = silu;
          Problem pr(k);
          pr.backward();
          HostTensor* inputs[] = {&pr.x, &pr.w, &pr.bias, &pr.init};
          const HostTensor* grads[] = {&pr.dx, &pr.dw, &pr.db, &pr.dinit};
          const char* names[] = {"x", "weight", "bias", "initial_state"};
          for (int u = 0; u < 4; ++u) {
            if (inputs[u]->numel() == 0) continue;
            const std::vector<double> base = inputs[u]->values();
            const std::vector<double> v = random_values(inputs[u]->numel());
            const double predicted = dot(grads[u]->values(), v);
            double measured;
            auto shifted = [&](double eps) {
              std::vector<double> moved = base;
              for (size_t i = 0; i < moved.size(); ++i) moved[i] += eps * v[i];
              inputs[u]->fill(moved);
              return loss(pr);
            };
            if (!silu) {
              // Linear in u (affine with the others fixed): J v = loss(u + v) - loss(u).
              measured = shifted(1.0) - shifted(0.0);
            } else {
              const double eps = 1e-5;
              measured = (shifted(eps) - shifted(-eps)) / (2 * eps);
            }
            inputs[u]->fill(base);
            const double tol = silu ? 1e-6 : 1e-10;
            const std::string what = std::string(silu ? "finite differences " : "adjoint identity ") +
                                     names[u] + " " + k.name() + path_name();
            char s[96];
            std::snprintf(s, sizeof s, " [%.12g vs %.12g]", predicted, measured);
            check(std::fabs(predicted - measured) <= tol * (1 + std::fabs(measured)), what + s);
          }
        }
}

// ---- determinism across thread counts -------------------------------------------------------------

void determinism() {
  for (Layout layout : {Layout::kChannelMajor, Layout::kChannelsLast})
    for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
      Case k;
      k.B = 3; k.C = 160; k.L = 3000; k.K = 4;
      k.dtype = dtype; k.layout = layout; k.bias = k.silu = k.init = true;
      k.threads = 1;
      Problem pr(k);
      pr.backward();
      const std::vector<unsigned char> dw1 = pr.dw.storage, db1 = pr.db.storage,
                                       dx1 = pr.dx.storage;
      pr.forward();
      const std::vector<unsigned char> y1 = pr.y.storage;
      bool same = true;
      for (int threads : {2, 3, 2}) {
        pr.k.threads = threads;
        pr.backward();
        pr.forward();
        same = same && pr.dw.storage == dw1 && pr.db.storage == db1 && pr.dx.storage == dx1 &&
               pr.y.storage == y1;
      }
      check(same, "bitwise identical results with 1, 2, 3 threads " + k.name() + path_name());
    }
}

// ---- step == forward one token at a time ----------------------------------------------------------

void step_matches_forward() {
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16})
    for (int64_t K : {1, 2, 3, 4, 5, 64, 128})
      for (bool silu : {false, true})
        for (bool state_channels_last : {false, true}) {
          Case k;
          k.B = 3; k.C = 21; k.L = 20; k.K = K;
          k.dtype = dtype; k.weight_dtype = K % 2 ? dtype : DType::kFloat32;
          k.bias = true; k.silu = silu; k.init = true; k.final_state = true;
          Problem pr(k);
          pr.forward();
          const int64_t H = K - 1;
          HostTensor state = state_channels_last
                                 ? make_tensor(dtype, {k.B, k.C, H}, {0, 2, 1})
                                 : make_tensor(dtype, {k.B, k.C, H}, {0, 1, 2}, 1, 2);
          state.fill(pr.init.values());
          HostTensor xt = make_tensor(dtype, {k.B, k.C}, {0, 1}, 1, 1);
          HostTensor yt = make_tensor(dtype, {k.B, k.C}, {0, 1});
          double worst = 0;
          for (int64_t t = 0; t < k.L; ++t) {
            for (int64_t b = 0; b < k.B; ++b)
              for (int64_t c = 0; c < k.C; ++c) xt.set(b * k.C + c, pr.x.get((b * k.C + c) * k.L + t));
            ShortConvStepParams p;
            p.x = xt.view();
            p.state = state.view();
            p.weight = pr.w.view();
            p.bias = pr.bias.view();
            p.activation = silu ? Activation::kSilu : Activation::kNone;
            p.y = yt.view();
            p.launch.num_threads = 2;
            short_conv_step(p);
            for (int64_t b = 0; b < k.B; ++b)
              for (int64_t c = 0; c < k.C; ++c) {
                const double want = pr.y.get((b * k.C + c) * k.L + t);
                const double got = yt.get(b * k.C + c);
                const double err = std::fabs(got - want) / (1 + std::fabs(want));
                worst = std::max(worst, std::isnan(err) ? 1e9 : err);
              }
          }
          // Different summation order from the forward: two roundings of the dtype at most.
          const double tol = 2 * tolerance(dtype) * (K >= 64 ? 4 : 1);
          check(worst <= tol, "step == forward token by token " + k.name() +
                                  (state_channels_last ? " state channels-last" : "") +
                                  " worst " + std::to_string(worst));
          bool state_same = true;
          for (int64_t i = 0; i < state.numel(); ++i)
            state_same = state_same && state.get(i) == pr.final_state.get(i);
          check(state_same, "step state == forward final_state " + k.name());
          check(state.padding_intact(), "step state padding untouched " + k.name());
        }
}

// ---- validation ----------------------------------------------------------------------------------

void expect_invalid(const std::function<void()>& call, const std::string& argument,
                    const std::string& what) {
  try {
    call();
    check(false, "validation: " + what + " did not throw");
  } catch (const InvalidArgument& e) {
    const std::string msg = e.what();
    check(msg.rfind(argument + ":", 0) == 0 || msg.find(argument) != std::string::npos,
          "validation: " + what + " names '" + argument + "' (got: " + msg + ")");
  } catch (const std::exception& e) {
    check(false, "validation: " + what + " threw a non-InvalidArgument: " + e.what());
  }
}

void validation() {
  Case k;
  k.B = 2; k.C = 5; k.L = 9; k.K = 3;
  k.bias = k.init = k.final_state = k.dfinal = true;
  Problem pr(k);
  HostTensor wrong_c = make_tensor(DType::kFloat32, {2, 4, 9}, {0, 1, 2});
  HostTensor wrong_state = make_tensor(DType::kFloat32, {2, 5, 3}, {0, 1, 2});
  HostTensor state_f64 = make_tensor(DType::kFloat64, {2, 5, 2}, {0, 1, 2});
  HostTensor w_big = make_tensor(DType::kFloat32, {5, 129}, {0, 1});
  HostTensor w_zero = make_tensor(DType::kFloat32, {5, 0}, {0, 1});
  HostTensor bias_wrong = make_tensor(DType::kFloat32, {4}, {0});
  HostTensor y_half = make_tensor(DType::kFloat16, {2, 5, 9}, {0, 1, 2});
  HostTensor x2d = make_tensor(DType::kFloat32, {2, 5}, {0, 1});

  auto fwd = [&](const std::function<void(ShortConvForwardParams&)>& edit) {
    return [&pr, edit] {
      ShortConvForwardParams p = pr.forward_params();
      edit(p);
      short_conv_forward(p);
    };
  };
  auto bwd = [&](const std::function<void(ShortConvBackwardParams&)>& edit) {
    return [&pr, edit] {
      ShortConvBackwardParams p = pr.backward_params();
      edit(p);
      short_conv_backward(p);
    };
  };
  expect_invalid(fwd([&](auto& p) { p.x = x2d.view(); }), "x", "x with 2 dims");
  expect_invalid(fwd([&](auto& p) { p.x = TensorView(); }), "x", "x absent");
  expect_invalid(fwd([&](auto& p) { p.y = TensorView(); }), "y", "y absent");
  expect_invalid(fwd([&](auto& p) { p.y = wrong_c.view(); }), "y", "y with the wrong C");
  expect_invalid(fwd([&](auto& p) { p.y = y_half.view(); }), "y", "y with another dtype");
  expect_invalid(fwd([&](auto& p) { p.weight = w_big.view(); }), "weight", "K = 129");
  expect_invalid(fwd([&](auto& p) { p.weight = w_zero.view(); }), "weight", "K = 0");
  expect_invalid(fwd([&](auto& p) { p.weight = x2d.view(); }), "weight", "weight with the wrong C");
  expect_invalid(fwd([&](auto& p) { p.bias = bias_wrong.view(); }), "bias", "bias of 4 channels");
  expect_invalid(fwd([&](auto& p) { p.initial_state = wrong_state.view(); }), "initial_state",
                 "initial_state with K instead of K-1");
  expect_invalid(fwd([&](auto& p) { p.initial_state = state_f64.view(); }), "initial_state",
                 "initial_state with another dtype");
  expect_invalid(fwd([&](auto& p) { p.final_state = wrong_state.view(); }), "final_state",
                 "final_state with K instead of K-1");
  expect_invalid(fwd([&](auto& p) { p.y.strides[1] = 0; }), "y", "broadcast y");
#if !SERENGETI_HAVE_CUDA
  expect_invalid(fwd([&](auto& p) { p.launch.backend = Backend::kCuda; }), "backend",
                 "cuda backend (not built)");
#endif
  expect_invalid(bwd([&](auto& p) { p.dy = TensorView(); }), "dy", "dy absent");
  expect_invalid(bwd([&](auto& p) { p.dy = wrong_c.view(); }), "dy", "dy with the wrong C");
  expect_invalid(bwd([&](auto& p) { p.dx = y_half.view(); }), "dx", "dx with another dtype");
  expect_invalid(bwd([&](auto& p) { p.dweight = w_big.view(); }), "dweight", "dweight shape");
  expect_invalid(bwd([&](auto& p) { p.dbias = bias_wrong.view(); }), "dbias", "dbias shape");
  expect_invalid(bwd([&](auto& p) { p.dfinal_state = wrong_state.view(); }), "dfinal_state",
                 "dfinal_state shape");
  expect_invalid(bwd([&](auto& p) { p.dinitial_state = state_f64.view(); }), "dinitial_state",
                 "dinitial_state dtype");
#if SERENGETI_HAVE_EMU
  // The emulated CUDA backward reduces dweight through a caller-provided workspace.
  expect_invalid(bwd([&](auto& p) { p.launch.backend = Backend::kEmu; }), "workspace",
                 "emu backward without its workspace");
#else
  expect_invalid(bwd([&](auto& p) { p.launch.backend = Backend::kEmu; }), "backend",
                 "emu backend (not built)");
#endif

  HostTensor xs = make_tensor(DType::kFloat32, {2, 5}, {0, 1});
  HostTensor ys = make_tensor(DType::kFloat32, {2, 5}, {0, 1});
  HostTensor st = make_tensor(DType::kFloat32, {2, 5, 2}, {0, 1, 2});
  auto stp = [&](const std::function<void(ShortConvStepParams&)>& edit) {
    return [&, edit] {
      ShortConvStepParams p;
      p.x = xs.view();
      p.state = st.view();
      p.weight = pr.w.view();
      p.y = ys.view();
      edit(p);
      short_conv_step(p);
    };
  };
  expect_invalid(stp([&](auto& p) { p.x = pr.x.view(); }), "x", "step x with 3 dims");
  expect_invalid(stp([&](auto& p) { p.state = TensorView(); }), "state", "step state absent");
  expect_invalid(stp([&](auto& p) { p.state = wrong_state.view(); }), "state", "step state shape");
  expect_invalid(stp([&](auto& p) { p.state = state_f64.view(); }), "state", "step state dtype");
  expect_invalid(stp([&](auto& p) { p.y = pr.y.view(); }), "y", "step y shape");
  expect_invalid(stp([&](auto& p) { p.weight = w_big.view(); }), "weight", "step K = 129");
  expect_invalid(stp([&](auto& p) { p.bias = bias_wrong.view(); }), "bias", "step bias shape");
  // A valid call goes through.
  bool ok = true;
  try {
    stp([](auto&) {})();
  } catch (...) {
    ok = false;
  }
  check(ok, "validation: a valid step call does not throw");
}

void run_all() {
  sweep();
  flag_combinations();
  partial_gradients();
  chunked_equals_whole();
  adjoint_and_finite_differences();
  determinism();
  step_matches_forward();
  validation();
}

}  // namespace

int main() {
  const bool have_avx2 = cpu::cpu_supports_avx2_fma();
  std::printf("short_conv CPU tests (AVX2+FMA %s)\n", have_avx2 ? "available" : "not available");
  cpu::set_force_portable(false);
  run_all();
  if (have_avx2) {
    cpu::set_force_portable(true);
    run_all();
    cpu::set_force_portable(false);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
