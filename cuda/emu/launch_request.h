// The type-erased launch the prelude's SG_LAUNCH hands to the runtime, and the per-kernel
// attributes the emulated cudaFuncSetAttribute records.
#pragma once

#include <cstddef>

#include <vector_types.h>

namespace sg_emu {
namespace detail {

struct LaunchRequest {
  const void* kernel;
  const char* name;  // the kernel expression as written in the launcher
  dim3 grid;
  dim3 block;
  std::size_t dynamic_shared_bytes;
  const void* stream;  // accepted and ignored: every launch runs synchronously
  void (*invoke)(const void* kernel, void* arguments);
  void* arguments;
};

// Validates the configuration like the driver, runs every block, checks guard bands. Throws
// sg_emu::EmuError subclasses; returns only on success.
void launch_kernel(const LaunchRequest& request);

// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes): returns false
// (the caller reports cudaErrorInvalidValue) when bytes exceed what the device model allows.
bool set_max_dynamic_shared(const void* kernel, int bytes);

}  // namespace detail
}  // namespace sg_emu
