// Emulator settings: environment defaults, setters, statistics.
#include <atomic>
#include <cstdlib>
#include <string>

#include "emu_api.h"
#include "settings.h"

namespace sg_emu {

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  return std::strtoull(value, nullptr, 0);
}

std::atomic<std::uint64_t>& seed_setting() {
  static std::atomic<std::uint64_t> value{env_or("SERENGETI_EMU_SEED", 1)};
  return value;
}
std::atomic<int>& worker_setting() {
  static std::atomic<int> value{int(env_or("SERENGETI_EMU_THREADS", 1))};
  return value;
}
std::atomic<std::size_t>& stack_setting() {
  static std::atomic<std::size_t> value{std::size_t(env_or("SERENGETI_EMU_STACK_KB", 128)) * 1024};
  return value;
}
std::atomic<int>& sm_setting() {
  static std::atomic<int> value{86};
  return value;
}
std::atomic<std::uint64_t> launches{0}, blocks{0}, switches{0};

}  // namespace

void set_seed(std::uint64_t s) { seed_setting() = s; }
std::uint64_t seed() { return seed_setting(); }

void set_worker_threads(int count) { worker_setting() = count < 1 ? 1 : count; }
int worker_threads() { return worker_setting() < 1 ? 1 : worker_setting().load(); }

void set_fiber_stack_bytes(std::size_t bytes) {
  stack_setting() = bytes < 16384 ? 16384 : (bytes + 4095) / 4096 * 4096;
}

void set_device_sm(int sm) { sm_setting() = sm; }
int device_sm() { return sm_setting(); }

std::size_t shared_memory_optin_limit(int sm) {
  switch (sm) {
    case 80:
    case 87: return 166912;   // 163 KiB
    case 90: return 232448;   // 227 KiB
    default: return 101376;   // 99 KiB: sm_86, sm_89
  }
}

Stats stats() { return Stats{launches, blocks, switches}; }

namespace detail {
std::size_t fiber_stack_bytes() { return stack_setting(); }
void count_launch(std::uint64_t b, std::uint64_t s) {
  ++launches;
  blocks += b;
  switches += s;
}
}  // namespace detail

}  // namespace sg_emu
