// Entry points of the per-ISA builds of the 8-lane real FFT (defined by real_fft8_portable.cpp and
// real_fft8_avx2.cpp, each instantiated for float and double). RealFft8 dispatches to one of them.
#pragma once

#include <cstdint>

#include "cpu/fft/fft8_plan_data.h"

#define SERENGETI_DECLARE_FFT8_ENGINE(isa)                                                  \
  namespace serengeti::cpu::fft::isa {                                                      \
  template <class T>                                                                        \
  void fft8_forward(const Fft8PlanData<T>& p, T* buf, int64_t in_len);                      \
  template <class T>                                                                        \
  void fft8_inverse(const Fft8PlanData<T>& p, T* buf, int64_t out_len);                     \
  template <class T>                                                                        \
  void fft8_multiply(const Fft8PlanData<T>& p, T* dst, const T* a, const T* b, bool conj_b, \
                     bool accumulate);                                                      \
  template <class T>                                                                        \
  void fft8_scale(const Fft8PlanData<T>& p, T* spec, T edge, T interior);                   \
  template <class T>                                                                        \
  void fft8_convolve(const Fft8PlanData<T>& p, T* buf, const T* kspec, bool conj_k,         \
                     int64_t in_len, int64_t out_len);                                      \
  }

SERENGETI_DECLARE_FFT8_ENGINE(portable)
SERENGETI_DECLARE_FFT8_ENGINE(avx2)

#undef SERENGETI_DECLARE_FFT8_ENGINE
