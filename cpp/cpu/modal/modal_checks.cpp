// Params validation for the modal ops (modal_checks.h).
#include "cpu/modal/modal_checks.h"

#include <initializer_list>
#include <string>

#include "serengeti/error.h"

namespace serengeti::modal_checks {
namespace {

std::string shape_of(const TensorView& v) {
  std::string s = "(";
  for (int d = 0; d < v.ndim; ++d) s += (d ? ", " : "") + std::to_string(v.sizes[d]);
  return s + (v.ndim == 1 ? ",)" : ")");
}

// `v` has exactly the given sizes (-1: any).
void expect_shape(const char* op, const char* name, const TensorView& v, std::initializer_list<int64_t> sizes) {
  bool ok = v.ndim == int(sizes.size());
  int d = 0;
  for (int64_t s : sizes) {
    if (ok && s >= 0 && v.sizes[d] != s) ok = false;
    ++d;
  }
  if (ok) return;
  std::string expected = "(";
  d = 0;
  for (int64_t s : sizes) expected += (d++ ? ", " : "") + (s >= 0 ? std::to_string(s) : std::string("*"));
  throw InvalidArgument(detail::concat(op, ": ", name, ": expected shape ", expected, ")", ", got ", shape_of(v)));
}

// Poles, residues and states: float32, or float64 with float64 activations.
void expect_filter_dtype(const char* op, const char* name, const TensorView& v, DType activations) {
  const DType want = activations == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
  SG_CHECK_ARG(v.dtype == want, op, ": ", name, ": expected dtype ", dtype_name(want), " with ",
               dtype_name(activations), " activations, got ", dtype_name(v.dtype));
}

void expect_same_dtype(const char* op, const char* name, const TensorView& v, DType want) {
  SG_CHECK_ARG(v.dtype == want, op, ": ", name, ": expected dtype ", dtype_name(want), ", got ",
               dtype_name(v.dtype));
}

void check_filter(const char* op, const TensorView& residues, const TensorView& poles, DType act,
                  bool residues_needed) {
  SG_CHECK_ARG(poles.present(), op, ": poles: required");
  SG_CHECK_ARG(poles.ndim == 3 && poles.sizes[2] == 2, op,
               ": poles: expected a complex (D, S, 2) real view, got shape ", shape_of(poles));
  SG_CHECK_ARG(poles.sizes[1] >= 1, op, ": poles: expected S >= 1 modes, got shape ", shape_of(poles));
  expect_filter_dtype(op, "poles", poles, act);
  if (!residues_needed && !residues.present()) return;
  SG_CHECK_ARG(residues.present(), op, ": residues: required");
  expect_shape(op, "residues", residues, {poles.sizes[0], poles.sizes[1], 2});
  expect_filter_dtype(op, "residues", residues, act);
}

void check_state(const char* op, const char* name, const TensorView& v, int64_t B, const TensorView& poles,
                 DType act) {
  if (!v.present()) return;
  expect_shape(op, name, v, {B, poles.sizes[0], poles.sizes[1], 2});
  expect_filter_dtype(op, name, v, act);
}

void check_d(const char* op, const TensorView& d, int64_t D, DType act) {
  if (!d.present()) return;
  expect_shape(op, "D", d, {D});
  expect_filter_dtype(op, "D", d, act);
}

void check_activation(const char* op, const char* name, const TensorView& v, int ndim) {
  SG_CHECK_ARG(v.present(), op, ": ", name, ": required");
  SG_CHECK_ARG(v.ndim == ndim, op, ": ", name, ": expected ", ndim, " dims, got shape ", shape_of(v));
}

void check_gated_common(const char* op, const TensorView& z, const TensorView& fir_weight,
                        const TensorView& fir_bias, const TensorView& poles, const TensorView& residues,
                        const TensorView& d, GatedConvLayout layout, int64_t heads) {
  check_filter(op, residues, poles, z.dtype, true);
  const int64_t D = poles.sizes[0];
  SG_CHECK_ARG(z.sizes[1] == 3 * D, op, ": z: expected 3*D = ", 3 * D, " channels, got shape ", shape_of(z));
  SG_CHECK_ARG(fir_weight.present() && fir_weight.ndim == 2 && fir_weight.sizes[0] == 3 * D &&
                   fir_weight.sizes[1] >= 1 && fir_weight.sizes[1] <= 128,
               op, ": fir_weight: expected shape (3D = ", 3 * D, ", K) with 1 <= K <= 128, got ",
               fir_weight.present() ? shape_of(fir_weight) : std::string("None"));
  if (fir_bias.present()) expect_shape(op, "fir_bias", fir_bias, {3 * D});
  check_d(op, d, D, z.dtype);
  SG_CHECK_ARG(layout == GatedConvLayout::kColumnSplit || layout == GatedConvLayout::kThirds ||
                   layout == GatedConvLayout::kInterleave,
               op, ": layout: unknown value ", int(layout));
  SG_CHECK_ARG(heads >= 1 && D % heads == 0, op, ": heads: expected a divisor of D = ", D, ", got ", heads);
}

}  // namespace

void check(const ModalKernelParams& p) {
  const char* op = "modal_kernel";
  check_filter(op, p.residues, p.poles, p.poles.dtype, true);
  SG_CHECK_ARG(p.h.present() && p.h.ndim == 2 && p.h.sizes[0] == p.poles.sizes[0], op,
               ": h: expected shape (D, L), got ", shape_of(p.h));
  expect_same_dtype(op, "h", p.h, p.poles.dtype);
}

void check(const ModalKernelBackwardParams& p) {
  const char* op = "modal_kernel_backward";
  check_filter(op, p.residues, p.poles, p.poles.dtype, true);
  SG_CHECK_ARG(p.dh.present() && p.dh.ndim == 2 && p.dh.sizes[0] == p.poles.sizes[0], op,
               ": dh: expected shape (D, L), got ", shape_of(p.dh));
  expect_same_dtype(op, "dh", p.dh, p.poles.dtype);
  for (auto [name, v] : {std::pair{"dresidues", &p.dresidues}, std::pair{"dpoles", &p.dpoles}})
    if (v->present()) {
      expect_shape(op, name, *v, {p.poles.sizes[0], p.poles.sizes[1], 2});
      expect_same_dtype(op, name, *v, p.poles.dtype);
    }
}

void check(const ModalStateParams& p) {
  const char* op = "modal_state";
  check_activation(op, "w", p.w, 3);
  check_filter(op, TensorView{}, p.poles, p.w.dtype, false);
  SG_CHECK_ARG(p.w.sizes[1] == p.poles.sizes[0], op, ": w: expected D = ", p.poles.sizes[0],
               " channels (poles' D), got shape ", shape_of(p.w));
  check_state(op, "initial_state", p.initial_state, p.w.sizes[0], p.poles, p.w.dtype);
  SG_CHECK_ARG(p.state.present(), op, ": state: required");
  check_state(op, "state", p.state, p.w.sizes[0], p.poles, p.w.dtype);
}

void check(const ModalStateBackwardParams& p) {
  const char* op = "modal_state_backward";
  check_activation(op, "w", p.w, 3);
  check_filter(op, TensorView{}, p.poles, p.w.dtype, false);
  check_state(op, "initial_state", p.initial_state, p.w.sizes[0], p.poles, p.w.dtype);
  SG_CHECK_ARG(p.dstate.present(), op, ": dstate: required");
  check_state(op, "dstate", p.dstate, p.w.sizes[0], p.poles, p.w.dtype);
  check_state(op, "dinitial_state", p.dinitial_state, p.w.sizes[0], p.poles, p.w.dtype);
  if (p.dw.present()) expect_shape(op, "dw", p.dw, {p.w.sizes[0], p.w.sizes[1], p.w.sizes[2]});
  if (p.dpoles.present()) expect_shape(op, "dpoles", p.dpoles, {p.poles.sizes[0], p.poles.sizes[1], 2});
}

void check(const ModalScanParams& p) {
  const char* op = "modal_scan";
  check_activation(op, "w", p.w, 3);
  check_filter(op, p.residues, p.poles, p.w.dtype, true);
  SG_CHECK_ARG(p.w.sizes[1] == p.poles.sizes[0], op, ": w: expected D = ", p.poles.sizes[0],
               " channels (poles' D), got shape ", shape_of(p.w));
  check_d(op, p.D, p.poles.sizes[0], p.w.dtype);
  check_state(op, "initial_state", p.initial_state, p.w.sizes[0], p.poles, p.w.dtype);
  check_state(op, "final_state", p.final_state, p.w.sizes[0], p.poles, p.w.dtype);
  SG_CHECK_ARG(p.y.present(), op, ": y: required");
  expect_shape(op, "y", p.y, {p.w.sizes[0], p.w.sizes[1], p.w.sizes[2]});
}

void check(const ModalScanBackwardParams& p) {
  const char* op = "modal_scan_backward";
  check_activation(op, "w", p.w, 3);
  check_filter(op, p.residues, p.poles, p.w.dtype, true);
  check_d(op, p.D, p.poles.sizes[0], p.w.dtype);
  check_state(op, "initial_state", p.initial_state, p.w.sizes[0], p.poles, p.w.dtype);
  check_state(op, "dfinal_state", p.dfinal_state, p.w.sizes[0], p.poles, p.w.dtype);
  check_state(op, "dinitial_state", p.dinitial_state, p.w.sizes[0], p.poles, p.w.dtype);
  check_activation(op, "dy", p.dy, 3);
  expect_shape(op, "dy", p.dy, {p.w.sizes[0], p.w.sizes[1], p.w.sizes[2]});
  if (p.dw.present()) expect_shape(op, "dw", p.dw, {p.w.sizes[0], p.w.sizes[1], p.w.sizes[2]});
  for (auto [name, v] : {std::pair{"dresidues", &p.dresidues}, std::pair{"dpoles", &p.dpoles}})
    if (v->present()) expect_shape(op, name, *v, {p.poles.sizes[0], p.poles.sizes[1], 2});
  if (p.dD.present()) expect_shape(op, "dD", p.dD, {p.poles.sizes[0]});
}

void check(const GatedConvStepParams& p) {
  const char* op = "gated_conv_step";
  check_activation(op, "z", p.z, 2);
  check_gated_common(op, p.z, p.fir_weight, p.fir_bias, p.poles, p.residues, p.D, p.layout, p.heads);
  const int64_t B = p.z.sizes[0], D = p.poles.sizes[0];
  // With K = 1 the state is empty, and an empty tensor may have a null data pointer (absent).
  if (p.fir_weight.sizes[1] > 1 || p.fir_state.present()) {
    SG_CHECK_ARG(p.fir_state.present(), op, ": fir_state: required");
    expect_shape(op, "fir_state", p.fir_state, {B, 3 * D, p.fir_weight.sizes[1] - 1});
    expect_same_dtype(op, "fir_state", p.fir_state, p.z.dtype);
  }
  SG_CHECK_ARG(p.iir_state.present(), op, ": iir_state: required");
  check_state(op, "iir_state", p.iir_state, B, p.poles, p.z.dtype);
  SG_CHECK_ARG(p.y.present(), op, ": y: required");
  expect_shape(op, "y", p.y, {B, D});
}

void check(const GatedConvRecurrenceParams& p) {
  const char* op = "gated_conv_recurrence";
  check_activation(op, "z", p.z, 3);
  check_gated_common(op, p.z, p.fir_weight, p.fir_bias, p.poles, p.residues, p.D, p.layout, p.heads);
  const int64_t B = p.z.sizes[0], D = p.poles.sizes[0], H = p.fir_weight.sizes[1] - 1;
  for (auto [name, v] : {std::pair{"fir_state", &p.fir_state_in}, std::pair{"fir_state_out", &p.fir_state_out}})
    if (v->present()) {
      expect_shape(op, name, *v, {B, 3 * D, H});
      expect_same_dtype(op, name, *v, p.z.dtype);
    }
  check_state(op, "iir_state", p.iir_state_in, B, p.poles, p.z.dtype);
  check_state(op, "iir_state_out", p.iir_state_out, B, p.poles, p.z.dtype);
  SG_CHECK_ARG(p.y.present(), op, ": y: required");
  expect_shape(op, "y", p.y, {B, D, p.z.sizes[2]});
}

}  // namespace serengeti::modal_checks
