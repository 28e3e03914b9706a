// Guard bands around output buffers: filled with a position-dependent pattern at registration and
// compared after every launch, so an out-of-bounds write is reported with the buffer and offset.
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "emu_api.h"

namespace sg_emu {

namespace {

struct Band {
  std::size_t bytes;
  std::size_t guard;
  std::string label;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<unsigned char*, Band>& registry() {
  static std::map<unsigned char*, Band> r;
  return r;
}

// Position-dependent so that no single written value can go unnoticed along a whole band.
unsigned char pattern_at(std::size_t i) { return static_cast<unsigned char>(0xA5u ^ (i * 29u)); }

}  // namespace

void register_guard_bands(void* data, std::size_t bytes, std::size_t guard_bytes, std::string label) {
  auto* d = static_cast<unsigned char*>(data);
  for (std::size_t i = 0; i < guard_bytes; ++i) {
    d[-std::ptrdiff_t(guard_bytes) + std::ptrdiff_t(i)] = pattern_at(i);
    d[bytes + i] = pattern_at(guard_bytes + i);
  }
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[d] = Band{bytes, guard_bytes, std::move(label)};
}

void unregister_guard_bands(void* data) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(static_cast<unsigned char*>(data));
}

void check_guard_bands(const std::string& context) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (auto& [d, band] : registry()) {
    for (std::size_t i = 0; i < band.guard; ++i) {
      const bool before = d[-std::ptrdiff_t(band.guard) + std::ptrdiff_t(i)] != pattern_at(i);
      const bool after = d[band.bytes + i] != pattern_at(band.guard + i);
      if (!before && !after) continue;
      const std::string where =
          before ? std::to_string(band.guard - i) + " byte(s) before its start"
                 : "byte " + std::to_string(i) + " past its end (buffer is " +
                       std::to_string(band.bytes) + " bytes)";
      // Restore the bands so one bad launch is reported once.
      for (std::size_t j = 0; j < band.guard; ++j) {
        d[-std::ptrdiff_t(band.guard) + std::ptrdiff_t(j)] = pattern_at(j);
        d[band.bytes + j] = pattern_at(band.guard + j);
      }
      throw GuardBandError(context + ": guard band of buffer '" + band.label + "' overwritten " + where);
    }
  }
}

GuardedBuffer::GuardedBuffer(std::size_t bytes, std::string label, std::size_t guard_bytes)
    : bytes_(bytes) {
  guard_bytes = (guard_bytes + 63) / 64 * 64;  // keep the data 64-byte aligned
  allocation_ = static_cast<unsigned char*>(std::aligned_alloc(64, (bytes + 2 * guard_bytes + 63) / 64 * 64));
  if (!allocation_) throw EmuError("GuardedBuffer: out of memory");
  data_ = allocation_ + guard_bytes;
  std::memset(data_, 0xFF, bytes);
  register_guard_bands(data_, bytes, guard_bytes, std::move(label));
}

GuardedBuffer::~GuardedBuffer() {
  unregister_guard_bands(data_);
  std::free(allocation_);
}

}  // namespace sg_emu
