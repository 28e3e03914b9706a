// Backend dispatch of the fftconv op family: validate once with the shared shape rules
// (cpu/fftconv/validate_params.h), then hand the params to the backend the launch names through
// dispatch::run_backend (run_backend.h): the CPU kernels, the CUDA kernels, or the same CUDA
// sources under the emulator with every output redirected to guarded, NaN-filled scratch. The
// CUDA launchers add their own limits (activation dtypes, L <= 2^22) on top.
#include "serengeti/fftconv.h"

#include "cpu/fftconv/fftconv_cpu.h"
#include "cpu/fftconv/validate_params.h"
#include "run_backend.h"
#include "serengeti/error.h"
#if SERENGETI_HAVE_CUDA || SERENGETI_HAVE_EMU
#include "cuda/fftconv/fftconv_cuda.h"
#endif

namespace serengeti {
namespace {

using dispatch::Guarded;

// Byte-count functions of the backends not built are nullptr: keep them out of template deduction.
template <class Params>
struct BytesOf {
  using type = int64_t (*)(const Params&);
};

// The workspace a backend needs: none on the CPU.
template <class Params>
int64_t backend_workspace_bytes(const char* op, const Params& p,
                                [[maybe_unused]] typename BytesOf<Params>::type cuda_bytes,
                                [[maybe_unused]] typename BytesOf<Params>::type emu_bytes) {
  switch (p.launch.backend) {
    case Backend::kCpu: return 0;
    case Backend::kCuda:
#if SERENGETI_HAVE_CUDA
      return cuda_bytes(p);
#else
      break;
#endif
    case Backend::kEmu:
#if SERENGETI_HAVE_EMU
      return emu_bytes(p);
#else
      break;
#endif
  }
  dispatch::unavailable(op, p.launch.backend);
}

}  // namespace

#if SERENGETI_HAVE_CUDA
#define SG_CUDA_BYTES(fn) &::serengeti::cuda::fn
#else
#define SG_CUDA_BYTES(fn) nullptr
#endif
#if SERENGETI_HAVE_EMU
#define SG_EMU_BYTES(fn) &::serengeti::emu::fn
#else
#define SG_EMU_BYTES(fn) nullptr
#endif

int64_t fftconv_fft_size(int64_t length) {
  // Linear convolution of two length-L sequences has 2L - 1 samples; a circular one of size
  // N >= 2L - 1 equals it on [0, L). 16 is the engine's smallest transform.
  int64_t n = 16;
  while (n < 2 * length - 1) n *= 2;
  return n;
}

int64_t fftconv_forward_workspace_bytes(const FftConvForwardParams& p) {
  cpu::fftconv::validate_forward(p);
  return backend_workspace_bytes("fftconv", p, SG_CUDA_BYTES(fftconv_forward_workspace_bytes),
                                 SG_EMU_BYTES(fftconv_forward_workspace_bytes));
}

void fftconv_forward(const FftConvForwardParams& p) {
  cpu::fftconv::validate_forward(p);
  dispatch::run_backend("fftconv", p, &cpu::fftconv_forward, SG_CUDA_KERNEL(fftconv_forward),
                        SG_EMU_KERNEL(fftconv_forward),
                        [](FftConvForwardParams& q, Guarded& g) { g.redirect(q.y, "y"); });
}

int64_t fftconv_backward_workspace_bytes(const FftConvBackwardParams& p) {
  cpu::fftconv::validate_backward(p);
  return backend_workspace_bytes("fftconv", p, SG_CUDA_BYTES(fftconv_backward_workspace_bytes),
                                 SG_EMU_BYTES(fftconv_backward_workspace_bytes));
}

void fftconv_backward(const FftConvBackwardParams& p) {
  cpu::fftconv::validate_backward(p);
  dispatch::run_backend("fftconv", p, &cpu::fftconv_backward, SG_CUDA_KERNEL(fftconv_backward),
                        SG_EMU_KERNEL(fftconv_backward), [](FftConvBackwardParams& q, Guarded& g) {
                          g.redirect(q.du, "du");
                          g.redirect(q.dk, "dk");
                          g.redirect(q.dk_f, "dk_f");
                          g.redirect(q.dD, "dD");
                          g.redirect(q.dpregate, "dpregate");
                          g.redirect(q.dpostgate, "dpostgate");
                        });
}

int64_t fft_filter_forward_workspace_bytes(const FftFilterParams& p) {
  cpu::fftconv::validate_filter_forward(p);
  return backend_workspace_bytes("fft_filter", p, SG_CUDA_BYTES(fft_filter_forward_workspace_bytes),
                                 SG_EMU_BYTES(fft_filter_forward_workspace_bytes));
}

void fft_filter_forward(const FftFilterParams& p) {
  cpu::fftconv::validate_filter_forward(p);
  dispatch::run_backend("fft_filter", p, &cpu::fft_filter_forward, SG_CUDA_KERNEL(fft_filter_forward),
                        SG_EMU_KERNEL(fft_filter_forward),
                        [](FftFilterParams& q, Guarded& g) { g.redirect(q.k_f, "k_f"); });
}

int64_t fft_filter_backward_workspace_bytes(const FftFilterBackwardParams& p) {
  cpu::fftconv::validate_filter_backward(p);
  return backend_workspace_bytes("fft_filter", p, SG_CUDA_BYTES(fft_filter_backward_workspace_bytes),
                                 SG_EMU_BYTES(fft_filter_backward_workspace_bytes));
}

void fft_filter_backward(const FftFilterBackwardParams& p) {
  cpu::fftconv::validate_filter_backward(p);
  dispatch::run_backend("fft_filter", p, &cpu::fft_filter_backward, SG_CUDA_KERNEL(fft_filter_backward),
                        SG_EMU_KERNEL(fft_filter_backward),
                        [](FftFilterBackwardParams& q, Guarded& g) { g.redirect(q.dk, "dk"); });
}

#undef SG_CUDA_BYTES
#undef SG_EMU_BYTES

}  // namespace serengeti
