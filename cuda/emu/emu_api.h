// The emulator's host-side control API, for tests and for the op layer in emu mode. Plain C++:
// usable from any translation unit, with or without the emulator prelude.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "emu_errors.h"

namespace sg_emu {

// ---- scheduling -------------------------------------------------------------------------------
// Seed of the order in which the threads of a block run between two barriers (each block derives
// its own stream from this seed and its index, so results do not depend on which worker ran it).
// Default: $SERENGETI_EMU_SEED, else 1.
void set_seed(std::uint64_t seed);
std::uint64_t seed();

// Number of emulator worker threads that run blocks of a grid concurrently. Default:
// $SERENGETI_EMU_THREADS, else 1 (deterministic: blocks run in order, blockIdx.x fastest).
void set_worker_threads(int count);
int worker_threads();

// Stack of each emulated CUDA thread. Default $SERENGETI_EMU_STACK_KB, else 128 KiB.
void set_fiber_stack_bytes(std::size_t bytes);

// ---- device model -----------------------------------------------------------------------------
// The compute capability the emulated device stands for. It sets the opt-in shared memory limit
// per block: 86 -> 99 KiB (default), 80 -> 163 KiB, 89 -> 99 KiB, 90 -> 227 KiB.
void set_device_sm(int sm);
int device_sm();
std::size_t shared_memory_optin_limit(int sm);

// Declares that `kernel` targets a device with compute capability `sm` (so it may opt in to that
// device's shared memory limit). Launchers call it through SG_EMU_TARGET_SM in sg_launch.h.
void set_kernel_target_sm(const void* kernel, int sm);

// ---- guard bands around output buffers -------------------------------------------------------
// Registers [data, data + bytes) as a buffer whose `guard_bytes` before and after belong to the
// caller as guard bands. The bands are filled with a pattern now and checked after every launch
// (and by check_guard_bands); a change throws GuardBandError naming `label` and the kernel.
void register_guard_bands(void* data, std::size_t bytes, std::size_t guard_bytes, std::string label);
void unregister_guard_bands(void* data);
// Throws GuardBandError if any registered band changed; `context` goes into the message.
void check_guard_bands(const std::string& context = "check_guard_bands()");

// An owning buffer with guard bands, registered for its lifetime. Contents start as 0xFF bytes
// (NaN for float/half/bf16) so unwritten outputs show.
class GuardedBuffer {
 public:
  GuardedBuffer(std::size_t bytes, std::string label, std::size_t guard_bytes = 256);
  ~GuardedBuffer();
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  void* data() const { return data_; }
  template <class T>
  T* as() const { return static_cast<T*>(data_); }
  std::size_t bytes() const { return bytes_; }

 private:
  unsigned char* allocation_ = nullptr;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// ---- statistics (for benchmarks of the emulator itself) --------------------------------------
struct Stats {
  std::uint64_t launches = 0;
  std::uint64_t blocks = 0;
  std::uint64_t fiber_switches = 0;
};
Stats stats();

}  // namespace sg_emu
