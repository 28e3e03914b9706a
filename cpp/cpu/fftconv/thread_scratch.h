// Per-thread, grow-only, 64-byte-aligned scratch buffers for the fftconv kernels.
//
// Why thread_local and not arrays indexed by parallel_for's `worker`: two Python threads may call
// an op at the same time and both run as worker 0. A buffer keeps its largest size for the life of
// the thread, so the hot path allocates nothing after the first call of a given size.
//
// Each slot is one named buffer; a task must not use one slot for two things at once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace serengeti::cpu::fftconv {

enum class ScratchSlot : int {
  kFilterSpectrum,  // the channel group's filter spectrum (or direct-path taps)
  kSignal,          // w = u * pregate, then its spectrum / the forward output
  kGradient,        // g = dy * postgate, then its spectrum / dw
  kAccumulator,     // S = sum_b G_b conj(W_b) for dk / dk_f, or the direct path's dk sums
  kOutput,          // direct-path outputs
  kSignalCopy,      // w kept in the time domain for the D skip when only k_f is given
  kGradientCopy,    // g kept likewise
  kTapGradient,     // one batch row's direct-path dk before it is added to the sums
  kCount
};

// At least `bytes` bytes, 64-byte aligned, private to the calling thread. Contents are undefined.
void* thread_scratch_bytes(ScratchSlot slot, size_t bytes);

template <class T>
T* thread_scratch(ScratchSlot slot, int64_t count) {
  return static_cast<T*>(thread_scratch_bytes(slot, size_t(count) * sizeof(T)));
}

}  // namespace serengeti::cpu::fftconv
