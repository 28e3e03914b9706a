// Backend dispatch of the modal op family: validate once for every backend (modal_checks.h), then
// hand the params to the backend the launch names: the CPU kernels, the CUDA kernels, or the same
// CUDA sources under the emulator (with every output redirected to guarded, NaN-filled scratch: see
// emu_guarded_outputs.h; states updated in place are copied in first).
#include "serengeti/modal.h"

#include "cpu/modal/modal_checks.h"
#include "cpu/modal/modal_cpu.h"
#include "run_backend.h"
#if SERENGETI_HAVE_CUDA || SERENGETI_HAVE_EMU
#include "cuda/modal/modal_cuda.h"
#endif

namespace serengeti {

using dispatch::Guarded;

void modal_kernel(const ModalKernelParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("modal_kernel", p, &cpu::modal_kernel, SG_CUDA_KERNEL(modal_kernel), SG_EMU_KERNEL(modal_kernel),
           [](ModalKernelParams& q, Guarded& g) { g.redirect(q.h, "h"); });
}

void modal_kernel_backward(const ModalKernelBackwardParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("modal_kernel_backward", p, &cpu::modal_kernel_backward, SG_CUDA_KERNEL(modal_kernel_backward),
           SG_EMU_KERNEL(modal_kernel_backward), [](ModalKernelBackwardParams& q, Guarded& g) {
             g.redirect(q.dresidues, "dresidues");
             g.redirect(q.dpoles, "dpoles");
           });
}

void modal_state(const ModalStateParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("modal_state", p, &cpu::modal_state, SG_CUDA_KERNEL(modal_state), SG_EMU_KERNEL(modal_state),
           [](ModalStateParams& q, Guarded& g) { g.redirect(q.state, "state"); });
}

void modal_state_backward(const ModalStateBackwardParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("modal_state_backward", p, &cpu::modal_state_backward, SG_CUDA_KERNEL(modal_state_backward),
           SG_EMU_KERNEL(modal_state_backward), [](ModalStateBackwardParams& q, Guarded& g) {
             g.redirect(q.dw, "dw");
             g.redirect(q.dpoles, "dpoles");
             g.redirect(q.dinitial_state, "dinitial_state");
           });
}

void modal_scan(const ModalScanParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("modal_scan", p, &cpu::modal_scan, SG_CUDA_KERNEL(modal_scan), SG_EMU_KERNEL(modal_scan),
           [](ModalScanParams& q, Guarded& g) {
             g.redirect(q.y, "y");
             g.redirect(q.final_state, "final_state");
           });
}

void modal_scan_backward(const ModalScanBackwardParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("modal_scan_backward", p, &cpu::modal_scan_backward, SG_CUDA_KERNEL(modal_scan_backward),
           SG_EMU_KERNEL(modal_scan_backward), [](ModalScanBackwardParams& q, Guarded& g) {
             g.redirect(q.dw, "dw");
             g.redirect(q.dresidues, "dresidues");
             g.redirect(q.dpoles, "dpoles");
             g.redirect(q.dD, "dD");
             g.redirect(q.dinitial_state, "dinitial_state");
           });
}

void gated_conv_step(const GatedConvStepParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("gated_conv_step", p, &cpu::gated_conv_step, SG_CUDA_KERNEL(gated_conv_step),
           SG_EMU_KERNEL(gated_conv_step), [](GatedConvStepParams& q, Guarded& g) {
             g.redirect(q.y, "y");
             g.redirect(q.fir_state, "fir_state", /*copy_in=*/true);
             g.redirect(q.iir_state, "iir_state", /*copy_in=*/true);
           });
}

void gated_conv_recurrence(const GatedConvRecurrenceParams& p) {
  modal_checks::check(p);
  dispatch::run_backend("gated_conv_recurrence", p, &cpu::gated_conv_recurrence, SG_CUDA_KERNEL(gated_conv_recurrence),
           SG_EMU_KERNEL(gated_conv_recurrence), [](GatedConvRecurrenceParams& q, Guarded& g) {
             g.redirect(q.y, "y");
             g.redirect(q.fir_state_out, "fir_state_out");
             g.redirect(q.iir_state_out, "iir_state_out");
           });
}

#undef SG_MODAL_CUDA
#undef SG_MODAL_EMU

}  // namespace serengeti
