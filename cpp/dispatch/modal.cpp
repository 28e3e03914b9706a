// Backend dispatch of the modal op family: validate once for every backend (modal_checks.h), then
// one switch per entry point on p.launch.backend. Only the CPU kernels exist so far; the CUDA ones
// (and their emulator build) take the same params structs.
#include "serengeti/modal.h"

#include "cpu/modal/modal_cpu.h"
#include "cpu/modal/modal_checks.h"
#include "serengeti/error.h"

namespace serengeti {
namespace {

[[noreturn]] void unavailable(const char* op, Backend backend) {
  throw InvalidArgument(detail::concat(op, ": backend '", backend_name(backend),
                                       "' is not available in this build"));
}

// Runs the CPU kernel or reports the backend missing; the same shape for every entry point.
template <class Params>
void dispatch(const char* op, const Params& p, void (*cpu_kernel)(const Params&)) {
  modal_checks::check(p);
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu_kernel(p);
    case Backend::kCuda:
    case Backend::kEmu: break;
  }
  unavailable(op, p.launch.backend);
}

}  // namespace

void modal_kernel(const ModalKernelParams& p) { dispatch("modal_kernel", p, &cpu::modal_kernel); }
void modal_kernel_backward(const ModalKernelBackwardParams& p) {
  dispatch("modal_kernel_backward", p, &cpu::modal_kernel_backward);
}
void modal_state(const ModalStateParams& p) { dispatch("modal_state", p, &cpu::modal_state); }
void modal_state_backward(const ModalStateBackwardParams& p) {
  dispatch("modal_state_backward", p, &cpu::modal_state_backward);
}
void modal_scan(const ModalScanParams& p) { dispatch("modal_scan", p, &cpu::modal_scan); }
void modal_scan_backward(const ModalScanBackwardParams& p) {
  dispatch("modal_scan_backward", p, &cpu::modal_scan_backward);
}
void gated_conv_step(const GatedConvStepParams& p) { dispatch("gated_conv_step", p, &cpu::gated_conv_step); }
void gated_conv_recurrence(const GatedConvRecurrenceParams& p) {
  dispatch("gated_conv_recurrence", p, &cpu::gated_conv_recurrence);
}

}  // namespace serengeti
