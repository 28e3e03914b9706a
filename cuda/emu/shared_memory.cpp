// Locates and poisons the shared memory of the running block (see shared_memory.h).
#include "shared_memory.h"

#include <link.h>

#include <cstring>
#include <map>

#include "emu_errors.h"

extern "C" {
// The dynamic shared memory of the block running on this thread. Every `extern __shared__ T x[]`
// of the emulated kernels is renamed to this symbol after compilation (emu_cxx.sh).
alignas(128) thread_local unsigned char sg_emu_dynamic_shared[sg_emu::detail::dynamic_shared_arena_bytes];

// glibc: the address of a module's TLS block in the calling thread, allocating it if needed.
struct sg_emu_tls_index {
  unsigned long module;
  unsigned long offset;
};
void* __tls_get_addr(sg_emu_tls_index* index);
}

namespace sg_emu {
namespace detail {

namespace {

struct Search {
  const void* code;
  ModuleSharedMemory found;
  bool matched = false;
};

int visit_module(dl_phdr_info* info, std::size_t, void* data) {
  auto* search = static_cast<Search*>(data);
  const ElfW(Phdr)* tls = nullptr;
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& p = info->dlpi_phdr[i];
    if (p.p_type == PT_TLS) tls = &p;
    if (p.p_type == PT_LOAD) {
      const auto begin = info->dlpi_addr + p.p_vaddr;
      const auto address = reinterpret_cast<ElfW(Addr)>(search->code);
      if (address >= begin && address < begin + p.p_memsz) contains = true;
    }
  }
  if (!contains) return 0;
  search->matched = true;
  if (tls && tls->p_memsz > tls->p_filesz) {
    auto* block = static_cast<unsigned char*>(info->dlpi_tls_data);
    if (!block) {  // this thread has not touched the module's TLS yet
      sg_emu_tls_index index{static_cast<unsigned long>(info->dlpi_tls_modid), 0};
      block = static_cast<unsigned char*>(__tls_get_addr(&index));
    }
    search->found.begin = block + tls->p_filesz;
    search->found.end = block + tls->p_memsz;
  }
  return 1;
}

// The arena is poisoned separately (only the bytes a launch asked for); cut it out of a range.
template <class F>
void for_each_static_range(const ModuleSharedMemory& m, F&& f) {
  unsigned char* arena = sg_emu_dynamic_shared;
  unsigned char* arena_end = arena + dynamic_shared_arena_bytes;
  if (arena >= m.end || arena_end <= m.begin) {
    if (m.end > m.begin) f(m.begin, m.end);
    return;
  }
  if (arena > m.begin) f(m.begin, arena);
  if (m.end > arena_end) f(arena_end, m.end);
}

std::uint64_t next_byte_stream(std::uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

}  // namespace

ModuleSharedMemory module_shared_memory(const void* code) {
  // Per thread and per module: the TLS block address differs between threads.
  __attribute__((section(".tdata.sg_emu_runtime"))) thread_local std::map<const void*, ModuleSharedMemory>* cache = nullptr;
  if (!cache) cache = new std::map<const void*, ModuleSharedMemory>();  // lives as long as the worker
  auto it = cache->find(code);
  if (it != cache->end()) return it->second;
  Search search{code, {}};
  dl_iterate_phdr(&visit_module, &search);
  if (!search.matched) throw EmuError("emulator: cannot find the module that holds the kernel");
  (*cache)[code] = search.found;
  return search.found;
}

void poison_shared_memory(const ModuleSharedMemory& module, std::size_t dynamic_bytes,
                          unsigned char pattern) {
  for_each_static_range(module, [&](unsigned char* b, unsigned char* e) {
    std::memset(b, pattern, std::size_t(e - b));
  });
  std::memset(sg_emu_dynamic_shared, pattern, dynamic_bytes);
}

void randomize_static_shared(const ModuleSharedMemory& module, std::uint64_t seed) {
  std::uint64_t state = seed | 1;
  for_each_static_range(module, [&](unsigned char* b, unsigned char* e) {
    for (; b < e; ++b) *b = static_cast<unsigned char>(next_byte_stream(state) >> 56);
  });
}

std::size_t count_changed_static_shared(const ModuleSharedMemory& module, std::uint64_t seed) {
  std::uint64_t state = seed | 1;
  std::size_t changed = 0;
  for_each_static_range(module, [&](unsigned char* b, unsigned char* e) {
    for (; b < e; ++b) changed += *b != static_cast<unsigned char>(next_byte_stream(state) >> 56);
  });
  return changed;
}

}  // namespace detail
}  // namespace sg_emu
