// Run-time CPU feature detection and the switch that forces the portable code path.
//
// Kernels come in two builds: a portable one (plain C++, any x86-64 or aarch64 CPU) and an AVX2+FMA
// one (files named *_avx2.cpp, compiled with -mavx2 -mfma -mf16c). Dispatchers call avx2_enabled()
// on every call, so tests can flip set_force_portable() to run both paths in one process.
#pragma once

namespace serengeti::cpu {

// True when the CPU executes AVX2, FMA and F16C and the OS saves the YMM registers (CPUID + XGETBV).
// Detected once and cached. Always false off x86-64.
bool cpu_supports_avx2_fma();

// True when the AVX2 kernels should run: the CPU supports them and the portable path is not forced.
bool avx2_enabled();

// Forces every dispatcher onto the portable path (true) or lets it pick AVX2 when available (false).
// Initial value: true when the environment variable SERENGETI_FORCE_PORTABLE is "1".
void set_force_portable(bool force);
bool force_portable();

}  // namespace serengeti::cpu
