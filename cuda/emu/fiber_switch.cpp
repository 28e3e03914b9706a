// The context switch in hand-written assembly (x86-64 System V and AArch64 AAPCS64), with a
// ucontext fallback elsewhere. Only callee-saved state is saved: a switch is an ordinary call for
// the compiler, so everything caller-saved is already dead or spilled.
#include "fiber_switch.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)

// sg_emu_fiber_switch(void** save_sp, void* load_sp)
// Frame: rbp rbx r12 r13 r14 r15. MXCSR and the x87 control word are not switched: device code
// cannot change rounding or flush modes, and ldmxcsr/fldcw cost more than all the rest together
// (measured: 190 -> 95 -> 45 ns per thread per __syncthreads).
asm(R"(
  .text
  .globl sg_emu_fiber_switch
  .hidden sg_emu_fiber_switch
  .type sg_emu_fiber_switch,@function
  .p2align 4
sg_emu_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size sg_emu_fiber_switch, .-sg_emu_fiber_switch

  .globl sg_emu_fiber_trampoline
  .hidden sg_emu_fiber_trampoline
  .type sg_emu_fiber_trampoline,@function
  .p2align 4
sg_emu_fiber_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size sg_emu_fiber_trampoline, .-sg_emu_fiber_trampoline
)");

#elif defined(__aarch64__)

// Frame (176 bytes): x19..x28, x29, x30, d8..d15, fpcr (kept: msr fpcr is cheap on AArch64).
asm(R"(
  .text
  .globl sg_emu_fiber_switch
  .hidden sg_emu_fiber_switch
  .type sg_emu_fiber_switch,%function
  .p2align 4
sg_emu_fiber_switch:
  sub sp, sp, #176
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mrs x9, fpcr
  str x9, [sp, #160]
  mov x9, sp
  str x9, [x0]
  mov sp, x1
  ldr x9, [sp, #160]
  msr fpcr, x9
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #176
  ret
  .size sg_emu_fiber_switch, .-sg_emu_fiber_switch

  .globl sg_emu_fiber_trampoline
  .hidden sg_emu_fiber_trampoline
  .type sg_emu_fiber_trampoline,%function
  .p2align 4
sg_emu_fiber_trampoline:
  mov x0, x19
  blr x20
  brk #0
  .size sg_emu_fiber_trampoline, .-sg_emu_fiber_trampoline
)");

#endif

namespace sg_emu {
namespace detail {

#if defined(SG_EMU_FIBERS_USE_UCONTEXT)

namespace {
// makecontext passes int arguments only; split the pointers into two 32-bit halves.
void ucontext_entry(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi, unsigned arg_lo) {
  auto entry = reinterpret_cast<void (*)(void*)>((std::uintptr_t(entry_hi) << 32) | entry_lo);
  auto arg = reinterpret_cast<void*>((std::uintptr_t(arg_hi) << 32) | arg_lo);
  entry(arg);
}
}  // namespace

void fiber_prepare(FiberContext* fiber, void* stack_base, std::size_t stack_bytes,
                   void (*entry)(void*), void* argument) {
  getcontext(&fiber->context);
  fiber->context.uc_stack.ss_sp = stack_base;
  fiber->context.uc_stack.ss_size = stack_bytes;
  fiber->context.uc_link = nullptr;
  auto e = reinterpret_cast<std::uintptr_t>(entry);
  auto a = reinterpret_cast<std::uintptr_t>(argument);
  makecontext(&fiber->context, reinterpret_cast<void (*)()>(ucontext_entry), 4, unsigned(e >> 32),
              unsigned(e), unsigned(a >> 32), unsigned(a));
}

void fiber_switch(FiberContext* from, FiberContext* to) { swapcontext(&from->context, &to->context); }

#else

extern "C" void sg_emu_fiber_switch(void** save_sp, void* load_sp);
extern "C" void sg_emu_fiber_trampoline();

void fiber_prepare(FiberContext* fiber, void* stack_base, std::size_t stack_bytes,
                   void (*entry)(void*), void* argument) {
  auto top = (reinterpret_cast<std::uintptr_t>(stack_base) + stack_bytes) & ~std::uintptr_t(15);
#if defined(__x86_64__)
  // The return slot sits so that after `ret` pops it the stack is 16-byte aligned, as the
  // trampoline's `call` requires.
  auto* slot = reinterpret_cast<std::uint64_t*>(top - 24);
  slot[0] = reinterpret_cast<std::uint64_t>(&sg_emu_fiber_trampoline);
  slot[-1] = 0;                                               // rbp
  slot[-2] = 0;                                               // rbx
  slot[-3] = reinterpret_cast<std::uint64_t>(argument);       // r12
  slot[-4] = reinterpret_cast<std::uint64_t>(entry);          // r13
  slot[-5] = 0;                                               // r14
  slot[-6] = 0;                                               // r15
  fiber->stack_pointer = &slot[-6];
#else
  auto* frame = reinterpret_cast<std::uint64_t*>(top - 176);
  std::memset(frame, 0, 176);
  frame[0] = reinterpret_cast<std::uint64_t>(argument);                  // x19
  frame[1] = reinterpret_cast<std::uint64_t>(entry);                     // x20
  frame[11] = reinterpret_cast<std::uint64_t>(&sg_emu_fiber_trampoline); // x30
  fiber->stack_pointer = frame;
#endif
}

void fiber_switch(FiberContext* from, FiberContext* to) {
  sg_emu_fiber_switch(&from->stack_pointer, to->stack_pointer);
}

#endif

}  // namespace detail
}  // namespace sg_emu
