// Backend dispatch of the modal op family: validate once for every backend (modal_checks.h), then
// hand the params to the backend the launch names: the CPU kernels, the CUDA kernels, or the same
// CUDA sources under the emulator (with every output redirected to guarded, NaN-filled scratch: see
// emu_guarded_outputs.h; states updated in place are copied in first).
#include "serengeti/modal.h"

#include "cpu/modal/modal_checks.h"
#include "cpu/modal/modal_cpu.h"
#include "emu_guarded_outputs.h"
#include "serengeti/error.h"
#if SERENGETI_HAVE_CUDA || SERENGETI_HAVE_EMU
#include "cuda/modal/modal_cuda.h"
#endif

namespace serengeti {
namespace {

[[noreturn]] void unavailable(const char* op, Backend backend) {
  throw InvalidArgument(detail::concat(op, ": backend '", backend_name(backend),
                                       "' is not available in this build"));
}

// Kernel pointers of the backends not built are nullptr: keep them out of template deduction.
template <class Params>
struct KernelOf {
  using type = void (*)(const Params&);
};

// One switch for every entry point. `redirect(q, guarded)` points the outputs of the emu copy q at
// guarded scratch (a no-op argument when the emu backend is not built).
template <class Params, class Redirect>
void run_backend(const char* op, const Params& p, void (*cpu_kernel)(const Params&),
              [[maybe_unused]] typename KernelOf<Params>::type cuda_kernel,
              [[maybe_unused]] typename KernelOf<Params>::type emu_kernel, [[maybe_unused]] Redirect redirect) {
  modal_checks::check(p);
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu_kernel(p);
    case Backend::kCuda:
#if SERENGETI_HAVE_CUDA
      return cuda_kernel(p);
#else
      break;
#endif
    case Backend::kEmu: {
#if SERENGETI_HAVE_EMU
      Params q = p;
      dispatch::EmuGuardedOutputs guarded;
      redirect(q, guarded);
      emu_kernel(q);
      return guarded.copy_back();
#else
      break;
#endif
    }
  }
  unavailable(op, p.launch.backend);
}

#if SERENGETI_HAVE_CUDA
#define SG_MODAL_CUDA(fn) &cuda::fn
#else
#define SG_MODAL_CUDA(fn) nullptr
#endif
#if SERENGETI_HAVE_EMU
#define SG_MODAL_EMU(fn) &emu::fn
using Guarded = dispatch::EmuGuardedOutputs;
#else
#define SG_MODAL_EMU(fn) nullptr
struct Guarded {
  void redirect(TensorView&, const char*, bool = false) {}
};
#endif

}  // namespace

void modal_kernel(const ModalKernelParams& p) {
  run_backend("modal_kernel", p, &cpu::modal_kernel, SG_MODAL_CUDA(modal_kernel), SG_MODAL_EMU(modal_kernel),
           [](ModalKernelParams& q, Guarded& g) { g.redirect(q.h, "h"); });
}

void modal_kernel_backward(const ModalKernelBackwardParams& p) {
  run_backend("modal_kernel_backward", p, &cpu::modal_kernel_backward, SG_MODAL_CUDA(modal_kernel_backward),
           SG_MODAL_EMU(modal_kernel_backward), [](ModalKernelBackwardParams& q, Guarded& g) {
             g.redirect(q.dresidues, "dresidues");
             g.redirect(q.dpoles, "dpoles");
           });
}

void modal_state(const ModalStateParams& p) {
  run_backend("modal_state", p, &cpu::modal_state, SG_MODAL_CUDA(modal_state), SG_MODAL_EMU(modal_state),
           [](ModalStateParams& q, Guarded& g) { g.redirect(q.state, "state"); });
}

void modal_state_backward(const ModalStateBackwardParams& p) {
  run_backend("modal_state_backward", p, &cpu::modal_state_backward, SG_MODAL_CUDA(modal_state_backward),
           SG_MODAL_EMU(modal_state_backward), [](ModalStateBackwardParams& q, Guarded& g) {
             g.redirect(q.dw, "dw");
             g.redirect(q.dpoles, "dpoles");
             g.redirect(q.dinitial_state, "dinitial_state");
           });
}

void modal_scan(const ModalScanParams& p) {
  run_backend("modal_scan", p, &cpu::modal_scan, SG_MODAL_CUDA(modal_scan), SG_MODAL_EMU(modal_scan),
           [](ModalScanParams& q, Guarded& g) {
             g.redirect(q.y, "y");
             g.redirect(q.final_state, "final_state");
           });
}

void modal_scan_backward(const ModalScanBackwardParams& p) {
  run_backend("modal_scan_backward", p, &cpu::modal_scan_backward, SG_MODAL_CUDA(modal_scan_backward),
           SG_MODAL_EMU(modal_scan_backward), [](ModalScanBackwardParams& q, Guarded& g) {
             g.redirect(q.dw, "dw");
             g.redirect(q.dresidues, "dresidues");
             g.redirect(q.dpoles, "dpoles");
             g.redirect(q.dD, "dD");
             g.redirect(q.dinitial_state, "dinitial_state");
           });
}

void gated_conv_step(const GatedConvStepParams& p) {
  run_backend("gated_conv_step", p, &cpu::gated_conv_step, SG_MODAL_CUDA(gated_conv_step),
           SG_MODAL_EMU(gated_conv_step), [](GatedConvStepParams& q, Guarded& g) {
             g.redirect(q.y, "y");
             g.redirect(q.fir_state, "fir_state", /*copy_in=*/true);
             g.redirect(q.iir_state, "iir_state", /*copy_in=*/true);
           });
}

void gated_conv_recurrence(const GatedConvRecurrenceParams& p) {
  run_backend("gated_conv_recurrence", p, &cpu::gated_conv_recurrence, SG_MODAL_CUDA(gated_conv_recurrence),
           SG_MODAL_EMU(gated_conv_recurrence), [](GatedConvRecurrenceParams& q, Guarded& g) {
             g.redirect(q.y, "y");
             g.redirect(q.fir_state_out, "fir_state_out");
             g.redirect(q.iir_state_out, "iir_state_out");
           });
}

#undef SG_MODAL_CUDA
#undef SG_MODAL_EMU

}  // namespace serengeti
