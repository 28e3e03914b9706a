// The emulator prelude: force-included (g++ -include cuda/emu/emu_prelude.h) before every .cu that
// the host compiler builds for the emu backend. It makes the CUDA language compile as C++ and
// routes every device-side operation to the emulator runtime. Order matters: CUDA's headers
// first, then the keyword overrides (emu_cuda_headers.h), then the device API.
#pragma once

#include "emu_cuda_headers.h"

#include "emu_device_state.h"
#include "emu_indices.h"
#include "emu_sync.h"
#include "emu_warp.h"
#include "emu_atomics.h"
#include "emu_math.h"
#include "emu_half.h"
#include "emu_wmma.h"
#include "emu_runtime_api.h"

// Unqualified calls in kernels (e.g. __syncthreads(), atomicAdd, cudaGetLastError) find these.
using namespace ::sg_emu::device_api;
using namespace ::sg_emu::runtime_api;

#include "sg_launch.h"
