// serengeti::short_conv_*: validate once for every backend, then hand the params to the backend
// the launch names: the CPU kernels, the CUDA kernels, or the same CUDA sources under the emulator
// (with every output redirected to guarded, NaN-filled scratch: see emu_guarded_outputs.h).
#include "serengeti/short_conv.h"

#include "cpu/short_conv/short_conv_checks.h"
#include "cpu/short_conv/short_conv_cpu.h"
#include "emu_guarded_outputs.h"
#include "serengeti/error.h"
#if SERENGETI_HAVE_CUDA || SERENGETI_HAVE_EMU
#include "cuda/short_conv/short_conv_cuda.h"
#endif

namespace serengeti {
namespace {

[[noreturn]] void unavailable(Backend backend) {
  throw InvalidArgument(detail::concat("short_conv: backend '", backend_name(backend),
                                       "' is not available in this build"));
}

}  // namespace

void short_conv_forward(const ShortConvForwardParams& p) {
  short_conv_checks::check_forward(p);
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu::short_conv_forward(p);
    case Backend::kCuda:
#if SERENGETI_HAVE_CUDA
      return cuda::short_conv_forward(p);
#else
      break;
#endif
    case Backend::kEmu: {
#if SERENGETI_HAVE_EMU
      ShortConvForwardParams q = p;
      dispatch::EmuGuardedOutputs guarded;
      guarded.redirect(q.y, "y");
      guarded.redirect(q.final_state, "final_state");
      emu::short_conv_forward(q);
      return guarded.copy_back();
#else
      break;
#endif
    }
  }
  unavailable(p.launch.backend);
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
  unavailable(p.launch.backend);
}

void short_conv_backward(const ShortConvBackwardParams& p) {
  short_conv_checks::check_backward(p);
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu::short_conv_backward(p);
    case Backend::kCuda:
#if SERENGETI_HAVE_CUDA
      return cuda::short_conv_backward(p);
#else
      break;
#endif
    case Backend::kEmu: {
#if SERENGETI_HAVE_EMU
      ShortConvBackwardParams q = p;
      dispatch::EmuGuardedOutputs guarded;
      guarded.redirect(q.dx, "dx");
      guarded.redirect(q.dweight, "dweight");
      guarded.redirect(q.dbias, "dbias");
      guarded.redirect(q.dinitial_state, "dinitial_state");
      emu::short_conv_backward(q);
      return guarded.copy_back();
#else
      break;
#endif
    }
  }
  unavailable(p.launch.backend);
}

void short_conv_step(const ShortConvStepParams& p) {
  short_conv_checks::check_step(p);
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu::short_conv_step(p);
    case Backend::kCuda:
#if SERENGETI_HAVE_CUDA
      return cuda::short_conv_step(p);
#else
      break;
#endif
    case Backend::kEmu: {
#if SERENGETI_HAVE_EMU
      ShortConvStepParams q = p;
      dispatch::EmuGuardedOutputs guarded;
      guarded.redirect(q.y, "y");
      guarded.redirect(q.state, "state", /*copy_in=*/true);
      emu::short_conv_step(q);
      return guarded.copy_back();
#else
      break;
#endif
    }
  }
  unavailable(p.launch.backend);
}

}  // namespace serengeti
