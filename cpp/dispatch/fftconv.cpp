// Backend dispatch of the fftconv op family: one switch per entry point on p.launch.backend.
#include "serengeti/fftconv.h"

#include "cpu/fftconv/fftconv_cpu.h"
#include "serengeti/error.h"

namespace serengeti {
namespace {

// The CUDA kernels (and their emulator build) arrive in later issues.
[[noreturn]] void backend_unavailable(Backend backend) {
  throw InvalidArgument(detail::concat("fftconv: backend '", backend_name(backend),
                                       "' is not available in this build"));
}

}  // namespace

int64_t fftconv_fft_size(int64_t length) {
  // Linear convolution of two length-L sequences has 2L - 1 samples; a circular one of size
  // N >= 2L - 1 equals it on [0, L). 16 is the engine's smallest transform.
  int64_t n = 16;
  while (n < 2 * length - 1) n *= 2;
  return n;
}

void fftconv_forward(const FftConvForwardParams& p) {
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu::fftconv_forward(p);
    case Backend::kCuda:
    case Backend::kEmu: break;
  }
  backend_unavailable(p.launch.backend);
}

void fftconv_backward(const FftConvBackwardParams& p) {
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu::fftconv_backward(p);
    case Backend::kCuda:
    case Backend::kEmu: break;
  }
  backend_unavailable(p.launch.backend);
}

void fft_filter_forward(const FftFilterParams& p) {
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu::fft_filter_forward(p);
    case Backend::kCuda:
    case Backend::kEmu: break;
  }
  backend_unavailable(p.launch.backend);
}

void fft_filter_backward(const FftFilterBackwardParams& p) {
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu::fft_filter_backward(p);
    case Backend::kCuda:
    case Backend::kEmu: break;
  }
  backend_unavailable(p.launch.backend);
}

}  // namespace serengeti
