// The CUDA language on the host: CUDA's own headers for the types (they work in host code), and the
// execution-space keywords redefined for the emulator. Included first by emu_prelude.h.
#pragma once

#if defined(__CUDACC__)
#error "cuda/emu/ is the host emulator; nvcc builds must not include the emulator prelude"
#endif

// The emulator is the runtime here: a later #include <cuda_runtime.h> must not declare the real
// runtime API (it would clash with the emulated cudaFuncSetAttribute & co. and need libcudart).
#define __CUDA_RUNTIME_H__
#define __CUDA_RUNTIME_API_H__
#define __DEVICE_LAUNCH_PARAMETERS_H__

#include <builtin_types.h>     // dim3, uint3, float2.., cudaError_t, cudaStream_t, enums
#include <cuda_bf16.h>         // __nv_bfloat16 with host conversions and operators
#include <cuda_fp16.h>         // __half with host conversions and operators
#include <vector_functions.h>  // make_float2 & co.

// Execution spaces: __device__/__host__/__forceinline__ already expand to nothing or to GCC
// attributes in CUDA's host_defines.h. The ones with emulator meaning are redefined here.
#undef __global__
#define __global__
// Static shared memory: thread_local is static storage at block scope (one instance per host
// thread, i.e. per running block) and, unlike `static`, it is also valid after `extern`.
#undef __shared__
#define __shared__ thread_local
#undef __constant__
#define __constant__
#undef __managed__
#define __managed__
#undef __grid_constant__
#define __grid_constant__
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

#define SERENGETI_CUDA_EMU 1
