#include "cpu/fftconv/thread_scratch.h"

#include <cstdlib>
#include <new>

#include "serengeti/error.h"

namespace serengeti::cpu::fftconv {
namespace {

struct ScratchBuffer {
  void* data = nullptr;
  size_t bytes = 0;
  ~ScratchBuffer() { std::free(data); }
};

struct ThreadScratch {
  ScratchBuffer slots[int(ScratchSlot::kCount)];
};

}  // namespace

void* thread_scratch_bytes(ScratchSlot slot, size_t bytes) {
  thread_local ThreadScratch scratch;
  ScratchBuffer& buffer = scratch.slots[int(slot)];
  if (bytes > buffer.bytes || buffer.data == nullptr) {
    std::free(buffer.data);
    buffer.data = nullptr;
    buffer.bytes = 0;
    // aligned_alloc wants a size that is a multiple of the alignment.
    const size_t rounded = (bytes + 63) / 64 * 64 + 64;
    buffer.data = std::aligned_alloc(64, rounded);
    if (buffer.data == nullptr) throw std::bad_alloc();
    buffer.bytes = rounded;
  }
  return buffer.data;
}

}  // namespace serengeti::cpu::fftconv
