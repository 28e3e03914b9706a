// Definitions of the fft8_engine.h entry points for the ISA named by SERENGETI_FFT8_ISA; included
// once by that ISA's translation unit, which then instantiates them for float and double.
#ifndef SERENGETI_FFT8_ISA
#error "define SERENGETI_FFT8_ISA before including fft8_engine_impl.h"
#endif

#include "cpu/fft/fft8_complex_kernels.h"
#include "cpu/fft/fft8_engine.h"
#include "cpu/fft/fft8_spectrum_kernels.h"
#include "cpu/fft/fft8_four_step.h"

namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA {

template <class T>
void fft8_forward(const Fft8PlanData<T>& p, T* buf, int64_t in_len) {
  // An odd in_len leaves x[in_len] (the imaginary half of the last live z) unread garbage: zero it.
  if (in_len & 1) {
    T* tail = buf + in_len * 8;
    for (int l = 0; l < 8; ++l) tail[l] = T(0);
  }
  const int64_t zlen = (in_len + 1) / 2;
  if (p.cols > 0) {
    dif_four_step_columns(buf, zlen, p);
    dif_four_step_rows_and_split(buf, p);
  } else {
    dif_block(buf, p.m, zlen, p);
    real_split_all(buf, p, SplitDirection{false}, p.m);
  }
}

template <class T>
void fft8_inverse(const Fft8PlanData<T>& p, T* buf, int64_t out_len) {
  const int64_t olen = (out_len + 1) / 2;
  if (p.cols > 0) {
    dit_four_step_split_and_rows(buf, p);
    dit_four_step_columns(buf, olen, p);
  } else {
    real_split_all(buf, p, SplitDirection{true}, p.m);
    dit_block(buf, p.m, olen, p);
  }
}

template <class T, bool kConj>
void convolve_impl(const Fft8PlanData<T>& p, T* buf, const T* kspec, int64_t in_len, int64_t out_len) {
  if (in_len & 1) {
    T* tail = buf + in_len * 8;
    for (int l = 0; l < 8; ++l) tail[l] = T(0);
  }
  const int64_t zlen = (in_len + 1) / 2, olen = (out_len + 1) / 2;
  if (p.cols > 0) {
    dif_four_step_columns(buf, zlen, p);
    four_step_rows_convolve<T, kConj>(buf, kspec, p);
    dit_four_step_columns(buf, olen, p);
  } else {
    dif_block(buf, p.m, zlen, p);
    convolve_split_all<T, kConj>(buf, kspec, p, p.m);
    dit_block(buf, p.m, olen, p);
  }
}

template <class T>
void fft8_convolve(const Fft8PlanData<T>& p, T* buf, const T* kspec, bool conj_k, int64_t in_len,
                   int64_t out_len) {
  if (conj_k)
    convolve_impl<T, true>(p, buf, kspec, in_len, out_len);
  else
    convolve_impl<T, false>(p, buf, kspec, in_len, out_len);
}

template <class T>
void fft8_multiply(const Fft8PlanData<T>& p, T* dst, const T* a, const T* b, bool conj_b,
                   bool accumulate) {
  multiply_dispatch(dst, a, b, p.m, conj_b, accumulate);
}

template <class T>
void fft8_scale(const Fft8PlanData<T>& p, T* spec, T edge, T interior) {
  scale_spectrum(spec, p.m, edge, interior);
}

#define SERENGETI_INSTANTIATE_FFT8_ENGINE(T)                                                   \
  template void fft8_forward<T>(const Fft8PlanData<T>&, T*, int64_t);                         \
  template void fft8_inverse<T>(const Fft8PlanData<T>&, T*, int64_t);                         \
  template void fft8_multiply<T>(const Fft8PlanData<T>&, T*, const T*, const T*, bool, bool); \
  template void fft8_scale<T>(const Fft8PlanData<T>&, T*, T, T);                              \
  template void fft8_convolve<T>(const Fft8PlanData<T>&, T*, const T*, bool, int64_t, int64_t);

SERENGETI_INSTANTIATE_FFT8_ENGINE(float)
SERENGETI_INSTANTIATE_FFT8_ENGINE(double)

#undef SERENGETI_INSTANTIATE_FFT8_ENGINE

}  // namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA
