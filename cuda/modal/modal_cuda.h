// Host launchers of the modal family's CUDA kernels (cuda/modal/*.cu). Semantics, shapes and dtypes:
// serengeti/modal.h. The same sources are compiled twice: by nvcc into serengeti::cuda (device
// pointers, real launches on p.launch.stream) and by the host compiler against cuda/emu/ into
// serengeti::emu (host pointers, emulated launches). Plain C++ header: the dispatcher includes it
// without the CUDA toolkit.
//
// No entry point needs a workspace: every reduction (over time, chunks and batch rows) happens
// inside one block, in a fixed order, so the gradients are bitwise reproducible.
//
// Errors: serengeti::InvalidArgument (message names the op and the argument) for inconsistent
// params; serengeti::InternalError carrying the CUDA error string when a launch fails.
#pragma once

#include "serengeti/modal.h"

namespace serengeti {

#define SG_MODAL_DECLARE_LAUNCHERS                                \
  void modal_kernel(const ModalKernelParams& p);                  \
  void modal_kernel_backward(const ModalKernelBackwardParams& p); \
  void modal_state(const ModalStateParams& p);                    \
  void modal_state_backward(const ModalStateBackwardParams& p);   \
  void modal_scan(const ModalScanParams& p);                      \
  void modal_scan_backward(const ModalScanBackwardParams& p);     \
  void gated_conv_step(const GatedConvStepParams& p);             \
  void gated_conv_recurrence(const GatedConvRecurrenceParams& p);

namespace cuda { SG_MODAL_DECLARE_LAUNCHERS }
namespace emu { SG_MODAL_DECLARE_LAUNCHERS }

#undef SG_MODAL_DECLARE_LAUNCHERS

}  // namespace serengeti
