// The short-conv CUDA kernels (cuda/short_conv/), executed by the host emulator, against the naive
// float64 reference of short_conv_reference.h. Standalone: prints "N passed, M failed" and exits
// nonzero on failure.
//
// Covered: K in {1, 2, 3, 4, 5, 64, 128} x L in {1, 2, 3, 7, 127, 1000} for three layouts
// (channel-major, channels-last, an odd-strided view) and four x dtypes, B in {1, 3}, C in {1, 3,
// 17}, weight/bias dtypes independent of x's, every optional argument on and off (L < K-1 too);
// chunked == whole; backward against the reference, adjoint identities in float64 and finite
// differences for SiLU; dweight/dbias bitwise identical across emulator seeds and worker counts;
// step == forward token by token; outputs start as NaN (GuardedBuffer) and the gaps of strided
// outputs must stay untouched; each kernel runs under at least two emulator seeds.
//
// Tolerances: inputs are rounded to their dtype first and the reference uses the rounded values, so
// the only errors are the kernel's float32 (float64) arithmetic and the final rounding:
//   |got - ref| <= 2 u_out |ref| + 4 (terms + 4) u_acc magnitude (+ 2^-24 for float16 subnormals)
// with u_out the unit roundoff of the output dtype, u_acc that of the accumulation (2^-24 float32,
// 2^-53 float64), `terms` the length of the longest sum and `magnitude` the same sum over absolute
// values (short_conv_reference.h). That is the classic a-priori bound of recursive summation.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda/emu/emu_api.h"
#include "cuda/short_conv/short_conv_cuda.h"
#include "emu_test.h"
#include "serengeti/error.h"
#include "serengeti/short_conv.h"
#include "short_conv_reference.h"

namespace {

using serengeti::Activation;
using serengeti::DType;
using serengeti::TensorView;
namespace ref = short_conv_reference;
namespace emu_ops = serengeti::emu;
using emu_test::check;

// ---- host tensors in guarded buffers ------------------------------------------------------------
enum class Layout { kChannelMajor, kChannelsLast, kOddStrides };

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kChannelMajor: return "channel-major";
    case Layout::kChannelsLast: return "channels-last";
    case Layout::kOddStrides: return "odd-strides";
  }
  return "?";
}

double unit_roundoff(DType d) {
  switch (d) {
    case DType::kFloat64: return std::ldexp(1.0, -53);
    case DType::kFloat32: return std::ldexp(1.0, -24);
    case DType::kFloat16: return std::ldexp(1.0, -11);
    case DType::kBFloat16: return std::ldexp(1.0, -8);
  }
  return 1.0;
}

// A strided tensor of up to 3 dims in a GuardedBuffer. Every byte the view does not cover (the
// gaps of a strided layout and the optional misaligning lead element) stays 0xFF, so a kernel that
// writes outside the view is caught by gaps_untouched(); writes beyond the buffer hit the guard
// bands. The buffer starts as 0xFF: NaN in every float dtype.
class HostTensor {
 public:
  HostTensor(DType dtype, std::vector<int64_t> sizes, Layout layout, bool misalign, const std::string& label)
      : dtype_(dtype), ndim_(static_cast<int>(sizes.size())) {
    for (int d = 0; d < ndim_; ++d) sizes_[d] = sizes[d];
    if (ndim_ == 3) {
      const int64_t s1 = sizes_[1], s2 = sizes_[2];
      switch (layout) {
        case Layout::kChannelMajor: set_strides({s1 * s2, s2, 1}); break;
        case Layout::kChannelsLast: set_strides({s1 * s2, 1, s1}); break;
        case Layout::kOddStrides: set_strides({s1 * (3 * s2 + 1) + 5, 3 * s2 + 1, 3}); break;
      }
    } else if (ndim_ == 2) {
      // (C, K) or (B, C): transposed storage for the odd layout.
      if (layout == Layout::kOddStrides)
        set_strides({1, sizes_[0] + 2});
      else
        set_strides({sizes_[1], 1});
    } else {
      set_strides({layout == Layout::kOddStrides ? 2 : 1});
    }
    int64_t span = 0;
    bool empty = false;
    for (int d = 0; d < ndim_; ++d) {
      if (sizes_[d] == 0) empty = true;
      span += (sizes_[d] - 1) * strides_[d];
    }
    if (!empty) {
      lead_ = misalign ? 1 : 0;
      elements_ = lead_ + span + 1;
      buffer_ = std::make_unique<sg_emu::GuardedBuffer>(elements_ * elem_bytes(), label);
    }
  }

  TensorView view() const {
    TensorView v;
    v.data = buffer_ ? static_cast<unsigned char*>(buffer_->data()) + lead_ * elem_bytes() : nullptr;
    v.dtype = dtype_;
    v.ndim = ndim_;
    for (int d = 0; d < ndim_; ++d) {
      v.sizes[d] = sizes_[d];
      v.strides[d] = strides_[d];
    }
    return v;
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim_; ++d) n *= sizes_[d];
    return n;
  }
  // Logical element i of the row-major (dense) order.
  int64_t offset_of(int64_t i) const {
    int64_t off = 0;
    for (int d = ndim_ - 1; d >= 0; --d) {
      off += (i % sizes_[d]) * strides_[d];
      i /= sizes_[d];
    }
    return lead_ + off;
  }
  double get(int64_t i) const { return read(offset_of(i)); }
  void set(int64_t i, double v) { write(offset_of(i), v); }
  // Fills with values in [-scale, scale] rounded to the dtype; returns the rounded values.
  std::vector<double> fill_random(std::mt19937_64& rng, double scale) {
    std::uniform_real_distribution<double> dist(-scale, scale);
    std::vector<double> values(numel());
    for (int64_t i = 0; i < numel(); ++i) {
      set(i, dist(rng));
      values[i] = get(i);
    }
    return values;
  }
  std::vector<double> values() const {
    std::vector<double> v(numel());
    for (int64_t i = 0; i < numel(); ++i) v[i] = get(i);
    return v;
  }
  std::vector<unsigned char> bytes() const {
    if (!buffer_) return {};
    const auto* p = static_cast<const unsigned char*>(buffer_->data());
    return std::vector<unsigned char>(p, p + elements_ * elem_bytes());
  }
  // True when every byte outside the view is still 0xFF.
  bool gaps_untouched() const {
    if (!buffer_) return true;
    std::vector<char> covered(elements_, 0);
    for (int64_t i = 0; i < numel(); ++i) covered[offset_of(i)] = 1;
    const auto* p = static_cast<const unsigned char*>(buffer_->data());
    for (int64_t e = 0; e < elements_; ++e)
      if (!covered[e])
        for (size_t k = 0; k < elem_bytes(); ++k)
          if (p[e * elem_bytes() + k] != 0xFF) return false;
    return true;
  }
  DType dtype() const { return dtype_; }

 private:
  void set_strides(std::initializer_list<int64_t> s) {
    int d = 0;
    for (int64_t v : s) strides_[d++] = v;
  }
  size_t elem_bytes() const { return serengeti::dtype_size(dtype_); }
  double read(int64_t e) const {
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
    unsigned char* p = static_cast<unsigned char*>(buffer_->data()) + e * elem_bytes();
    switch (dtype_) {
      case DType::kFloat64: std::memcpy(p, &value, 8); return;
      case DType::kFloat32: { const float v = static_cast<float>(value); std::memcpy(p, &v, 4); return; }
      case DType::kFloat16: { const uint16_t v = ref::float_to_half_bits(static_cast<float>(value)); std::memcpy(p, &v, 2); return; }
      case DType::kBFloat16: { const uint16_t v = ref::float_to_bf16_bits(static_cast<float>(value)); std::memcpy(p, &v, 2); return; }
    }
  }

  DType dtype_;
  int ndim_;
  int64_t sizes_[3] = {0, 0, 0};
  int64_t strides_[3] = {0, 0, 0};
  int64_t lead_ = 0, elements_ = 0;
  std::unique_ptr<sg_emu::GuardedBuffer> buffer_;
};

// Compares got against ref with the tolerance of the file comment; reports the worst element.
bool close_enough(const std::vector<double>& got, const std::vector<double>& want,
                  const std::vector<double>& magnitude, DType out_dtype, double u_acc, double terms,
                  std::string* detail) {
  if (got.size() != want.size()) {
    *detail = "size mismatch";
    return false;
  }
  const double u_out = unit_roundoff(out_dtype);
  const double floor = out_dtype == DType::kFloat16 ? std::ldexp(1.0, -24) : 1e-300;
  for (size_t i = 0; i < got.size(); ++i) {
    const double mag = magnitude.empty() ? std::fabs(want[i]) : magnitude[i];
    const double tol = 2 * u_out * std::fabs(want[i]) + 4 * (terms + 4) * u_acc * mag + floor;
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      char text[200];
      std::snprintf(text, sizeof(text), "element %zu: got %.17g want %.17g (tol %.3g)", i, got[i],
                    want[i], tol);
      *detail = text;
      return false;
    }
  }
  return true;
}

double accumulation_roundoff(DType x_dtype) {
  return x_dtype == DType::kFloat64 ? unit_roundoff(DType::kFloat64) : unit_roundoff(DType::kFloat32);
}

// ---- a problem instance: inputs in guarded host tensors plus the reference's view of them --------
struct Case {
  int64_t B = 1, C = 1, L = 1;
  int K = 1;
  DType x_dtype = DType::kFloat32, w_dtype = DType::kFloat32, b_dtype = DType::kFloat32;
  Layout layout = Layout::kChannelMajor;
  bool bias = false, silu = false, init = false, final_state = false;
  bool misalign = false;
  uint64_t data_seed = 1;

  std::string name() const {
    char text[256];
    std::snprintf(text, sizeof(text),
                  "B=%lld C=%lld L=%lld K=%d x=%s w=%s b=%s %s%s bias=%d silu=%d init=%d final=%d",
                  (long long)B, (long long)C, (long long)L, K, serengeti::dtype_name(x_dtype),
                  serengeti::dtype_name(w_dtype), serengeti::dtype_name(b_dtype), layout_name(layout),
                  misalign ? " misaligned" : "", bias, silu, init, final_state);
    return text;
  }
};

struct Inputs {
  std::unique_ptr<HostTensor> x, weight, bias, init;
  ref::Problem problem;
};

Inputs make_inputs(const Case& c) {
  std::mt19937_64 rng(c.data_seed);
  Inputs in;
  in.x = std::make_unique<HostTensor>(c.x_dtype, std::vector<int64_t>{c.B, c.C, c.L}, c.layout, c.misalign, "x");
  in.weight = std::make_unique<HostTensor>(c.w_dtype, std::vector<int64_t>{c.C, c.K}, c.layout, false, "weight");
  ref::Problem& p = in.problem;
  p.B = c.B;
  p.C = c.C;
  p.L = c.L;
  p.K = c.K;
  p.silu = c.silu;
  p.x = in.x->fill_random(rng, 1.0);
  p.w = in.weight->fill_random(rng, 1.0);
  if (c.bias) {
    in.bias = std::make_unique<HostTensor>(c.b_dtype, std::vector<int64_t>{c.C}, c.layout, false, "bias");
    p.bias = in.bias->fill_random(rng, 1.0);
    p.has_bias = true;
  }
  if (c.init) {
    in.init = std::make_unique<HostTensor>(c.x_dtype, std::vector<int64_t>{c.B, c.C, c.K - 1}, c.layout, false,
                                           "initial_state");
    p.init = in.init->fill_random(rng, 1.0);
    p.has_init = true;
  }
  return in;
}

TensorView view_or_absent(const std::unique_ptr<HostTensor>& t) { return t ? t->view() : TensorView{}; }

serengeti::LaunchConfig emu_launch() {
  serengeti::LaunchConfig l;
  l.backend = serengeti::Backend::kEmu;
  return l;
}

// Runs f; a thrown exception is a failure named `what`.
bool run_guarded(const std::string& what, const std::function<void()>& f) {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    check(false, what + ": threw: " + e.what());
    return false;
  }
}

// ---- forward ------------------------------------------------------------------------------------
struct ForwardOutputs {
  std::unique_ptr<HostTensor> y, final_state;
};

ForwardOutputs run_forward(const Case& c, const Inputs& in) {
  ForwardOutputs out;
  out.y = std::make_unique<HostTensor>(c.x_dtype, std::vector<int64_t>{c.B, c.C, c.L}, c.layout, c.misalign, "y");
  if (c.final_state)
    out.final_state = std::make_unique<HostTensor>(c.x_dtype, std::vector<int64_t>{c.B, c.C, c.K - 1}, c.layout,
                                                   false, "final_state");
  serengeti::ShortConvForwardParams p;
  p.x = in.x->view();
  p.weight = in.weight->view();
  p.bias = view_or_absent(in.bias);
  p.initial_state = view_or_absent(in.init);
  p.activation = c.silu ? Activation::kSilu : Activation::kNone;
  p.y = out.y->view();
  p.final_state = view_or_absent(out.final_state);
  p.launch = emu_launch();
  emu_ops::short_conv_forward(p);
  return out;
}

void check_forward_case(const Case& c) {
  const std::string what = "forward " + c.name();
  run_guarded(what, [&] {
    Inputs in = make_inputs(c);
    ForwardOutputs out = run_forward(c, in);
    const ref::Forward want = ref::forward(in.problem);
    std::string detail;
    const double u_acc = accumulation_roundoff(c.x_dtype);
    const double silu_factor = c.silu ? 2.0 : 1.0;  // expf and the product add a few roundings
    check(close_enough(out.y->values(), want.y, want.magnitude, c.x_dtype, u_acc, silu_factor * (c.K + 2), &detail),
          what + ": y " + detail);
    check(out.y->gaps_untouched(), what + ": y written outside its view");
    if (c.final_state) {
      // A copy: exact.
      check(out.final_state->values() == want.final_state, what + ": final_state differs");
      check(out.final_state->gaps_untouched(), what + ": final_state written outside its view");
    }
  });
}

// ---- backward -----------------------------------------------------------------------------------
struct BackwardRequest {
  bool dx = true, dweight = true, dbias = true, dinit = true, dfinal = true;
};

struct BackwardOutputs {
  std::unique_ptr<HostTensor> dy, dfinal, dx, dweight, dbias, dinit;
  std::vector<double> dy_values, dfinal_values;
};

BackwardOutputs run_backward(const Case& c, const Inputs& in, const BackwardRequest& r, uint64_t grad_seed) {
  std::mt19937_64 rng(grad_seed);
  BackwardOutputs o;
  const std::vector<int64_t> bcl{c.B, c.C, c.L}, state{c.B, c.C, c.K - 1};
  o.dy = std::make_unique<HostTensor>(c.x_dtype, bcl, c.layout, c.misalign, "dy");
  o.dy_values = o.dy->fill_random(rng, 1.0);
  if (r.dfinal) {
    o.dfinal = std::make_unique<HostTensor>(c.x_dtype, state, c.layout, false, "dfinal_state");
    o.dfinal_values = o.dfinal->fill_random(rng, 1.0);
  }
  if (r.dx) o.dx = std::make_unique<HostTensor>(c.x_dtype, bcl, c.layout, c.misalign, "dx");
  if (r.dweight)
    o.dweight = std::make_unique<HostTensor>(c.w_dtype, std::vector<int64_t>{c.C, c.K}, c.layout, false, "dweight");
  if (r.dbias) o.dbias = std::make_unique<HostTensor>(c.b_dtype, std::vector<int64_t>{c.C}, c.layout, false, "dbias");
  if (r.dinit) o.dinit = std::make_unique<HostTensor>(c.x_dtype, state, c.layout, false, "dinitial_state");

  serengeti::ShortConvBackwardParams p;
  p.x = in.x->view();
  p.weight = in.weight->view();
  p.bias = view_or_absent(in.bias);
  p.initial_state = view_or_absent(in.init);
  p.activation = c.silu ? Activation::kSilu : Activation::kNone;
  p.dy = o.dy->view();
  p.dfinal_state = view_or_absent(o.dfinal);
  p.dx = view_or_absent(o.dx);
  p.dweight = view_or_absent(o.dweight);
  p.dbias = view_or_absent(o.dbias);
  p.dinitial_state = view_or_absent(o.dinit);
  p.launch = emu_launch();
  const int64_t bytes = emu_ops::short_conv_backward_workspace_bytes(p);
  std::unique_ptr<sg_emu::GuardedBuffer> workspace;
  if (bytes > 0) {
    workspace = std::make_unique<sg_emu::GuardedBuffer>(bytes, "workspace");
    p.workspace = workspace->data();
    p.workspace_bytes = bytes;
  }
  emu_ops::short_conv_backward(p);
  return o;
}

void check_backward_case(const Case& c, const BackwardRequest& r) {
  const std::string what = "backward " + c.name() + (r.dfinal ? " dfinal=1" : " dfinal=0");
  run_guarded(what, [&] {
    Inputs in = make_inputs(c);
    BackwardOutputs o = run_backward(c, in, r, c.data_seed + 1000);
    const ref::Backward want = ref::backward(in.problem, o.dy_values, o.dfinal_values);
    const double u_acc = accumulation_roundoff(c.x_dtype);
    const double silu_factor = c.silu ? 2.0 : 1.0;
    const double row_terms = silu_factor * 2 * (c.K + 2);
    const double reduce_terms = silu_factor * (c.K + 2 + c.B * c.L);
    std::string detail;
    if (r.dx) {
      check(close_enough(o.dx->values(), want.dx, want.dx_mag, c.x_dtype, u_acc, row_terms, &detail),
            what + ": dx " + detail);
      check(o.dx->gaps_untouched(), what + ": dx written outside its view");
    }
    if (r.dinit && c.K > 1) {
      check(close_enough(o.dinit->values(), want.dinit, want.dinit_mag, c.x_dtype, u_acc, row_terms, &detail),
            what + ": dinitial_state " + detail);
      check(o.dinit->gaps_untouched(), what + ": dinitial_state written outside its view");
    }
    if (r.dweight) {
      check(close_enough(o.dweight->values(), want.dw, want.dw_mag, c.w_dtype, u_acc, reduce_terms, &detail),
            what + ": dweight " + detail);
      check(o.dweight->gaps_untouched(), what + ": dweight written outside its view");
    }
    if (r.dbias) {
      check(close_enough(o.dbias->values(), want.dbias, want.dbias_mag, c.b_dtype, u_acc, reduce_terms, &detail),
            what + ": dbias " + detail);
    }
  });
}

// ---- sweeps ----------------------------------------------------------------------------------------
const int kTapCounts[] = {1, 2, 3, 4, 5, 64, 128};
const int64_t kLengths[] = {1, 2, 3, 7, 127, 1000};
const DType kDTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64};
const Layout kLayouts[] = {Layout::kChannelMajor, Layout::kChannelsLast, Layout::kOddStrides};

// Every (K, L, layout, x dtype) once; the other choices (B, C, weight/bias dtypes, options,
// misalignment, emulator seed) rotate with a counter so that all values of each appear many times.
void sweep(bool backward) {
  int counter = 0;
  for (int K : kTapCounts)
    for (int64_t L : kLengths)
      for (Layout layout : kLayouts)
        for (DType x_dtype : kDTypes) {
          const int n = counter++;
          Case c;
          c.K = K;
          c.L = L;
          c.layout = layout;
          c.x_dtype = x_dtype;
          c.B = (n % 2) ? 3 : 1;
          c.C = (n / 2) % 3 == 0 ? 17 : ((n / 2) % 3 == 1 ? 3 : 1);
          c.w_dtype = kDTypes[(n / 3) % 4];
          c.b_dtype = kDTypes[(n / 5) % 4];
          const int options = (n * 7) % 16;  // all 16 combinations, in a scrambled order
          c.bias = options & 1;
          c.silu = options & 2;
          c.init = options & 4;
          c.final_state = options & 8;
          c.misalign = layout == Layout::kChannelMajor && (n / 4) % 2 == 1;
          c.data_seed = 100 + n;
          sg_emu::set_seed(1 + n % 2);
          if (backward) {
            BackwardRequest r;
            r.dfinal = (n / 7) % 2 == 0;
            check_backward_case(c, r);
          } else {
            check_forward_case(c);
          }
        }
  sg_emu::set_seed(1);
}

// Every combination of the options on a few shapes, including L < K-1 (the state reaches through).
void option_grid() {
  struct Shape { int64_t B, C, L; int K; };
  // 1030 and 4097 steps span 2 and 5 row chunks (1024 steps each), so halos cross block borders.
  const Shape shapes[] = {{3, 3, 2, 5}, {1, 17, 7, 4}, {3, 1, 3, 64}, {1, 3, 1030, 3}, {1, 3, 4097, 4}};
  int n = 0;
  for (const Shape& s : shapes)
    for (int options = 0; options < 16; ++options)
      for (Layout layout : {Layout::kChannelMajor, Layout::kChannelsLast}) {
        Case c;
        c.B = s.B; c.C = s.C; c.L = s.L; c.K = s.K;
        c.layout = layout;
        c.x_dtype = (n % 3 == 0) ? DType::kFloat64 : DType::kFloat32;
        c.bias = options & 1; c.silu = options & 2; c.init = options & 4; c.final_state = options & 8;
        c.data_seed = 5000 + n;
        sg_emu::set_seed(1 + n % 2);
        check_forward_case(c);
        BackwardRequest r;
        r.dfinal = options & 8;
        r.dx = options != 5;  // a few runs without some outputs
        r.dweight = options != 6;
        r.dbias = options != 7 && c.bias;
        r.dinit = c.init || options == 9;
        check_backward_case(c, r);
        ++n;
      }
  sg_emu::set_seed(1);
}

// ---- chunked == whole ---------------------------------------------------------------------------------
void chunked_equals_whole() {
  for (Layout layout : {Layout::kChannelMajor, Layout::kChannelsLast, Layout::kOddStrides})
    for (DType dtype : {DType::kFloat32, DType::kBFloat16})
      for (int K : {3, 5, 64}) {
        Case whole;
        whole.B = 3; whole.C = 3; whole.L = 300; whole.K = K;
        whole.layout = layout; whole.x_dtype = dtype; whole.bias = true; whole.silu = K != 5;
        whole.init = true; whole.final_state = true; whole.data_seed = 77 + K;
        const std::string what = "chunked == whole " + whole.name();
        run_guarded(what, [&] {
          Inputs in = make_inputs(whole);
          ForwardOutputs full = run_forward(whole, in);
          // Chunk lengths include 1 and lengths shorter than K-1.
          const int64_t lengths[] = {1, 2, 7, 1, 150, 139};
          std::vector<double> state = in.problem.init;
          int64_t t0 = 0;
          bool same = true;
          for (int64_t len : lengths) {
            Case part = whole;
            part.L = len;
            Inputs pin = make_inputs(part);  // shapes and buffers; the values are overwritten below
            for (int64_t b = 0; b < part.B; ++b)
              for (int64_t ch = 0; ch < part.C; ++ch) {
                for (int64_t t = 0; t < len; ++t)
                  pin.x->set((b * part.C + ch) * len + t, in.problem.x[(b * part.C + ch) * whole.L + t0 + t]);
                for (int i = 0; i < K - 1; ++i)
                  pin.init->set((b * part.C + ch) * (K - 1) + i, state[(b * part.C + ch) * (K - 1) + i]);
                for (int k = 0; k < K; ++k) pin.weight->set(ch * K + k, in.problem.w[ch * K + k]);
                pin.bias->set(ch, in.problem.bias[ch]);
              }
            sg_emu::set_seed(len % 2 ? 2 : 3);
            ForwardOutputs out = run_forward(part, pin);
            const std::vector<double> y = out.y->values();
            for (int64_t b = 0; b < part.B; ++b)
              for (int64_t ch = 0; ch < part.C; ++ch)
                for (int64_t t = 0; t < len; ++t)
                  same = same && y[(b * part.C + ch) * len + t] ==
                                     full.y->get((b * part.C + ch) * whole.L + t0 + t);
            state = out.final_state->values();
            t0 += len;
          }
          check(t0 == whole.L, what + ": chunk lengths must add up");
          check(same, what + ": chunked y differs from whole y (bitwise)");
          check(state == full.final_state->values(), what + ": chunked final state differs");
        });
      }
  sg_emu::set_seed(1);
}

// ---- adjoint identities and finite differences (float64) -------------------------------------------
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

void adjoint_identities() {
  // Without SiLU the op is linear in (x, initial_state) for fixed weights, and affine in (w, bias):
  //   <x, dx> + <init, dinit> = <dy, y - bias> + <dfinal, final_state>
  //   <w, dweight> + <bias, dbias> = <dy, y>
  for (Layout layout : kLayouts)
    for (int K : {1, 4, 64}) {
      Case c;
      c.B = 3; c.C = 3; c.L = 127; c.K = K; c.layout = layout; c.x_dtype = DType::kFloat64;
      c.w_dtype = DType::kFloat64; c.b_dtype = DType::kFloat64;
      c.bias = true; c.init = K > 1; c.final_state = K > 1; c.data_seed = 900 + K;
      const std::string what = "adjoint " + c.name();
      run_guarded(what, [&] {
        Inputs in = make_inputs(c);
        sg_emu::set_seed(5);
        ForwardOutputs f = run_forward(c, in);
        BackwardRequest r;
        r.dfinal = K > 1;
        r.dinit = K > 1;
        sg_emu::set_seed(6);
        BackwardOutputs g = run_backward(c, in, r, 4242);
        const std::vector<double> y = f.y->values();
        std::vector<double> y_minus_bias = y;
        for (int64_t i = 0; i < (int64_t)y.size(); ++i) y_minus_bias[i] -= in.problem.bias[(i / c.L) % c.C];
        double lhs = dot(in.problem.x, g.dx->values());
        double rhs = dot(g.dy_values, y_minus_bias);
        if (K > 1) {
          lhs += dot(in.problem.init, g.dinit->values());
          rhs += dot(g.dfinal_values, f.final_state->values());
        }
        const double scale = 1e-12 * (1 + std::fabs(lhs) + std::fabs(rhs)) * c.B * c.C * c.L;
        check(std::fabs(lhs - rhs) <= scale, what + ": <x,dx>+<init,dinit> != <dy,y-b>+<dfs,fs>");
        const double lhs_w = dot(in.problem.w, g.dweight->values()) + dot(in.problem.bias, g.dbias->values());
        const double rhs_w = dot(g.dy_values, y);
        check(std::fabs(lhs_w - rhs_w) <= 1e-12 * (1 + std::fabs(rhs_w)) * c.B * c.C * c.L,
              what + ": <w,dw>+<b,db> != <dy,y>");
      });
    }
}

// Central differences of loss = <dy, y> + <dfinal, final_state> against the SiLU gradients.
void finite_differences() {
  for (Layout layout : {Layout::kChannelMajor, Layout::kOddStrides})
    for (int K : {2, 5}) {
      Case c;
      c.B = 1; c.C = 3; c.L = 9; c.K = K; c.layout = layout; c.x_dtype = DType::kFloat64;
      c.w_dtype = DType::kFloat64; c.b_dtype = DType::kFloat64;
      c.bias = true; c.silu = true; c.init = true; c.final_state = true; c.data_seed = 31 + K;
      const std::string what = "finite differences " + c.name();
      run_guarded(what, [&] {
        Inputs in = make_inputs(c);
        BackwardRequest r;
        BackwardOutputs g = run_backward(c, in, r, 777);
        auto loss = [&]() {
          ForwardOutputs f = run_forward(c, in);
          return dot(g.dy_values, f.y->values()) + dot(g.dfinal_values, f.final_state->values());
        };
        const double h = 1e-6;
        auto numeric = [&](HostTensor& t, int64_t i) {
          const double v = t.get(i);
          t.set(i, v + h);
          const double up = loss();
          t.set(i, v - h);
          const double down = loss();
          t.set(i, v);
          return (up - down) / (2 * h);
        };
        bool ok = true;
        std::string worst;
        auto expect = [&](const char* name, HostTensor& t, int64_t i, double analytic) {
          const double num = numeric(t, i);
          if (std::fabs(num - analytic) > 1e-6 * (1 + std::fabs(analytic))) {
            ok = false;
            worst = std::string(name) + "[" + std::to_string(i) + "] numeric " + std::to_string(num) +
                    " analytic " + std::to_string(analytic);
          }
        };
        const std::vector<double> dx = g.dx->values(), dw = g.dweight->values(), db = g.dbias->values(),
                                  di = g.dinit->values();
        for (int64_t i : {int64_t(0), int64_t(4), c.L - 1, 2 * c.L + 3}) expect("x", *in.x, i, dx[i]);
        for (int64_t i = 0; i < c.C * K; i += 2) expect("weight", *in.weight, i, dw[i]);
        for (int64_t i = 0; i < c.C; ++i) expect("bias", *in.bias, i, db[i]);
        for (int64_t i = 0; i < c.C * (K - 1); ++i) expect("initial_state", *in.init, i, di[i]);
        check(ok, what + ": " + worst);
      });
    }
}

// ---- determinism of the weight reduction ----------------------------------------------------------
void deterministic_weight_gradients() {
  struct Shape { int64_t B, C, L; int K; };
  // The second shape has 5 chunks in one row, so several blocks' partials meet in the reduction.
  const Shape shapes[] = {{3, 17, 1000, 4}, {1, 1, 4500, 64}};
  for (const Shape& s : shapes)
    for (DType dtype : {DType::kFloat32, DType::kBFloat16}) {
      Case c;
      c.B = s.B; c.C = s.C; c.L = s.L; c.K = s.K; c.x_dtype = dtype; c.bias = true; c.silu = true;
      c.init = true; c.data_seed = 4040;
      const std::string what = "deterministic dweight " + c.name();
      run_guarded(what, [&] {
        Inputs in = make_inputs(c);
        BackwardRequest r;
        std::vector<unsigned char> first_w, first_b;
        bool same = true;
        int runs = 0;
        for (uint64_t seed : {1, 2, 3})
          for (int workers : {1, 2}) {
            sg_emu::set_seed(seed);
            sg_emu::set_worker_threads(workers);
            BackwardOutputs g = run_backward(c, in, r, 99);
            if (runs++ == 0) {
              first_w = g.dweight->bytes();
              first_b = g.dbias->bytes();
            } else {
              same = same && g.dweight->bytes() == first_w && g.dbias->bytes() == first_b;
            }
          }
        sg_emu::set_worker_threads(1);
        sg_emu::set_seed(1);
        check(same, what + ": dweight/dbias bytes differ across seeds or worker counts");
      });
    }
}

// ---- step == forward token by token -------------------------------------------------------------------
void step_matches_forward() {
  int n = 0;
  for (DType dtype : kDTypes)
    for (int K : {1, 2, 4, 5, 128})
      for (bool silu : {false, true}) {
        Case c;
        c.B = 3; c.C = 17; c.L = 6; c.K = K; c.x_dtype = dtype; c.silu = silu; c.bias = (n % 2) == 0;
        c.init = K > 1; c.final_state = K > 1; c.w_dtype = kDTypes[n % 4]; c.b_dtype = kDTypes[(n + 1) % 4];
        c.data_seed = 321 + n;
        const Layout step_layout = (n % 3 == 0) ? Layout::kOddStrides : Layout::kChannelMajor;
        ++n;
        const std::string what = std::string("step == forward ") + c.name() + " state " + layout_name(step_layout);
        run_guarded(what, [&] {
          Inputs in = make_inputs(c);
          ForwardOutputs f = run_forward(c, in);
          const std::vector<double> y_full = f.y->values();
          HostTensor state(c.x_dtype, {c.B, c.C, c.K - 1}, step_layout, false, "state");
          if (K > 1)
            for (int64_t i = 0; i < c.B * c.C * (K - 1); ++i) state.set(i, in.problem.init[i]);
          bool same = true;
          for (int64_t t = 0; t < c.L; ++t) {
            HostTensor x(c.x_dtype, {c.B, c.C}, step_layout, false, "x_t");
            HostTensor y(c.x_dtype, {c.B, c.C}, step_layout, false, "y_t");
            for (int64_t i = 0; i < c.B * c.C; ++i) x.set(i, in.problem.x[i * c.L + t]);
            serengeti::ShortConvStepParams p;
            p.x = x.view();
            p.state = state.view();
            p.weight = in.weight->view();
            p.bias = view_or_absent(in.bias);
            p.activation = silu ? Activation::kSilu : Activation::kNone;
            p.y = y.view();
            p.launch = emu_launch();
            sg_emu::set_seed(1 + t % 2);
            emu_ops::short_conv_step(p);
            for (int64_t i = 0; i < c.B * c.C; ++i) same = same && y.get(i) == y_full[i * c.L + t];
            same = same && y.gaps_untouched();
          }
          check(same, what + ": y differs (bitwise) from the forward pass");
          if (K > 1) {
            check(state.values() == f.final_state->values(), what + ": state after L steps != final_state");
            check(state.gaps_untouched(), what + ": state written outside its view");
          }
        });
      }
  sg_emu::set_seed(1);
}

// ---- errors name the argument -------------------------------------------------------------------------
void argument_errors() {
  Case c;
  c.B = 2; c.C = 3; c.L = 5; c.K = 4; c.init = true;
  Inputs in = make_inputs(c);
  HostTensor y(DType::kFloat32, {2, 3, 5}, Layout::kChannelMajor, false, "y");
  HostTensor bad_y(DType::kFloat32, {2, 3, 6}, Layout::kChannelMajor, false, "bad_y");
  HostTensor half_y(DType::kFloat16, {2, 3, 5}, Layout::kChannelMajor, false, "half_y");
  HostTensor big_w(DType::kFloat32, {3, 129}, Layout::kChannelMajor, false, "big_w");
  HostTensor bad_state(DType::kFloat32, {2, 3, 2}, Layout::kChannelMajor, false, "bad_state");
  auto forward_params = [&] {
    serengeti::ShortConvForwardParams p;
    p.x = in.x->view();
    p.weight = in.weight->view();
    p.initial_state = in.init->view();
    p.y = y.view();
    p.launch = emu_launch();
    return p;
  };
  using serengeti::InvalidArgument;
  emu_test::expect_throw<InvalidArgument>([&] { auto p = forward_params(); p.y = bad_y.view(); emu_ops::short_conv_forward(p); },
                                          "forward y shape", {"y:", "(2, 3, 5)"});
  emu_test::expect_throw<InvalidArgument>([&] { auto p = forward_params(); p.y = half_y.view(); emu_ops::short_conv_forward(p); },
                                          "forward y dtype", {"y:", "float16"});
  emu_test::expect_throw<InvalidArgument>([&] { auto p = forward_params(); p.weight = big_w.view(); emu_ops::short_conv_forward(p); },
                                          "forward K = 129", {"weight:", "129"});
  emu_test::expect_throw<InvalidArgument>([&] { auto p = forward_params(); p.initial_state = bad_state.view(); emu_ops::short_conv_forward(p); },
                                          "forward initial_state shape", {"initial_state:"});
  emu_test::expect_throw<InvalidArgument>([&] { auto p = forward_params(); p.x = TensorView{}; emu_ops::short_conv_forward(p); },
                                          "forward x absent", {"x:"});
  emu_test::expect_throw<InvalidArgument>([&] {
    auto p = forward_params();
    p.y.strides[2] = 0;
    emu_ops::short_conv_forward(p);
  }, "forward y broadcast", {"y:", "stride 0"});
  HostTensor dy(DType::kFloat32, {2, 3, 5}, Layout::kChannelMajor, false, "dy");
  HostTensor dw(DType::kFloat32, {3, 4}, Layout::kChannelMajor, false, "dw");
  emu_test::expect_throw<InvalidArgument>([&] {
    serengeti::ShortConvBackwardParams p;
    p.x = in.x->view();
    p.weight = in.weight->view();
    p.dy = dy.view();
    p.dweight = dw.view();
    p.launch = emu_launch();
    p.workspace_bytes = emu_ops::short_conv_backward_workspace_bytes(p) - 1;
    emu_ops::short_conv_backward(p);
  }, "backward workspace too small", {"workspace:"});
  HostTensor sx(DType::kFloat32, {2, 3}, Layout::kChannelMajor, false, "sx");
  HostTensor sy(DType::kFloat32, {2, 3}, Layout::kChannelMajor, false, "sy");
  emu_test::expect_throw<InvalidArgument>([&] {
    serengeti::ShortConvStepParams p;
    p.x = sx.view();
    p.weight = in.weight->view();
    p.y = sy.view();
    p.launch = emu_launch();
    emu_ops::short_conv_step(p);
  }, "step state absent", {"state:"});
}

// Empty extents: nothing to launch for B = 0 except the zero weight gradient; L = 0 passes the state
// through (final_state = initial_state, dinitial_state = dfinal_state).
void empty_extents() {
  Case c;
  c.B = 2; c.C = 3; c.L = 0; c.K = 4; c.init = true; c.final_state = true; c.bias = true;
  run_guarded("L = 0", [&] {
    Inputs in = make_inputs(c);
    ForwardOutputs f = run_forward(c, in);
    check(f.final_state->values() == in.problem.init, "L = 0: final_state == initial_state");
    BackwardRequest r;
    r.dx = false;
    BackwardOutputs g = run_backward(c, in, r, 5);
    check(g.dinit->values() == g.dfinal_values, "L = 0: dinitial_state == dfinal_state");
    bool zero = true;
    for (double v : g.dweight->values()) zero = zero && v == 0;
    for (double v : g.dbias->values()) zero = zero && v == 0;
    check(zero, "L = 0: dweight and dbias are zero");
  });
  Case e = c;
  e.B = 0; e.L = 5;
  run_guarded("B = 0", [&] {
    Inputs in = make_inputs(e);
    BackwardRequest r;
    r.dx = false; r.dinit = false; r.dfinal = false;
    BackwardOutputs g = run_backward(e, in, r, 5);
    bool zero = true;
    for (double v : g.dweight->values()) zero = zero && v == 0;
    check(zero, "B = 0: dweight is zero");
  });
}

template <class F>
void timed(const char* name, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  const int failed_before = emu_test::failed;
  f();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%-32s %6.2f s%s\n", name, seconds, emu_test::failed > failed_before ? "  (failures)" : "");
  std::fflush(stdout);
}

}  // namespace

int main() {
  timed("forward sweep", [] { sweep(false); });
  timed("backward sweep", [] { sweep(true); });
  timed("option grid", [] { option_grid(); });
  timed("chunked == whole", [] { chunked_equals_whole(); });
  timed("adjoint identities", [] { adjoint_identities(); });
  timed("finite differences (SiLU)", [] { finite_differences(); });
  timed("deterministic dweight", [] { deterministic_weight_gradients(); });
  timed("step == forward", [] { step_matches_forward(); });
  timed("argument errors", [] { argument_errors(); });
  timed("empty extents", [] { empty_extents(); });
  return emu_test::finish();
}
