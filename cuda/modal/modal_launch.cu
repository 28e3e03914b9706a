// serengeti::{cuda,emu}::modal_* and gated_conv_*: validate, fill the kernels' argument structs and
// launch on p.launch.stream. Which kernel serves which op:
//
//   modal_kernel            synthesis (a = R)                    synthesis.cu
//   modal_kernel_backward   analysis, dR = conj G0, dp = conj(R G1) analysis.cu
//   modal_state             analysis of reversed w, s = p^L s0 + G0 analysis.cu
//   modal_state_backward    synthesis of dw (a = conj(dstate), reversed) + analysis for ds0, dp
//   modal_scan              chunked scan                           scan_forward.cu
//   modal_scan_backward     chunked reverse scan                   scan_backward.cu
//   gated_conv_step         a thread per (b, d)                    gated_step.cu
//   gated_conv_recurrence   a thread per (b, d) walking time       gated_recurrence.cu
#include <cuda_runtime.h>

#include "cpu/modal/modal_checks.h"
#include "cuda/emu/sg_launch.h"
#include "cuda/modal/kernel_args.cuh"
#include "cuda/modal/kernel_launchers.h"
#include "cuda/modal/modal_cuda.h"
#include "cuda/modal/validate_params.h"
#include "serengeti/error.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

using modal_kernels::AnalysisArgs;
using modal_kernels::AnalysisEpilogue;
using modal_kernels::complex_rows;
using modal_kernels::Rows3;
using modal_kernels::rows3;
using modal_kernels::table2;
namespace v = modal_kernels::validate;

cudaStream_t stream_of(const LaunchConfig& launch) { return static_cast<cudaStream_t>(launch.stream); }

// A (D, L) view as rows of a batch of one; a (B, C) view as rows of one step.
Rows3 channel_rows(const TensorView& t) { return Rows3{t.data, 0, t.strides[0], t.strides[1]}; }
Rows3 step_rows(const TensorView& t) {
  if (!t.present()) return Rows3{nullptr, 0, 0, 0};
  return Rows3{t.data, t.strides[0], t.strides[1], t.ndim > 2 ? t.strides[2] : 0};
}

void check_strides(const char* op, std::initializer_list<std::pair<const char*, const TensorView*>> views) {
  for (const auto& [name, view] : views) v::nonnegative_strides(op, *view, name);
}

}  // namespace

void modal_kernel(const ModalKernelParams& p) {
  const char* op = "modal_kernel";
  modal_checks::check(p);
  check_strides(op, {{"residues", &p.residues}, {"poles", &p.poles}, {"h", &p.h}});
  v::writable(op, p.h, "h");
  const int64_t D = p.poles.sizes[0], L = p.h.sizes[1];
  if (D == 0 || L == 0) return;
  modal_kernels::SynthesisArgs a{};
  a.batch = 1;
  a.channels = D;
  a.length = L;
  a.modes = p.poles.sizes[1];
  a.coefficients = complex_rows(p.residues);
  a.poles = complex_rows(p.poles);
  a.conjugate = false;
  a.reversed = false;
  a.out = channel_rows(p.h);
  modal_kernels::launch_synthesis(a, p.h.dtype, stream_of(p.launch));
}

void modal_kernel_backward(const ModalKernelBackwardParams& p) {
  const char* op = "modal_kernel_backward";
  modal_checks::check(p);
  check_strides(op, {{"residues", &p.residues}, {"poles", &p.poles}, {"dh", &p.dh},
                     {"dresidues", &p.dresidues}, {"dpoles", &p.dpoles}});
  v::writable(op, p.dresidues, "dresidues");
  v::writable(op, p.dpoles, "dpoles");
  const int64_t D = p.poles.sizes[0];
  if (D == 0 || (!p.dresidues.present() && !p.dpoles.present())) return;
  AnalysisArgs a{};
  a.batch = 1;
  a.channels = D;
  a.length = p.dh.sizes[1];
  a.modes = p.poles.sizes[1];
  a.in = channel_rows(p.dh);
  a.reversed = false;
  a.need_g0 = p.dresidues.present();
  a.need_g1 = p.dpoles.present();
  a.poles = complex_rows(p.poles);
  a.residues = complex_rows(p.residues);
  a.dresidues = complex_rows(p.dresidues);
  a.dpoles = complex_rows(p.dpoles);
  modal_kernels::launch_analysis(a, AnalysisEpilogue::kKernelGrads, p.dh.dtype, stream_of(p.launch));
}

void modal_state(const ModalStateParams& p) {
  const char* op = "modal_state";
  modal_checks::check(p);
  v::known_dtype(op, p.w, "w");
  check_strides(op, {{"w", &p.w}, {"poles", &p.poles}, {"initial_state", &p.initial_state}, {"state", &p.state}});
  v::writable(op, p.state, "state");
  const int64_t B = p.w.sizes[0], D = p.w.sizes[1];
  if (B == 0 || D == 0) return;
  AnalysisArgs a{};
  a.batch = B;
  a.channels = D;
  a.length = p.w.sizes[2];
  a.modes = p.poles.sizes[1];
  a.in = rows3(p.w);
  a.reversed = true;  // s = sum_k p^(L-1-k) w[k]: G0 of w read back to front
  a.need_g0 = true;
  a.need_g1 = false;
  a.poles = complex_rows(p.poles);
  a.initial_state = complex_rows(p.initial_state);
  a.state = complex_rows(p.state);
  modal_kernels::launch_analysis(a, AnalysisEpilogue::kStateForward, p.w.dtype, stream_of(p.launch));
}

void modal_state_backward(const ModalStateBackwardParams& p) {
  const char* op = "modal_state_backward";
  modal_checks::check(p);
  v::known_dtype(op, p.w, "w");
  v::same_dtype(op, p.dw, "dw", p.w.dtype);
  v::same_dtype(op, p.dpoles, "dpoles", v::filter_dtype(p.w.dtype));
  check_strides(op, {{"w", &p.w}, {"poles", &p.poles}, {"initial_state", &p.initial_state},
                     {"dstate", &p.dstate}, {"dw", &p.dw}, {"dpoles", &p.dpoles},
                     {"dinitial_state", &p.dinitial_state}});
  v::writable(op, p.dw, "dw");
  v::writable(op, p.dpoles, "dpoles");
  v::writable(op, p.dinitial_state, "dinitial_state");
  const int64_t B = p.w.sizes[0], D = p.w.sizes[1], L = p.w.sizes[2], S = p.poles.sizes[1];
  if (D == 0) return;
  const cudaStream_t stream = stream_of(p.launch);
  if (p.dw.present() && B > 0 && L > 0) {
    // dw[k] = Re sum_n conj(g_n) p_n^(L-1-k): a synthesis in reversed time.
    modal_kernels::SynthesisArgs s{};
    s.batch = B;
    s.channels = D;
    s.length = L;
    s.modes = S;
    s.coefficients = complex_rows(p.dstate);
    s.poles = complex_rows(p.poles);
    s.conjugate = true;
    s.reversed = true;
    s.out = rows3(p.dw);
    modal_kernels::launch_synthesis(s, p.w.dtype, stream);
  }
  if (!p.dpoles.present() && !(p.dinitial_state.present() && B > 0)) return;
  AnalysisArgs a{};
  a.batch = B;
  a.channels = D;
  a.length = L;
  a.modes = S;
  a.in = rows3(p.w);
  a.reversed = true;
  a.need_g0 = false;
  a.need_g1 = p.dpoles.present();
  a.poles = complex_rows(p.poles);
  a.initial_state = complex_rows(p.initial_state);
  a.dstate = complex_rows(p.dstate);
  a.dpoles = complex_rows(p.dpoles);
  a.dinitial_state = complex_rows(p.dinitial_state);
  modal_kernels::launch_analysis(a, AnalysisEpilogue::kStateGrads, p.w.dtype, stream);
}

void modal_scan(const ModalScanParams& p) {
  const char* op = "modal_scan";
  modal_checks::check(p);
  v::known_dtype(op, p.w, "w");
  v::same_dtype(op, p.y, "y", p.w.dtype);
  v::modes_fit(op, p.poles.sizes[1], modal_kernels::scan_max_modes(p.w.dtype));
  check_strides(op, {{"w", &p.w}, {"residues", &p.residues}, {"poles", &p.poles}, {"D", &p.D},
                     {"initial_state", &p.initial_state}, {"y", &p.y}, {"final_state", &p.final_state}});
  v::writable(op, p.y, "y");
  v::writable(op, p.final_state, "final_state");
  const int64_t B = p.w.sizes[0], D = p.w.sizes[1];
  if (B == 0 || D == 0) return;
  modal_kernels::ScanArgs a{};
  a.batch = B;
  a.channels = D;
  a.length = p.w.sizes[2];
  a.modes = p.poles.sizes[1];
  a.w = rows3(p.w);
  a.y = rows3(p.y);
  a.skip = table2(p.D);
  a.poles = complex_rows(p.poles);
  a.residues = complex_rows(p.residues);
  a.initial_state = complex_rows(p.initial_state);
  a.final_state = complex_rows(p.final_state);
  modal_kernels::launch_scan_forward(a, p.w.dtype, stream_of(p.launch));
}

void modal_scan_backward(const ModalScanBackwardParams& p) {
  const char* op = "modal_scan_backward";
  modal_checks::check(p);
  v::known_dtype(op, p.w, "w");
  v::same_dtype(op, p.dy, "dy", p.w.dtype);
  v::same_dtype(op, p.dw, "dw", p.w.dtype);
  const DType filter = v::filter_dtype(p.w.dtype);
  v::same_dtype(op, p.dresidues, "dresidues", filter);
  v::same_dtype(op, p.dpoles, "dpoles", filter);
  v::same_dtype(op, p.dD, "dD", filter);
  v::modes_fit(op, p.poles.sizes[1], modal_kernels::scan_max_modes(p.w.dtype));
  check_strides(op, {{"w", &p.w}, {"residues", &p.residues}, {"poles", &p.poles}, {"D", &p.D},
                     {"initial_state", &p.initial_state}, {"dy", &p.dy}, {"dfinal_state", &p.dfinal_state},
                     {"dw", &p.dw}, {"dresidues", &p.dresidues}, {"dpoles", &p.dpoles}, {"dD", &p.dD},
                     {"dinitial_state", &p.dinitial_state}});
  for (const auto& [name, view] : {std::pair{"dw", &p.dw}, std::pair{"dresidues", &p.dresidues},
                                   std::pair{"dpoles", &p.dpoles}, std::pair{"dD", &p.dD},
                                   std::pair{"dinitial_state", &p.dinitial_state}})
    v::writable(op, *view, name);
  const int64_t D = p.w.sizes[1];
  const bool any_output = p.dw.present() || p.dresidues.present() || p.dpoles.present() ||
                          p.dD.present() || p.dinitial_state.present();
  if (D == 0 || !any_output) return;
  modal_kernels::ScanArgs a{};
  a.batch = p.w.sizes[0];
  a.channels = D;
  a.length = p.w.sizes[2];
  a.modes = p.poles.sizes[1];
  a.w = rows3(p.w);
  a.dy = rows3(p.dy);
  a.dw = rows3(p.dw);
  a.skip = table2(p.D);
  a.dskip = table2(p.dD);
  a.poles = complex_rows(p.poles);
  a.residues = complex_rows(p.residues);
  a.initial_state = complex_rows(p.initial_state);
  a.dfinal_state = complex_rows(p.dfinal_state);
  a.dresidues = complex_rows(p.dresidues);
  a.dpoles = complex_rows(p.dpoles);
  a.dinitial_state = complex_rows(p.dinitial_state);
  modal_kernels::launch_scan_backward(a, p.w.dtype, stream_of(p.launch));
}

namespace {

// The parts of GatedArgs the step and the recurrence share.
template <class Params>
modal_kernels::GatedArgs gated_args(const char* op, const Params& p) {
  v::known_dtype(op, p.z, "z");
  v::known_dtype(op, p.fir_weight, "fir_weight");
  if (p.fir_bias.present()) v::known_dtype(op, p.fir_bias, "fir_bias");
  v::same_dtype(op, p.y, "y", p.z.dtype);
  check_strides(op, {{"z", &p.z}, {"fir_weight", &p.fir_weight}, {"fir_bias", &p.fir_bias},
                     {"poles", &p.poles}, {"residues", &p.residues}, {"D", &p.D}, {"y", &p.y}});
  v::writable(op, p.y, "y");
  modal_kernels::GatedArgs a{};
  a.batch = p.z.sizes[0];
  a.channels = p.poles.sizes[0];
  a.modes = p.poles.sizes[1];
  a.taps = p.fir_weight.sizes[1];
  a.heads = p.heads;
  v::rows_fit(op, a.batch, a.channels);
  a.layout = static_cast<int>(p.layout);
  a.z = step_rows(p.z);
  a.y = step_rows(p.y);
  a.fir_weight = table2(p.fir_weight);
  a.fir_bias = table2(p.fir_bias);
  a.skip = table2(p.D);
  a.poles = complex_rows(p.poles);
  a.residues = complex_rows(p.residues);
  return a;
}

}  // namespace

void gated_conv_step(const GatedConvStepParams& p) {
  const char* op = "gated_conv_step";
  modal_checks::check(p);
  modal_kernels::GatedArgs a = gated_args(op, p);
  check_strides(op, {{"fir_state", &p.fir_state}, {"iir_state", &p.iir_state}});
  v::writable(op, p.fir_state, "fir_state");
  v::writable(op, p.iir_state, "iir_state");
  if (a.batch == 0 || a.channels == 0) return;
  a.length = 1;
  a.fir_state_in = step_rows(p.fir_state);
  a.iir_state_in = complex_rows(p.iir_state);
  modal_kernels::launch_gated_step(a, p.z.dtype, stream_of(p.launch));
}

void gated_conv_recurrence(const GatedConvRecurrenceParams& p) {
  const char* op = "gated_conv_recurrence";
  modal_checks::check(p);
  modal_kernels::GatedArgs a = gated_args(op, p);
  v::modes_fit(op, a.modes, modal_kernels::recurrence_max_modes(p.z.dtype));
  check_strides(op, {{"fir_state", &p.fir_state_in}, {"iir_state", &p.iir_state_in},
                     {"fir_state_out", &p.fir_state_out}, {"iir_state_out", &p.iir_state_out}});
  v::writable(op, p.fir_state_out, "fir_state_out");
  v::writable(op, p.iir_state_out, "iir_state_out");
  if (a.batch == 0 || a.channels == 0) return;
  a.length = p.z.sizes[2];
  a.fir_state_in = step_rows(p.fir_state_in);
  a.fir_state_out = step_rows(p.fir_state_out);
  a.iir_state_in = complex_rows(p.iir_state_in);
  a.iir_state_out = complex_rows(p.iir_state_out);
  modal_kernels::launch_gated_recurrence(a, p.z.dtype, stream_of(p.launch));
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
