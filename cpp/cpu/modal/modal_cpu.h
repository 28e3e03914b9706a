// CPU backend of the modal ops (semantics: serengeti/modal.h). The dispatcher
// (cpp/dispatch/modal.cpp) validates the params with modal_checks.h first; these functions assume
// valid arguments.
#pragma once

#include "serengeti/modal.h"

namespace serengeti::cpu {

void modal_kernel(const ModalKernelParams& p);
void modal_kernel_backward(const ModalKernelBackwardParams& p);
void modal_state(const ModalStateParams& p);
void modal_state_backward(const ModalStateBackwardParams& p);
void modal_scan(const ModalScanParams& p);
void modal_scan_backward(const ModalScanBackwardParams& p);
void gated_conv_step(const GatedConvStepParams& p);
void gated_conv_recurrence(const GatedConvRecurrenceParams& p);

}  // namespace serengeti::cpu
