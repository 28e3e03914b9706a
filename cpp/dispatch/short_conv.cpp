// serengeti::short_conv_*: validate once for every backend (short_conv_checks.h), then hand the
// params to the backend the launch names through dispatch::run_backend (run_backend.h): the CPU
// kernels, the CUDA kernels, or the same CUDA sources under the emulator with every output
// redirected to guarded, NaN-filled scratch (the step's state is copied in first).
#include "serengeti/short_conv.h"

#include "cpu/short_conv/short_conv_checks.h"
#include "cpu/short_conv/short_conv_cpu.h"
#include "run_backend.h"
#if SERENGETI_HAVE_CUDA || SERENGETI_HAVE_EMU
#include "cuda/short_conv/short_conv_cuda.h"
#endif

namespace serengeti {

using dispatch::Guarded;

void short_conv_forward(const ShortConvForwardParams& p) {
  short_conv_checks::check_forward(p);
  dispatch::run_backend("short_conv", p, &cpu::short_conv_forward, SG_CUDA_KERNEL(short_conv_forward),
                        SG_EMU_KERNEL(short_conv_forward), [](ShortConvForwardParams& q, Guarded& g) {
                          g.redirect(q.y, "y");
                          g.redirect(q.final_state, "final_state");
                        });
}

int64_t short_conv_backward_workspace_bytes(const ShortConvBackwardParams& p) {
  switch (p.launch.backend) {
    case Backend::kCpu: return 0;
    case Backend::kCuda:
#if SERENGETI_HAVE_CUDA
      return cuda::short_conv_backward_workspace_bytes(p);
#else
      break;
#endif
    case Backend::kEmu:
#if SERENGETI_HAVE_EMU
      return emu::short_conv_backward_workspace_bytes(p);
#else
      break;
#endif
  }
  dispatch::unavailable("short_conv", p.launch.backend);
}

void short_conv_backward(const ShortConvBackwardParams& p) {
  short_conv_checks::check_backward(p);
  dispatch::run_backend("short_conv", p, &cpu::short_conv_backward, SG_CUDA_KERNEL(short_conv_backward),
                        SG_EMU_KERNEL(short_conv_backward), [](ShortConvBackwardParams& q, Guarded& g) {
                          g.redirect(q.dx, "dx");
                          g.redirect(q.dweight, "dweight");
                          g.redirect(q.dbias, "dbias");
                          g.redirect(q.dinitial_state, "dinitial_state");
                        });
}

void short_conv_step(const ShortConvStepParams& p) {
  short_conv_checks::check_step(p);
  dispatch::run_backend("short_conv", p, &cpu::short_conv_step, SG_CUDA_KERNEL(short_conv_step),
                        SG_EMU_KERNEL(short_conv_step), [](ShortConvStepParams& q, Guarded& g) {
                          g.redirect(q.y, "y");
                          g.redirect(q.state, "state", /*copy_in=*/true);
                        });
}

}  // namespace serengeti
