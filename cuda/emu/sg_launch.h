// The one launch macro of Serengeti's CUDA launchers. The same launcher source compiles under nvcc
// (a real <<<>>> launch) and under the host emulator (a call into cuda/emu's runtime):
//
//   SG_LAUNCH(kernel, grid, block, shared_bytes, stream)(args...);
//   SG_LAUNCH(my_kernel<float, 4>, grid, block, 0, stream)(args...);   // template commas are fine
//
// grid/block are dim3 or integers (write dim3(x, y), not {x, y}: braces do not protect commas in
// macro arguments). Under the emulator a failing launch throws an sg_emu::EmuError subclass.
//
// SG_EMU_TARGET_SM(kernel, sm) declares the device generation a kernel is written for, so the
// emulator applies that device's shared memory limit (a no-op under nvcc).
//
// SG_KERNEL_NAMESPACE: every declaration in cuda/ sources lives in
// `namespace serengeti { namespace SG_KERNEL_NAMESPACE {`, which is `cuda` under nvcc and `emu`
// under the emulator, so both compilations of one .cu link into one module without clashing.
#pragma once

#if !defined(SG_KERNEL_NAMESPACE)
#if defined(__CUDACC__)
#define SG_KERNEL_NAMESPACE cuda
#else
#define SG_KERNEL_NAMESPACE emu
#endif
#endif

// Splits the arguments into "everything before the last four" (the kernel, which may contain
// template commas) and the four launch parameters.
#define SG_LAUNCH_ARG_COUNT_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) n
#define SG_LAUNCH_ARG_COUNT(...) SG_LAUNCH_ARG_COUNT_(__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define SG_LAUNCH_CAT_(a, b) a##b
#define SG_LAUNCH_CAT(a, b) SG_LAUNCH_CAT_(a, b)
#define SG_LAUNCH(...) SG_LAUNCH_CAT(SG_LAUNCH_WITH_, SG_LAUNCH_ARG_COUNT(__VA_ARGS__))(__VA_ARGS__)
#define SG_LAUNCH_WITH_5(k, g, b, s, t) SG_LAUNCH_IMPL((k), #k, g, b, s, t)
#define SG_LAUNCH_WITH_6(k1, k2, g, b, s, t) SG_LAUNCH_IMPL((k1, k2), #k1 "," #k2, g, b, s, t)
#define SG_LAUNCH_WITH_7(k1, k2, k3, g, b, s, t) SG_LAUNCH_IMPL((k1, k2, k3), #k1 "," #k2 "," #k3, g, b, s, t)
#define SG_LAUNCH_WITH_8(k1, k2, k3, k4, g, b, s, t) \
  SG_LAUNCH_IMPL((k1, k2, k3, k4), #k1 "," #k2 "," #k3 "," #k4, g, b, s, t)
#define SG_LAUNCH_WITH_9(k1, k2, k3, k4, k5, g, b, s, t) \
  SG_LAUNCH_IMPL((k1, k2, k3, k4, k5), #k1 "," #k2 "," #k3 "," #k4 "," #k5, g, b, s, t)
#define SG_LAUNCH_WITH_10(k1, k2, k3, k4, k5, k6, g, b, s, t) \
  SG_LAUNCH_IMPL((k1, k2, k3, k4, k5, k6), #k1 "," #k2 "," #k3 "," #k4 "," #k5 "," #k6, g, b, s, t)

#if defined(__CUDACC__)

#define SG_LAUNCH_IMPL(kernel, name, grid, block, shared_bytes, stream) \
  kernel<<<(grid), (block), (shared_bytes), (stream)>>>
#define SG_EMU_TARGET_SM(kernel, sm) ((void)0)

#else

#include "emu_prelude.h"

#define SG_LAUNCH_IMPL(kernel, name, grid, block, shared_bytes, stream) \
  ::sg_emu::detail::make_launch(kernel, name, (grid), (block), (shared_bytes), (stream))
#define SG_EMU_TARGET_SM(kernel, sm) \
  ::sg_emu::set_kernel_target_sm(reinterpret_cast<const void*>(kernel), (sm))

#endif
