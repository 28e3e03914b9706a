// One channel group's filter, prepared once per call (or per task) in the form a path consumes.
//
// When the taps k are given, the skip term D is folded into the offset-0 tap (k'[0] = k[0] + D), so
// every product with the filter (forward y, backward z and dw) includes D for free. A precomputed
// spectrum k_f cannot be changed, so with k_f the skip is added in the time domain instead.
#pragma once

#include <cstdint>

#include "cpu/fft/real_fft8.h"
#include "cpu/fftconv/conv_problem.h"
#include "serengeti/tensor_view.h"

namespace serengeti::cpu::fftconv {

// The filter inputs of a call, as given.
struct FilterInputs {
  TensorView k;    // (H, Lk) or absent
  TensorView k_f;  // packed spectrum or absent
  TensorView D;    // (H,) or absent
  bool skip_folded() const { return k.present() && D.present(); }
  bool skip_in_time_domain() const { return !k.present() && D.present(); }
};

// Direct path: taps k'[s] at [s*8 + l] for s < shape.causal_taps() (D folded), in the calling
// thread's kFilterSpectrum scratch.
template <class T>
const T* group_taps_for_direct(const ConvShape& shape, const FilterInputs& filter, int64_t group);

// FFT path: the group's packed filter spectrum. From k it is computed (D folded) into `dst`, or
// into the calling thread's kFilterSpectrum scratch when dst is null; from k_f it is a pointer into
// k_f (dst unused).
template <class T>
const T* group_spectrum(const ConvShape& shape, const fft::RealFft8<T>& plan,
                        const FilterInputs& filter, int64_t group, T* dst = nullptr);

}  // namespace serengeti::cpu::fftconv
