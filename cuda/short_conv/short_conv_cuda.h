// Host launchers of the short depthwise causal convolution's CUDA kernels (cuda/short_conv/*.cu).
// Semantics, shapes and dtypes: serengeti/short_conv.h. The same sources are compiled twice: by nvcc
// into serengeti::cuda (device pointers, real launches on p.launch.stream) and by the host compiler
// against cuda/emu/ into serengeti::emu (host pointers, emulated launches). Plain C++ header: the
// dispatcher includes it without the CUDA toolkit.
//
// Errors: serengeti::InvalidArgument (message starts with the argument's name) for inconsistent
// params; serengeti::InternalError carrying the CUDA error string when a launch fails.
#pragma once

#include <cstdint>

#include "serengeti/short_conv.h"

namespace serengeti {

#define SG_SHORT_CONV_DECLARE_LAUNCHERS                                      \
  void short_conv_forward(const ShortConvForwardParams& p);                  \
  /* bytes of p.workspace short_conv_backward needs (0 when neither dweight \
     nor dbias is requested) */                                              \
  int64_t short_conv_backward_workspace_bytes(const ShortConvBackwardParams& p); \
  void short_conv_backward(const ShortConvBackwardParams& p);                \
  void short_conv_step(const ShortConvStepParams& p);

namespace cuda { SG_SHORT_CONV_DECLARE_LAUNCHERS }
namespace emu { SG_SHORT_CONV_DECLARE_LAUNCHERS }

#undef SG_SHORT_CONV_DECLARE_LAUNCHERS

}  // namespace serengeti
