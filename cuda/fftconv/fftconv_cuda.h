// Host launchers of the CUDA FFT convolution (cuda/fftconv/*.cu). Semantics, shapes and dtypes:
// serengeti/fftconv.h. The same sources are compiled twice: by nvcc into serengeti::cuda (device
// pointers, launches on p.launch.stream) and by the host compiler against cuda/emu/ into
// serengeti::emu (host pointers, emulated launches). Plain C++ header: the dispatcher includes it
// without the CUDA toolkit.
//
// Differences from the CPU backend (see README.md): activations are float32, float16 or bfloat16
// (no float64); the packed spectrum k_f has the CPU's shape but this backend's own element order;
// every call needs p.workspace of at least the *_workspace_bytes(p) it reports (0 is possible).
//
// Errors: serengeti::InvalidArgument (message starts with the argument's name) for bad params;
// serengeti::InternalError carrying the CUDA error string when a launch fails.
#pragma once

#include <cstdint>

#include "serengeti/fftconv.h"

namespace serengeti {

#define SG_FFTCONV_DECLARE_LAUNCHERS                                                \
  int64_t fftconv_forward_workspace_bytes(const FftConvForwardParams& p);           \
  void fftconv_forward(const FftConvForwardParams& p);                              \
  int64_t fftconv_backward_workspace_bytes(const FftConvBackwardParams& p);         \
  void fftconv_backward(const FftConvBackwardParams& p);                            \
  int64_t fft_filter_forward_workspace_bytes(const FftFilterParams& p);             \
  void fft_filter_forward(const FftFilterParams& p);                                \
  int64_t fft_filter_backward_workspace_bytes(const FftFilterBackwardParams& p);    \
  void fft_filter_backward(const FftFilterBackwardParams& p);

namespace cuda { SG_FFTCONV_DECLARE_LAUNCHERS }
namespace emu { SG_FFTCONV_DECLARE_LAUNCHERS }

#undef SG_FFTCONV_DECLARE_LAUNCHERS

}  // namespace serengeti
