// Fibers: user-space execution contexts, one per emulated CUDA thread. A switch saves the
// callee-saved registers of the running context on its own stack and resumes another one; no
// syscall, no signal mask (which is why this is not swapcontext: that costs a syscall per switch).
#pragma once

#include <cstddef>

#if !defined(__x86_64__) && !defined(__aarch64__)
#include <ucontext.h>
#define SG_EMU_FIBERS_USE_UCONTEXT 1
#endif

namespace sg_emu {
namespace detail {

struct FiberContext {
#if defined(SG_EMU_FIBERS_USE_UCONTEXT)
  ucontext_t context;  // portable fallback for architectures without a hand-written switch
#else
  void* stack_pointer = nullptr;  // where the suspended context saved its registers
#endif
};

// Prepares `fiber` so that the first switch to it calls entry(argument) on the given stack.
// `entry` must never return (it switches away for the last time instead).
void fiber_prepare(FiberContext* fiber, void* stack_base, std::size_t stack_bytes,
                   void (*entry)(void*), void* argument);

// Saves the running context into `from` and resumes `to`.
void fiber_switch(FiberContext* from, FiberContext* to);

}  // namespace detail
}  // namespace sg_emu
