// Shared memory of the block a worker thread runs. Static __shared__ variables are thread_local
// (function-local statics, so per host thread = per running block) and live in the zero-initialised
// TLS (.tbss) of the module that holds the kernel; extern __shared__ arrays all resolve to one TLS
// arena, sg_emu_dynamic_shared (emu_cxx.sh renames their symbols). Both are poisoned at block start.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sg_emu {
namespace detail {

constexpr std::size_t dynamic_shared_arena_bytes = 232448;  // 227 KiB, sm_90's per-block maximum

// The zero-initialised thread-locals of one module, as seen by the calling thread.
struct ModuleSharedMemory {
  unsigned char* begin = nullptr;
  unsigned char* end = nullptr;
};

// Finds (and caches for this thread) the .tbss of the module that contains `code`.
ModuleSharedMemory module_shared_memory(const void* code);

// Fills the static shared memory of `module` and the first `dynamic_bytes` of the arena.
void poison_shared_memory(const ModuleSharedMemory& module, std::size_t dynamic_bytes,
                          unsigned char pattern);

// Measuring a kernel's static shared memory: fill with seeded random bytes, run a block, count
// the bytes that changed (a lower bound on what the kernel uses, exact for what it writes).
void randomize_static_shared(const ModuleSharedMemory& module, std::uint64_t seed);
std::size_t count_changed_static_shared(const ModuleSharedMemory& module, std::uint64_t seed);

}  // namespace detail
}  // namespace sg_emu
