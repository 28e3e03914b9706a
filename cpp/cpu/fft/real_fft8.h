// Real FFT of 8 independent signals ("lanes") at once, on the CPU (float and double).
//
// Layout. Real samples x[t][lane] live at buf[t*8 + lane]. Pairs of samples t = 2j, 2j+1 form the
// complex signal z[j] = x[2j] + i x[2j+1] of length m = n/2 in structure-of-arrays form (element j
// = 8 real parts then 8 imaginary parts), so the engine runs a complex FFT of size m whose every
// butterfly is a plain vertical 8-lane operation, then a pass that splits Z into the real spectrum.
//
// Packed spectrum: m elements of 16 values (8 lanes re, 8 lanes im). Element p holds bin
// k = bitreverse_m(p) (log2 m bits) for p >= 1; element 0 holds DC in its re half and the Nyquist
// bin n/2 in its im half (both are real). The order is a fixed function of n, so pointwise ops
// between spectra of the same plan are meaningful. (Callers should not depend on the order; it is
// documented for tests and debugging.)
//
// Speed (2-core Zen 3, AVX2, float, one 8-lane transform of n = 8192): ~23-35 us forward or
// inverse depending on machine load, vs ~136 us for 8 MKL rfft calls. Pruning (in_len or
// out_len <= n/2) saves only a few percent: zero padding removes the first radix-2 level of the
// size-m complex FFT, i.e. 1 of log2(m) = 12 levels, and this radix-4 code is store-bound.
// Plans whose complex signal exceeds 256 KiB use a four-step split (see fft8_four_step.h).
#pragma once

#include <cstdint>
#include <memory>

#include "cpu/fft/fft8_plan_data.h"

namespace serengeti::cpu::fft {

constexpr int kLanes = 8;

template <class T>
class RealFft8 {
 public:
  // Cached plan per n (power of two, 16 <= n <= 2^24); thread-safe; plans live forever.
  // Throws std::invalid_argument for an unsupported n.
  static const RealFft8& get(int64_t n);

  int64_t size() const { return data_.n; }
  int64_t spectrum_elems() const { return data_.m; }

  // Real samples t < in_len (1 <= in_len <= n; later samples are treated as zero and never read)
  // -> packed spectrum X[k] = sum_t x[t] exp(-2 pi i k t / n), in place.
  void forward(T* buf, int64_t in_len) const;
  // Packed spectrum -> x[t] = (1/n) sum_k X[k] exp(+2 pi i k t / n) (Hermitian extension), valid
  // for t < out_len (1 <= out_len <= n); later samples hold unspecified values.
  void inverse(T* buf, int64_t out_len) const;
  // dst (= or +=) a * b, or a * conj(b) when conj_b, pointwise over the spectrum. dst may alias.
  void multiply(T* dst, const T* a, const T* b, bool conj_b, bool accumulate) const;
  // Interior bins x 2/n, DC and Nyquist x 1/n: turns forward(dL/dy) * conj(W) into dL/dK for
  // y = inverse(K * W), treating K's stored re and im as real parameters.
  void to_gradient(T* spec) const;
  // Exact inverse of to_gradient (interior x n/2, DC and Nyquist x n); adjoint of forward():
  // adjoint_forward(dK) = inverse(from_gradient(dK)).
  void from_gradient(T* spec) const;

  // Fused circular convolution (or correlation when conj_kernel), in place: the same result as
  // forward(buf, in_len); multiply(buf, buf, kernel_spec, conj_kernel, false); inverse(buf, out_len)
  // but the spectrum is never materialised: the forward split, the product and the inverse split
  // run as one pass over mirrored pairs (and, past L2, inside the row phase of the four-step), which
  // saves two passes over the buffer. kernel_spec is a packed spectrum of this plan.
  void convolve(T* buf, const T* kernel_spec, int64_t in_len, int64_t out_len,
                bool conj_kernel = false) const;

  RealFft8(const RealFft8&) = delete;
  RealFft8& operator=(const RealFft8&) = delete;
  ~RealFft8();

 private:
  explicit RealFft8(int64_t n);
  struct Tables;                          // owns the twiddle arrays data_ points into
  std::unique_ptr<const Tables> tables_;
  Fft8PlanData<T> data_;
};

extern template class RealFft8<float>;
extern template class RealFft8<double>;

}  // namespace serengeti::cpu::fft
