// The errors an emulated launch reports. Every failure surfaces as one of these exceptions from the
// launch (or from the emulated runtime call), never as an abort, so a test can assert on it.
#pragma once

#include <stdexcept>
#include <string>

namespace sg_emu {

// Base class: anything the emulator detected.
struct EmuError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Block/grid dimensions or shared memory out of the device's range (what the driver rejects).
struct LaunchConfigError : EmuError {
  using EmuError::EmuError;
};

// A __syncthreads that not every thread of the block reached, or reached at different call sites.
struct BarrierError : EmuError {
  using EmuError::EmuError;
};

// A warp collective (shuffle, vote, __syncwarp, wmma) used against its contract: lanes of the
// mask missing, a lane outside the mask read, lanes disagreeing on the mask or the operation.
struct WarpSyncError : EmuError {
  using EmuError::EmuError;
};

// Bytes of a registered guard band changed during a launch: the kernel wrote out of bounds.
struct GuardBandError : EmuError {
  using EmuError::EmuError;
};

// Kernel code threw (or an emulated device function rejected its arguments).
struct KernelError : EmuError {
  using EmuError::EmuError;
};

}  // namespace sg_emu
