#include "cpu/short_conv/short_conv_checks.h"

#include <initializer_list>
#include <string>

#include "serengeti/error.h"

namespace serengeti::short_conv_checks {
namespace {

// A view is "given" when it has data or describes an empty tensor (torch may report a null data
// pointer for zero elements, e.g. the (B, C, 0) state of a K = 1 filter).
bool given(const TensorView& v) { return v.present() || v.ndim > 0; }

std::string shape_string(const TensorView& v) {
  std::string s = "(";
  for (int d = 0; d < v.ndim; ++d) s += (d ? ", " : "") + std::to_string(v.sizes[d]);
  return s + (v.ndim == 1 ? ",)" : ")");
}

void check_shape(const TensorView& v, const char* name, std::initializer_list<int64_t> expected,
                 const char* meaning) {
  const int ndim = static_cast<int>(expected.size());
  SG_CHECK_ARG(v.ndim == ndim, name, ": expected ", ndim, " dims ", meaning, ", got ", v.ndim,
               " dims");
  int d = 0;
  bool same = true;
  for (int64_t e : expected) same = same && v.sizes[d++] == e;
  if (!same) {
    std::string want = "(";
    d = 0;
    for (int64_t e : expected) want += (d++ ? ", " : "") + std::to_string(e);
    want += ndim == 1 ? ",)" : ")";
    SG_CHECK_ARG(false, name, ": expected shape ", want, " ", meaning, ", got ", shape_string(v));
  }
}

void check_dtype(const TensorView& v, const char* name, DType expected, const char* whose) {
  SG_CHECK_ARG(v.dtype == expected, name, ": expected ", whose, " dtype ", dtype_name(expected),
               ", got ", dtype_name(v.dtype));
}

void check_known_dtype(const TensorView& v, const char* name) {
  const DType d = v.dtype;
  SG_CHECK_ARG(d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 ||
                   d == DType::kBFloat16,
               name, ": unsupported dtype code ", int(d));
}

// Outputs must not broadcast: a zero stride along a dimension of size > 1 makes several elements
// share one address, and the threads writing them would race.
void check_writable(const TensorView& v, const char* name) {
  for (int d = 0; d < v.ndim; ++d)
    SG_CHECK_ARG(v.sizes[d] <= 1 || v.strides[d] != 0, name, ": output has stride 0 along dim ", d,
                 " (size ", v.sizes[d], "); it must not be a broadcast view");
}

void check_required(const TensorView& v, const char* name) {
  SG_CHECK_ARG(given(v), name, ": required but absent");
}

// x (B, C, L) and weight (C, K) and bias (C,): returns nothing, the sizes are read by the callers.
void check_x_weight_bias(const TensorView& x, const TensorView& weight, const TensorView& bias) {
  check_required(x, "x");
  SG_CHECK_ARG(x.ndim == 3, "x: expected 3 dims (B, C, L), got ", x.ndim, " dims");
  check_known_dtype(x, "x");
  check_required(weight, "weight");
  SG_CHECK_ARG(weight.ndim == 2, "weight: expected 2 dims (C, K), got ", weight.ndim, " dims");
  check_known_dtype(weight, "weight");
  SG_CHECK_ARG(weight.sizes[0] == x.sizes[1], "weight: expected C = ", x.sizes[1],
               " channels (x's dim 1), got shape ", shape_string(weight));
  const int64_t K = weight.sizes[1];
  SG_CHECK_ARG(K >= 1 && K <= kMaxTaps, "weight: expected 1 <= K <= ", kMaxTaps, " taps, got K = ", K);
  if (given(bias)) {
    check_shape(bias, "bias", {x.sizes[1]}, "(C,)");
    check_known_dtype(bias, "bias");
  }
}

// An optional (B, C, K-1) state or state gradient in x's dtype.
void check_state(const TensorView& v, const char* name, const TensorView& x, int64_t K,
                 bool output) {
  if (!given(v)) return;
  check_shape(v, name, {x.sizes[0], x.sizes[1], K - 1}, "(B, C, K-1)");
  check_dtype(v, name, x.dtype, "x's");
  if (output) check_writable(v, name);
}

// A (B, C, L) activation-like tensor in x's dtype.
void check_like_x(const TensorView& v, const char* name, const TensorView& x, bool output) {
  check_shape(v, name, {x.sizes[0], x.sizes[1], x.sizes[2]}, "(B, C, L) like x");
  check_dtype(v, name, x.dtype, "x's");
  if (output) check_writable(v, name);
}

}  // namespace

void check_forward(const ShortConvForwardParams& p) {
  check_x_weight_bias(p.x, p.weight, p.bias);
  const int64_t K = p.weight.sizes[1];
  check_state(p.initial_state, "initial_state", p.x, K, false);
  check_required(p.y, "y");
  check_like_x(p.y, "y", p.x, true);
  check_state(p.final_state, "final_state", p.x, K, true);
}

void check_backward(const ShortConvBackwardParams& p) {
  check_x_weight_bias(p.x, p.weight, p.bias);
  const int64_t K = p.weight.sizes[1];
  check_state(p.initial_state, "initial_state", p.x, K, false);
  check_required(p.dy, "dy");
  check_like_x(p.dy, "dy", p.x, false);
  check_state(p.dfinal_state, "dfinal_state", p.x, K, false);
  if (given(p.dx)) check_like_x(p.dx, "dx", p.x, true);
  if (given(p.dweight)) {
    check_shape(p.dweight, "dweight", {p.x.sizes[1], K}, "(C, K) like weight");
    check_dtype(p.dweight, "dweight", p.weight.dtype, "weight's");
    check_writable(p.dweight, "dweight");
  }
  if (given(p.dbias)) {
    check_shape(p.dbias, "dbias", {p.x.sizes[1]}, "(C,)");
    if (given(p.bias))
      check_dtype(p.dbias, "dbias", p.bias.dtype, "bias's");
    else
      check_known_dtype(p.dbias, "dbias");
    check_writable(p.dbias, "dbias");
  }
  check_state(p.dinitial_state, "dinitial_state", p.x, K, true);
}

void check_step(const ShortConvStepParams& p) {
  check_required(p.x, "x");
  SG_CHECK_ARG(p.x.ndim == 2, "x: expected 2 dims (B, C), got ", p.x.ndim, " dims");
  check_known_dtype(p.x, "x");
  check_required(p.weight, "weight");
  SG_CHECK_ARG(p.weight.ndim == 2, "weight: expected 2 dims (C, K), got ", p.weight.ndim, " dims");
  check_known_dtype(p.weight, "weight");
  const int64_t B = p.x.sizes[0], C = p.x.sizes[1], K = p.weight.sizes[1];
  SG_CHECK_ARG(p.weight.sizes[0] == C, "weight: expected C = ", C,
               " channels (x's dim 1), got shape ", shape_string(p.weight));
  SG_CHECK_ARG(K >= 1 && K <= kMaxTaps, "weight: expected 1 <= K <= ", kMaxTaps, " taps, got K = ", K);
  if (given(p.bias)) {
    check_shape(p.bias, "bias", {C}, "(C,)");
    check_known_dtype(p.bias, "bias");
  }
  // The state is required, but a K = 1 filter has an empty one that may arrive without data.
  if (K > 1) check_required(p.state, "state");
  if (given(p.state)) {
    check_shape(p.state, "state", {B, C, K - 1}, "(B, C, K-1)");
    check_dtype(p.state, "state", p.x.dtype, "x's");
    check_writable(p.state, "state");
  }
  check_required(p.y, "y");
  check_shape(p.y, "y", {B, C}, "(B, C) like x");
  check_dtype(p.y, "y", p.x.dtype, "x's");
  check_writable(p.y, "y");
}

}  // namespace serengeti::short_conv_checks
