// The modal CUDA kernels (cuda/modal/), executed by the host emulator, against the naive float64
// references of modal_reference.h (and the CPU backend for the larger shapes). Standalone: prints
// "N passed, M failed" and exits nonzero on failure.
//
// Covered: modal_kernel (+ L = 4M at |p| = 0.9999 and |p| = 1), modal_state, modal_scan and their
// backwards for L in {1, 2, 3, 127, 1000, 4097}, three layouts, four activation dtypes, every
// optional argument on and off; dpoles against central differences in float64; gradients bitwise
// identical across emulator seeds and worker counts; gated_conv_recurrence over prompts of 1, 2, 3
// and 127 tokens then gated_conv_step token by token == the float64 recurrence, every layout; the
// dispatcher's emu backend (guarded NaN-filled outputs) == the CPU backend; validation messages.
//
// Tolerance (normwise): max |got - ref| <= tol * max(1, max |ref|), tol = 2e-5 for float32
// activations (chains of at most a few thousand float32 steps with |p| < 1), 1e-11 for float64,
// 4e-3 for float16 and 3e-2 for bfloat16 (the output's rounding, 2^-11 and 2^-8, plus the float32
// arithmetic). Inputs are rounded to their dtype first and the references use the rounded values.
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "cpu/modal/modal_cpu.h"
#include "cuda/emu/emu_api.h"
#include "cuda/modal/modal_cuda.h"
#include "emu_test.h"
#include "modal_reference.h"
#include "modal_test_tensor.h"
#include "serengeti/error.h"
#include "serengeti/modal.h"

namespace {

using emu_test::check;
using modal_test::Layout;
using modal_test::Tensor;
using serengeti::DType;
using serengeti::GatedConvLayout;
namespace ref = modal_reference;
namespace emu = serengeti::emu;
using Vec = std::vector<double>;

std::mt19937_64 rng(20240607);

const char* dtype_label(DType d) { return serengeti::dtype_name(d); }

double tolerance(DType activations) {
  switch (activations) {
    case DType::kFloat64: return 1e-11;
    case DType::kFloat32: return 2e-5;
    case DType::kFloat16: return 4e-3;
    case DType::kBFloat16: return 3e-2;
  }
  return 0;
}

DType filter_dtype(DType activations) { return activations == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32; }

bool close(const Vec& got, const Vec& want, double tol, const std::string& what) {
  double scale = 1.0, worst = 0.0;
  size_t at = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i) {
    const double e = std::fabs(got[i] - want[i]);
    if (!(e <= worst)) {  // NaN-aware: a NaN is always the worst
      worst = std::isnan(e) ? INFINITY : e;
      at = i;
    }
  }
  ok = ok && worst <= tol * scale;
  if (!ok) {
    char text[256];
    std::snprintf(text, sizeof(text), "%s: worst error %.3g at %zu (got %.10g want %.10g), bound %.3g",
                  what.c_str(), worst, at, at < got.size() ? got[at] : NAN, at < want.size() ? want[at] : NAN,
                  tol * scale);
    check(false, text);
  } else {
    check(true, what);
  }
  return ok;
}

// Poles with |p| in [0.5, 0.995], residues of size ~1: (D, S, 2).
Vec random_poles(int64_t D, int64_t S) {
  std::uniform_real_distribution<double> radius(0.5, 0.995), angle(-3.1, 3.1);
  Vec v(D * S * 2);
  for (int64_t i = 0; i < D * S; ++i) {
    const double r = radius(rng), a = angle(rng);
    v[2 * i] = r * std::cos(a);
    v[2 * i + 1] = r * std::sin(a);
  }
  return v;
}
Vec random_vec(int64_t n, double scale = 1.0) {
  std::uniform_real_distribution<double> dist(-scale, scale);
  Vec v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

// A tensor holding `values` (rounded to dtype); returns the rounded values through `stored`.
std::unique_ptr<Tensor> make(DType dtype, std::vector<int64_t> sizes, Layout layout, const Vec& values,
                             Vec* stored, const char* label) {
  auto t = std::make_unique<Tensor>(dtype, sizes, layout, label);
  t->set_values(values);
  if (stored) *stored = t->values();
  return t;
}
std::unique_ptr<Tensor> output(DType dtype, std::vector<int64_t> sizes, Layout layout, const char* label) {
  return std::make_unique<Tensor>(dtype, sizes, layout, label);
}

std::string name(const char* op, DType dtype, Layout layout, int64_t B, int64_t D, int64_t S, int64_t L) {
  char text[160];
  std::snprintf(text, sizeof(text), "%s %s %s B=%lld D=%lld S=%lld L=%lld", op, dtype_label(dtype),
                modal_test::layout_name(layout), (long long)B, (long long)D, (long long)S, (long long)L);
  return text;
}

// ---- modal_kernel --------------------------------------------------------------------------------

void test_kernel(DType dtype, Layout layout, int64_t D, int64_t S, int64_t L) {
  Vec P, R, dh;
  auto poles = make(dtype, {D, S, 2}, layout, random_poles(D, S), &P, "poles");
  auto residues = make(dtype, {D, S, 2}, layout, random_vec(D * S * 2), &R, "residues");
  auto h = output(dtype, {D, L}, layout, "h");
  serengeti::ModalKernelParams p;
  p.residues = residues->view();
  p.poles = poles->view();
  p.h = h->view();
  emu::modal_kernel(p);
  const std::string what = name("modal_kernel", dtype, layout, 1, D, S, L);
  close(h->values(), ref::kernel(R, P, D, S, L), tolerance(dtype), what);

  auto dh_t = make(dtype, {D, L}, layout, random_vec(D * L), &dh, "dh");
  auto dR = output(dtype, {D, S, 2}, layout, "dresidues");
  auto dp = output(dtype, {D, S, 2}, layout, "dpoles");
  serengeti::ModalKernelBackwardParams q;
  q.residues = residues->view();
  q.poles = poles->view();
  q.dh = dh_t->view();
  q.dresidues = dR->view();
  q.dpoles = dp->view();
  emu::modal_kernel_backward(q);
  Vec want_dR, want_dp;
  ref::kernel_backward(R, P, dh, D, S, L, want_dR, want_dp);
  // Sums of L terms of size up to 1 (dR) and L^2-ish (dp): scale the bound with L.
  const double tol = tolerance(dtype) * (dtype == DType::kFloat64 ? 1 : 4);
  close(dR->values(), want_dR, tol, what + " dresidues");
  close(dp->values(), want_dp, tol, what + " dpoles");
}

// h at L = 4M for |p| = 0.9999 and |p| = 1 (S = 1, two channels), sampled.
void test_kernel_long() {
  const int64_t D = 2, S = 1, L = int64_t(1) << 22;
  const double angle = 0.0123456;
  Vec pv = {0.9999 * std::cos(angle), 0.9999 * std::sin(angle), std::cos(2 * angle), std::sin(2 * angle)};
  Vec P, R;
  auto poles = make(DType::kFloat32, {D, S, 2}, Layout::kDense, pv, &P, "poles");
  auto residues = make(DType::kFloat32, {D, S, 2}, Layout::kDense, {0.7, -0.3, 1.0, 0.5}, &R, "residues");
  auto h = output(DType::kFloat32, {D, L}, Layout::kDense, "h");
  serengeti::ModalKernelParams p;
  p.residues = residues->view();
  p.poles = poles->view();
  p.h = h->view();
  emu::modal_kernel(p);
  double worst = 0;
  for (int64_t c = 0; c < D; ++c)
    for (int64_t t = 0; t < L; t += (t < 5000 ? 1 : 4093)) {
      const double want = (ref::cx(R, c) * ref::power(ref::cx(P, c), t)).real();
      worst = std::max(worst, std::fabs(h->get(c * L + t) - want));
    }
  // |h| <= |R| ~ 1.1; float32 output rounding 6e-8, anchor phase error ~4e-10 rad, 15-step chains.
  check(worst < 2e-6, "modal_kernel L = 4M, |p| = 0.9999 and 1: worst error " + std::to_string(worst));
}

// ---- modal_state ---------------------------------------------------------------------------------

void test_state(DType dtype, Layout layout, int64_t B, int64_t D, int64_t S, int64_t L, bool with_s0) {
  const DType fd = filter_dtype(dtype);
  Vec P, W, S0, G;
  auto poles = make(fd, {D, S, 2}, layout, random_poles(D, S), &P, "poles");
  auto w = make(dtype, {B, D, L}, layout, random_vec(B * D * L), &W, "w");
  std::unique_ptr<Tensor> s0;
  if (with_s0) s0 = make(fd, {B, D, S, 2}, layout, random_vec(B * D * S * 2), &S0, "s0");
  auto state = output(fd, {B, D, S, 2}, layout, "state");
  serengeti::ModalStateParams p;
  p.w = w->view();
  p.poles = poles->view();
  if (s0) p.initial_state = s0->view();
  p.state = state->view();
  emu::modal_state(p);
  std::string what = name("modal_state", dtype, layout, B, D, S, L) + (with_s0 ? " s0" : "");
  close(state->values(), ref::state(W, P, S0, B, D, S, L), tolerance(fd) * 4, what);

  auto g = make(fd, {B, D, S, 2}, layout, random_vec(B * D * S * 2), &G, "dstate");
  auto dw = output(dtype, {B, D, L}, layout, "dw");
  auto dp = output(fd, {D, S, 2}, layout, "dpoles");
  auto ds0 = output(fd, {B, D, S, 2}, layout, "dinitial_state");
  serengeti::ModalStateBackwardParams q;
  q.w = w->view();
  q.poles = poles->view();
  if (s0) q.initial_state = s0->view();
  q.dstate = g->view();
  q.dw = dw->view();
  q.dpoles = dp->view();
  q.dinitial_state = ds0->view();
  emu::modal_state_backward(q);
  Vec want_dw, want_dp, want_ds0;
  ref::state_backward(W, P, S0, G, B, D, S, L, want_dw, want_dp, want_ds0);
  close(dw->values(), want_dw, tolerance(dtype), what + " dw");
  close(dp->values(), want_dp, tolerance(fd) * 4, what + " dpoles");
  close(ds0->values(), want_ds0, tolerance(fd), what + " dinitial_state");
}

// ---- modal_scan ----------------------------------------------------------------------------------

struct ScanCase {
  DType dtype;
  Layout layout;
  int64_t B, D, S, L;
  bool skip, s0, final_state, dfinal;
};

struct ScanTensors {
  std::unique_ptr<Tensor> w, residues, poles, skip, s0, y, final_state;
  Vec W, R, P, Dv, S0;
};

ScanTensors scan_inputs(const ScanCase& k) {
  const DType fd = filter_dtype(k.dtype);
  ScanTensors t;
  t.w = make(k.dtype, {k.B, k.D, k.L}, k.layout, random_vec(k.B * k.D * k.L), &t.W, "w");
  t.poles = make(fd, {k.D, k.S, 2}, k.layout, random_poles(k.D, k.S), &t.P, "poles");
  t.residues = make(fd, {k.D, k.S, 2}, k.layout, random_vec(k.D * k.S * 2), &t.R, "residues");
  if (k.skip) t.skip = make(fd, {k.D}, k.layout, random_vec(k.D), &t.Dv, "D");
  if (k.s0) t.s0 = make(fd, {k.B, k.D, k.S, 2}, k.layout, random_vec(k.B * k.D * k.S * 2), &t.S0, "s0");
  return t;
}

serengeti::ModalScanParams scan_params(ScanTensors& t, const ScanCase& k) {
  t.y = output(k.dtype, {k.B, k.D, k.L}, k.layout, "y");
  if (k.final_state) t.final_state = output(filter_dtype(k.dtype), {k.B, k.D, k.S, 2}, k.layout, "final_state");
  serengeti::ModalScanParams p;
  p.w = t.w->view();
  p.residues = t.residues->view();
  p.poles = t.poles->view();
  if (t.skip) p.D = t.skip->view();
  if (t.s0) p.initial_state = t.s0->view();
  p.y = t.y->view();
  if (t.final_state) p.final_state = t.final_state->view();
  return p;
}

struct ScanGradTensors {
  std::unique_ptr<Tensor> dy, dfinal, dw, dR, dp, dD, ds0;
  Vec DY, DF;
};

serengeti::ModalScanBackwardParams scan_backward_params(ScanTensors& t, ScanGradTensors& g, const ScanCase& k) {
  const DType fd = filter_dtype(k.dtype);
  g.dy = make(k.dtype, {k.B, k.D, k.L}, k.layout, random_vec(k.B * k.D * k.L), &g.DY, "dy");
  if (k.dfinal) g.dfinal = make(fd, {k.B, k.D, k.S, 2}, k.layout, random_vec(k.B * k.D * k.S * 2), &g.DF, "dfinal");
  g.dw = output(k.dtype, {k.B, k.D, k.L}, k.layout, "dw");
  g.dR = output(fd, {k.D, k.S, 2}, k.layout, "dresidues");
  g.dp = output(fd, {k.D, k.S, 2}, k.layout, "dpoles");
  if (k.skip) g.dD = output(fd, {k.D}, k.layout, "dD");
  g.ds0 = output(fd, {k.B, k.D, k.S, 2}, k.layout, "dinitial_state");
  serengeti::ModalScanBackwardParams q;
  q.w = t.w->view();
  q.residues = t.residues->view();
  q.poles = t.poles->view();
  if (t.skip) q.D = t.skip->view();
  if (t.s0) q.initial_state = t.s0->view();
  q.dy = g.dy->view();
  if (g.dfinal) q.dfinal_state = g.dfinal->view();
  q.dw = g.dw->view();
  q.dresidues = g.dR->view();
  q.dpoles = g.dp->view();
  if (g.dD) q.dD = g.dD->view();
  q.dinitial_state = g.ds0->view();
  return q;
}

void test_scan(const ScanCase& k) {
  const DType fd = filter_dtype(k.dtype);
  ScanTensors t = scan_inputs(k);
  serengeti::ModalScanParams p = scan_params(t, k);
  emu::modal_scan(p);
  std::string what = name("modal_scan", k.dtype, k.layout, k.B, k.D, k.S, k.L) + (k.skip ? " D" : "") +
                     (k.s0 ? " s0" : "") + (k.dfinal ? " dfinal" : "");
  const ref::ScanForward f = ref::scan(t.W, t.R, t.P, t.Dv, t.S0, k.B, k.D, k.S, k.L);
  close(t.y->values(), f.y, tolerance(k.dtype) * 2, what + " y");
  if (t.final_state) close(t.final_state->values(), f.final_state, tolerance(fd) * 2, what + " final_state");

  ScanGradTensors g;
  serengeti::ModalScanBackwardParams q = scan_backward_params(t, g, k);
  emu::modal_scan_backward(q);
  const ref::ScanGrads want = ref::scan_backward(t.W, t.R, t.P, t.Dv, t.S0, g.DY, g.DF, k.B, k.D, k.S, k.L);
  const double tol = tolerance(fd) * 8;
  close(g.dw->values(), want.dw, tolerance(k.dtype) * 2, what + " dw");
  close(g.dR->values(), want.dR, tol, what + " dresidues");
  close(g.dp->values(), want.dp, tol, what + " dpoles");
  if (g.dD) close(g.dD->values(), want.dD, tol, what + " dD");
  close(g.ds0->values(), want.ds0, tol, what + " dinitial_state");
}

// dpoles of the three ops against central differences of the emulated forwards, in float64.
void test_pole_finite_differences() {
  const int64_t B = 2, D = 2, S = 2, L = 300;
  const ScanCase k{DType::kFloat64, Layout::kDense, B, D, S, L, true, true, true, true};
  ScanTensors t = scan_inputs(k);
  ScanGradTensors g;
  serengeti::ModalScanBackwardParams q = scan_backward_params(t, g, k);
  emu::modal_scan_backward(q);
  const Vec dp = g.dp->values();
  // loss = <dy, y> + <dfinal, final_state>
  auto loss = [&]() {
    serengeti::ModalScanParams p = scan_params(t, k);
    emu::modal_scan(p);
    const Vec y = t.y->values(), f = t.final_state->values();
    double sum = 0;
    for (size_t i = 0; i < y.size(); ++i) sum += g.DY[i] * y[i];
    for (size_t i = 0; i < f.size(); ++i) sum += g.DF[i] * f[i];
    return sum;
  };
  const double eps = 1e-6;
  double worst = 0, scale = 1;
  for (int64_t i = 0; i < D * S * 2; ++i) {
    const double keep = t.poles->get(i);
    t.poles->set(i, keep + eps);
    const double up = loss();
    t.poles->set(i, keep - eps);
    const double down = loss();
    t.poles->set(i, keep);
    worst = std::max(worst, std::fabs((up - down) / (2 * eps) - dp[i]));
    scale = std::max(scale, std::fabs(dp[i]));
  }
  check(worst <= 1e-6 * scale, "modal_scan dpoles == central differences (float64): error " + std::to_string(worst));

  // modal_state: loss = <g, state>
  Vec P, W, S0, G;
  auto poles = make(DType::kFloat64, {D, S, 2}, Layout::kDense, random_poles(D, S), &P, "poles");
  auto w = make(DType::kFloat64, {B, D, L}, Layout::kDense, random_vec(B * D * L), &W, "w");
  auto s0 = make(DType::kFloat64, {B, D, S, 2}, Layout::kDense, random_vec(B * D * S * 2), &S0, "s0");
  auto gs = make(DType::kFloat64, {B, D, S, 2}, Layout::kDense, random_vec(B * D * S * 2), &G, "dstate");
  auto state = output(DType::kFloat64, {B, D, S, 2}, Layout::kDense, "state");
  auto dps = output(DType::kFloat64, {D, S, 2}, Layout::kDense, "dpoles");
  serengeti::ModalStateBackwardParams sb;
  sb.w = w->view();
  sb.poles = poles->view();
  sb.initial_state = s0->view();
  sb.dstate = gs->view();
  sb.dpoles = dps->view();
  emu::modal_state_backward(sb);
  auto state_loss = [&]() {
    serengeti::ModalStateParams sp;
    sp.w = w->view();
    sp.poles = poles->view();
    sp.initial_state = s0->view();
    sp.state = state->view();
    emu::modal_state(sp);
    const Vec s = state->values();
    double sum = 0;
    for (size_t i = 0; i < s.size(); ++i) sum += G[i] * s[i];
    return sum;
  };
  worst = 0;
  scale = 1;
  for (int64_t i = 0; i < D * S * 2; ++i) {
    const double keep = poles->get(i);
    poles->set(i, keep + eps);
    const double up = state_loss();
    poles->set(i, keep - eps);
    const double down = state_loss();
    poles->set(i, keep);
    worst = std::max(worst, std::fabs((up - down) / (2 * eps) - dps->get(i)));
    scale = std::max(scale, std::fabs(dps->get(i)));
  }
  check(worst <= 1e-6 * scale, "modal_state dpoles == central differences (float64): error " + std::to_string(worst));
}

// Gradients bitwise identical across emulator seeds and worker counts.
void test_determinism() {
  const ScanCase k{DType::kFloat32, Layout::kDense, 3, 5, 3, 2000, true, true, true, true};
  ScanTensors t = scan_inputs(k);
  ScanGradTensors g;
  serengeti::ModalScanBackwardParams q = scan_backward_params(t, g, k);
  std::vector<unsigned char> first;
  bool same = true;
  int runs = 0;
  for (int workers : {1, 2})
    for (uint64_t seed : {1, 2, 3}) {
      sg_emu::set_worker_threads(workers);
      sg_emu::set_seed(seed);
      emu::modal_scan_backward(q);
      std::vector<unsigned char> bytes = g.dR->bytes();
      for (auto* o : {g.dp.get(), g.dD.get(), g.dw.get(), g.ds0.get()}) {
        auto b = o->bytes();
        bytes.insert(bytes.end(), b.begin(), b.end());
      }
      if (runs++ == 0)
        first = bytes;
      else
        same = same && bytes == first;
    }
  check(same, "modal_scan_backward bitwise identical across seeds {1,2,3} x workers {1,2}");

  Vec dummy;
  auto poles = make(DType::kFloat32, {4, 2, 2}, Layout::kDense, random_poles(4, 2), &dummy, "poles");
  auto residues = make(DType::kFloat32, {4, 2, 2}, Layout::kDense, random_vec(16), &dummy, "residues");
  auto dh = make(DType::kFloat32, {4, 9000}, Layout::kDense, random_vec(36000), &dummy, "dh");
  auto dR = output(DType::kFloat32, {4, 2, 2}, Layout::kDense, "dR");
  auto dp = output(DType::kFloat32, {4, 2, 2}, Layout::kDense, "dp");
  serengeti::ModalKernelBackwardParams kb;
  kb.residues = residues->view();
  kb.poles = poles->view();
  kb.dh = dh->view();
  kb.dresidues = dR->view();
  kb.dpoles = dp->view();
  same = true;
  runs = 0;
  for (int workers : {1, 2})
    for (uint64_t seed : {1, 5}) {
      sg_emu::set_worker_threads(workers);
      sg_emu::set_seed(seed);
      emu::modal_kernel_backward(kb);
      auto bytes = dR->bytes();
      auto more = dp->bytes();
      bytes.insert(bytes.end(), more.begin(), more.end());
      if (runs++ == 0)
        first = bytes;
      else
        same = same && bytes == first;
    }
  check(same, "modal_kernel_backward bitwise identical across seeds and workers");
  sg_emu::set_worker_threads(1);
  sg_emu::set_seed(1);
}

// ---- gated conv ----------------------------------------------------------------------------------

int64_t z_channel(GatedConvLayout layout, int64_t heads, int64_t D, int64_t d, int role) {
  switch (layout) {
    case GatedConvLayout::kColumnSplit: {
      const int64_t per = D / heads;
      return (d / per) * 3 * per + role * per + d % per;
    }
    case GatedConvLayout::kThirds: return role * D + d;
    case GatedConvLayout::kInterleave: return 3 * d + role;
  }
  return 0;
}

// gated_conv_recurrence over a prompt, then gated_conv_step for `steps` tokens, == the float64
// recurrence over the whole sequence.
void test_gated(DType dtype, GatedConvLayout layout, int64_t heads, int64_t B, int64_t D, int64_t S, int64_t K,
                int64_t prompt, int64_t steps, bool bias, bool skip, bool initial_states) {
  const DType fd = filter_dtype(dtype);
  const int64_t C3 = 3 * D, total = prompt + steps, H = K - 1;
  Vec Z = random_vec(B * C3 * total), FW = random_vec(C3 * K, 0.8), FB, P, R, DV;
  Vec fw_stored, fb_stored, dummy;
  auto fir_w = make(DType::kFloat32, {C3, K}, Layout::kDense, FW, &fw_stored, "fir_weight");
  std::unique_ptr<Tensor> fir_b, skip_t;
  if (bias) fir_b = make(DType::kFloat32, {C3}, Layout::kDense, random_vec(C3), &fb_stored, "fir_bias");
  auto poles = make(fd, {D, S, 2}, Layout::kDense, random_poles(D, S), &P, "poles");
  auto residues = make(fd, {D, S, 2}, Layout::kDense, random_vec(D * S * 2), &R, "residues");
  if (skip) skip_t = make(fd, {D}, Layout::kDense, random_vec(D), &DV, "D");
  // The prompt part of z as a (B, 3D, prompt) tensor; the tokens one at a time.
  Vec z_prompt(B * C3 * prompt);
  for (int64_t r = 0; r < B * C3; ++r)
    for (int64_t t = 0; t < prompt; ++t) z_prompt[r * prompt + t] = Z[r * total + t];
  Vec zp_stored;
  auto z = make(dtype, {B, C3, prompt}, Layout::kDense, z_prompt, &zp_stored, "z");
  for (int64_t r = 0; r < B * C3; ++r)
    for (int64_t t = 0; t < prompt; ++t) Z[r * total + t] = zp_stored[r * prompt + t];
  Vec FS0(B * C3 * H, 0.0), IS0(B * D * S * 2, 0.0);
  std::unique_ptr<Tensor> fs_in, is_in;
  if (initial_states) {
    fs_in = make(dtype, {B, C3, H}, Layout::kDense, random_vec(B * C3 * H), &FS0, "fir_state_in");
    is_in = make(fd, {B, D, S, 2}, Layout::kDense, random_vec(B * D * S * 2, 0.5), &IS0, "iir_state_in");
  }
  auto y = output(dtype, {B, D, prompt}, Layout::kDense, "y");
  auto fs_out = output(dtype, {B, C3, H}, Layout::kDense, "fir_state_out");
  auto is_out = output(fd, {B, D, S, 2}, Layout::kDense, "iir_state_out");
  serengeti::GatedConvRecurrenceParams p;
  p.z = z->view();
  p.fir_weight = fir_w->view();
  if (fir_b) p.fir_bias = fir_b->view();
  p.poles = poles->view();
  p.residues = residues->view();
  if (skip_t) p.D = skip_t->view();
  p.layout = layout;
  p.heads = heads;
  if (fs_in) p.fir_state_in = fs_in->view();
  if (is_in) p.iir_state_in = is_in->view();
  p.y = y->view();
  p.fir_state_out = fs_out->view();
  p.iir_state_out = is_out->view();
  emu::gated_conv_recurrence(p);

  const char* layout_label = layout == GatedConvLayout::kColumnSplit ? "column_split"
                             : layout == GatedConvLayout::kThirds    ? "thirds"
                                                                     : "interleave";
  char text[200];
  std::snprintf(text, sizeof(text), "gated %s %s heads=%lld B=%lld D=%lld S=%lld K=%lld prompt=%lld%s%s%s",
                dtype_label(dtype), layout_label, (long long)heads, (long long)B, (long long)D, (long long)S,
                (long long)K, (long long)prompt, bias ? " bias" : "", skip ? " D" : "", initial_states ? " states" : "");
  const std::string what = text;
  // Decode the remaining tokens with the step, rounding each token of z to the dtype on the way.
  Vec y_all(B * D * total, NAN);
  const Vec y_prompt = y->values();
  for (int64_t r = 0; r < B * D; ++r)
    for (int64_t t = 0; t < prompt; ++t) y_all[r * total + t] = y_prompt[r * prompt + t];
  for (int64_t s = 0; s < steps; ++s) {
    Vec zt(B * C3), stored;
    for (int64_t r = 0; r < B * C3; ++r) zt[r] = Z[r * total + prompt + s];
    auto z_tok = make(dtype, {B, C3}, Layout::kPadded, zt, &stored, "z_t");
    for (int64_t r = 0; r < B * C3; ++r) Z[r * total + prompt + s] = stored[r];
    auto y_tok = output(dtype, {B, D}, Layout::kPadded, "y_t");
    serengeti::GatedConvStepParams q;
    q.z = z_tok->view();
    q.fir_state = fs_out->view();
    q.fir_weight = fir_w->view();
    if (fir_b) q.fir_bias = fir_b->view();
    q.poles = poles->view();
    q.residues = residues->view();
    if (skip_t) q.D = skip_t->view();
    q.iir_state = is_out->view();
    q.layout = layout;
    q.heads = heads;
    q.y = y_tok->view();
    emu::gated_conv_step(q);
    const Vec yt = y_tok->values();
    for (int64_t r = 0; r < B * D; ++r) y_all[r * total + prompt + s] = yt[r];
  }
  Vec FS = FS0, IS = IS0;
  const Vec want = ref::gated(Z, B, D, total, K, fw_stored, fb_stored, P, R, DV, S,
                              [&](int64_t d, int role) { return z_channel(layout, heads, D, d, role); }, FS, IS);
  close(y_all, want, tolerance(dtype) * 4, what + " y");
  close(fs_out->values(), FS, 0.0, what + " fir_state");
  close(is_out->values(), IS, tolerance(fd) * 4, what + " iir_state");
}

// ---- the dispatcher's emu backend against the CPU backend, larger shapes -------------------------

void test_dispatch_against_cpu() {
  const ScanCase k{DType::kFloat32, Layout::kChannelsLast, 2, 9, 2, 5000, true, true, true, true};
  ScanTensors t = scan_inputs(k);
  serengeti::ModalScanParams p = scan_params(t, k);
  p.launch.backend = serengeti::Backend::kEmu;
  serengeti::modal_scan(p);
  const Vec y_emu = t.y->values(), f_emu = t.final_state->values();
  p.launch.backend = serengeti::Backend::kCpu;
  serengeti::cpu::modal_scan(p);
  close(y_emu, t.y->values(), 1e-5, "dispatch emu modal_scan == cpu (B=2 D=9 S=2 L=5000)");
  close(f_emu, t.final_state->values(), 1e-5, "dispatch emu modal_scan final_state == cpu");

  ScanGradTensors g;
  serengeti::ModalScanBackwardParams q = scan_backward_params(t, g, k);
  q.launch.backend = serengeti::Backend::kEmu;
  serengeti::modal_scan_backward(q);
  std::vector<Vec> emu_grads;
  for (auto* o : {g.dw.get(), g.dR.get(), g.dp.get(), g.dD.get(), g.ds0.get()}) emu_grads.push_back(o->values());
  q.launch.backend = serengeti::Backend::kCpu;
  serengeti::cpu::modal_scan_backward(q);
  const char* names[] = {"dw", "dresidues", "dpoles", "dD", "dinitial_state"};
  int i = 0;
  for (auto* o : {g.dw.get(), g.dR.get(), g.dp.get(), g.dD.get(), g.ds0.get()}) {
    close(emu_grads[i], o->values(), 2e-5, std::string("dispatch emu modal_scan_backward == cpu ") + names[i]);
    ++i;
  }
}

// ---- validation ----------------------------------------------------------------------------------

void test_validation() {
  const ScanCase k{DType::kFloat32, Layout::kDense, 1, 2, 2, 10, false, false, false, false};
  ScanTensors t = scan_inputs(k);
  serengeti::ModalScanParams p = scan_params(t, k);
  Tensor wrong_y(DType::kFloat16, {1, 2, 10});
  p.y = wrong_y.view();
  emu_test::expect_throw<serengeti::InvalidArgument>([&] { emu::modal_scan(p); }, "modal_scan y dtype",
                                                      {"modal_scan", "y"});
  Vec dummy;
  const int64_t S = 2000;
  auto many_poles = make(DType::kFloat32, {2, S, 2}, Layout::kDense, Vec(2 * S * 2, 0.5), &dummy, "poles");
  auto many_res = make(DType::kFloat32, {2, S, 2}, Layout::kDense, Vec(2 * S * 2, 0.5), &dummy, "residues");
  serengeti::ModalScanParams big = scan_params(t, k);
  big.poles = many_poles->view();
  big.residues = many_res->view();
  emu_test::expect_throw<serengeti::InvalidArgument>([&] { emu::modal_scan(big); }, "modal_scan too many modes",
                                                      {"modal_scan", "poles", "modes"});

  // The gated kernels split (b, d) rows with 32-bit division: B * D >= 2^32 is refused before any
  // memory is touched (the views below describe 2^32 rows over a one-element buffer).
  float cell = 0.0f;
  const auto view = [&](std::initializer_list<int64_t> sizes) {
    serengeti::TensorView v;
    v.data = &cell;
    v.ndim = int(sizes.size());
    int64_t stride = 1, d = v.ndim;
    for (auto it = std::rbegin(sizes); it != std::rend(sizes); ++it) {
      v.sizes[--d] = *it;
      v.strides[d] = stride;
      stride *= *it;
    }
    return v;
  };
  const int64_t B = int64_t(1) << 20, D = int64_t(1) << 12;
  serengeti::GatedConvStepParams step;
  step.z = view({B, 3 * D});
  step.fir_state = view({B, 3 * D, 2});
  step.fir_weight = view({3 * D, 3});
  step.poles = view({D, 2, 2});
  step.residues = view({D, 2, 2});
  step.iir_state = view({B, D, 2, 2});
  step.y = view({B, D});
  emu_test::expect_throw<serengeti::InvalidArgument>([&] { emu::gated_conv_step(step); },
                                                      "gated_conv_step with 2^32 rows", {"gated_conv_step", "z", "B * D"});
}

}  // namespace

int main() {
  const auto start = std::chrono::steady_clock::now();
  try {
    for (DType dtype : {DType::kFloat32, DType::kFloat64})
      for (int64_t L : {1, 2, 3, 127, 1000, 4097}) test_kernel(dtype, L % 2 ? Layout::kDense : Layout::kPadded, 3, 2, L);
    test_kernel(DType::kFloat32, Layout::kDense, 1, 5, 300);
    test_kernel_long();

    const DType all[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16};
    const Layout layouts[] = {Layout::kDense, Layout::kPadded, Layout::kChannelsLast};
    int i = 0;
    for (int64_t L : {1, 2, 3, 127, 1000})
      for (DType dtype : all) {
        const Layout layout = layouts[i++ % 3];
        test_state(dtype, layout, 2, 3, 2, L, i % 2 == 0);
      }
    test_state(DType::kFloat32, Layout::kDense, 1, 2, 3, 4097, true);

    i = 0;
    for (int64_t L : {1, 2, 3, 127, 1000, 4097})
      for (DType dtype : all) {
        const Layout layout = layouts[i % 3];
        const bool flag = i++ % 2 == 0;
        const int64_t S = L == 127 ? 5 : (L % 3 == 0 ? 1 : 2);
        test_scan({dtype, layout, 2, 3, S, L, flag, !flag, true, flag});
        if (L == 127) test_scan({dtype, layout, 1, 2, 2, L, !flag, flag, false, !flag});
      }
    test_scan({DType::kFloat64, Layout::kPadded, 2, 2, 32, 300, true, true, true, true});  // H3's S = 32
    test_pole_finite_differences();
    test_determinism();

    const GatedConvLayout gated_layouts[] = {GatedConvLayout::kColumnSplit, GatedConvLayout::kThirds,
                                             GatedConvLayout::kInterleave};
    i = 0;
    for (int64_t prompt : {1, 2, 3, 127})
      for (GatedConvLayout layout : gated_layouts) {
        const bool flag = i++ % 2 == 0;
        test_gated(DType::kFloat32, layout, layout == GatedConvLayout::kColumnSplit ? 2 : 1, 2, 4, 2, 3, prompt, 5,
                   flag, !flag, prompt != 2);
      }
    test_gated(DType::kBFloat16, GatedConvLayout::kColumnSplit, 3, 1, 6, 2, 3, 20, 4, true, true, true);
    test_gated(DType::kFloat16, GatedConvLayout::kInterleave, 1, 2, 3, 3, 4, 9, 3, true, false, true);
    test_gated(DType::kFloat64, GatedConvLayout::kThirds, 1, 1, 3, 2, 5, 7, 3, false, true, true);  // runtime K
    test_gated(DType::kFloat32, GatedConvLayout::kThirds, 1, 2, 3, 1, 2, 4, 2, true, true, false);  // K = 2
    test_gated(DType::kFloat32, GatedConvLayout::kColumnSplit, 4, 1, 8, 2, 2, 1, 3, true, true, true);

    test_dispatch_against_cpu();
    test_validation();
  } catch (const std::exception& e) {
    check(false, std::string("unexpected exception: ") + e.what());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("modal emu tests: %.1f s\n", seconds);
  return emu_test::finish();
}
