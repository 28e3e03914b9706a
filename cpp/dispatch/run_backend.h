// The one backend switch every op family's entry points share: the CPU kernel, the CUDA kernel, or
// the same CUDA source under the emulator with its outputs redirected to guarded, NaN-filled
// scratch (emu_guarded_outputs.h). Callers validate the params first.
#pragma once

#include "emu_guarded_outputs.h"
#include "serengeti/error.h"
#include "serengeti/launch.h"

namespace serengeti::dispatch {

[[noreturn]] inline void unavailable(const char* op, Backend backend) {
  throw InvalidArgument(detail::concat(op, ": backend '", backend_name(backend),
                                       "' is not available in this build"));
}

// Kernel pointers of the backends not built are nullptr: keep them out of template deduction.
template <class Params>
struct KernelOf {
  using type = void (*)(const Params&);
};

// `redirect(q, guarded)` points the outputs of the emu copy q at guarded scratch (and copies in the
// arguments updated in place).
template <class Params, class Redirect>
void run_backend(const char* op, const Params& p, void (*cpu_kernel)(const Params&),
                 [[maybe_unused]] typename KernelOf<Params>::type cuda_kernel,
                 [[maybe_unused]] typename KernelOf<Params>::type emu_kernel,
                 [[maybe_unused]] Redirect redirect) {
  switch (p.launch.backend) {
    case Backend::kCpu: return cpu_kernel(p);
    case Backend::kCuda:
#if SERENGETI_HAVE_CUDA
      return cuda_kernel(p);
#else
      break;
#endif
    case Backend::kEmu: {
#if SERENGETI_HAVE_EMU
      Params q = p;
      EmuGuardedOutputs guarded;
      redirect(q, guarded);
      emu_kernel(q);
      return guarded.copy_back();
#else
      break;
#endif
    }
  }
  unavailable(op, p.launch.backend);
}

// The scratch redirection handed to run_backend's `redirect` (inert when emu is not built).
#if SERENGETI_HAVE_EMU
using Guarded = EmuGuardedOutputs;
#else
struct Guarded {
  void redirect(TensorView&, const char*, bool = false) {}
};
#endif

}  // namespace serengeti::dispatch

// The kernel pointers to pass to run_backend: nullptr for a backend this build does not have.
#if SERENGETI_HAVE_CUDA
#define SG_CUDA_KERNEL(fn) &::serengeti::cuda::fn
#else
#define SG_CUDA_KERNEL(fn) nullptr
#endif
#if SERENGETI_HAVE_EMU
#define SG_EMU_KERNEL(fn) &::serengeti::emu::fn
#else
#define SG_EMU_KERNEL(fn) nullptr
#endif
