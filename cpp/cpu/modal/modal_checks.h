// Validation of the modal params structs, shared by every backend (the dispatcher runs it before
// handing the params on). The torch layer validates first with friendlier messages; these checks
// catch a params struct filled inconsistently from C++. Messages name the op and the argument.
#pragma once

#include "serengeti/modal.h"

namespace serengeti::modal_checks {

void check(const ModalKernelParams& p);
void check(const ModalKernelBackwardParams& p);
void check(const ModalStateParams& p);
void check(const ModalStateBackwardParams& p);
void check(const ModalScanParams& p);
void check(const ModalScanBackwardParams& p);
void check(const GatedConvStepParams& p);
void check(const GatedConvRecurrenceParams& p);

}  // namespace serengeti::modal_checks
