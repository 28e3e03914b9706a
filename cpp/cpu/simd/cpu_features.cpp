// CPUID-based feature detection (see cpu_features.h). Compiled without -mavx2: it only asks.
#include "cpu/simd/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define SERENGETI_X86_64 1
#endif

namespace serengeti::cpu {
namespace {

#if SERENGETI_X86_64
// XCR0 tells which register states the OS saves on context switch; bits 1 (SSE) and 2 (AVX upper
// halves) must both be set or YMM registers could be silently corrupted.
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

bool detect_avx2_fma() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool fma = (ecx >> 12) & 1;
  const bool osxsave = (ecx >> 27) & 1;
  const bool avx = (ecx >> 28) & 1;
  const bool f16c = (ecx >> 29) & 1;
  if (!(fma && osxsave && avx && f16c)) return false;
  if ((read_xcr0() & 0x6) != 0x6) return false;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool avx2 = (ebx >> 5) & 1;
  return avx2;
}
#else
bool detect_avx2_fma() { return false; }
#endif

bool env_forces_portable() {
  const char* v = std::getenv("SERENGETI_FORCE_PORTABLE");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

std::atomic<bool>& force_flag() {
  static std::atomic<bool> flag{env_forces_portable()};
  return flag;
}

}  // namespace

bool cpu_supports_avx2_fma() {
  static const bool supported = detect_avx2_fma();  // thread-safe static init
  return supported;
}

bool avx2_enabled() {
  return cpu_supports_avx2_fma() && !force_flag().load(std::memory_order_relaxed);
}

void set_force_portable(bool force) { force_flag().store(force, std::memory_order_relaxed); }

bool force_portable() { return force_flag().load(std::memory_order_relaxed); }

}  // namespace serengeti::cpu
