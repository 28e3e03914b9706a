#include "cpu/fftconv/direct_conv.h"

#include <type_traits>

#include "cpu/fftconv/direct_conv_kernels.h"
#include "cpu/simd/cpu_features.h"

namespace serengeti::cpu::fftconv {

// The float kernels have an AVX2+FMA build (direct_conv_avx2.cpp); double always runs portable.
template <class T>
void causal_conv_lanes(T* out, const T* k, int64_t klen, const T* x, int64_t len) {
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  if constexpr (std::is_same_v<T, float>) {
    if (avx2_enabled())  // asked per call: tests flip set_force_portable()
      return avx2::causal_conv_lanes_f32(out, k, klen, x, len);
  }
#endif
  causal_conv_kernel<T>(out, k, klen, x, len);
}

template <class T>
void correlate_lanes(T* out, int64_t out_len, const T* k, int64_t klen, const T* x, int64_t xlen) {
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  if constexpr (std::is_same_v<T, float>) {
    if (avx2_enabled()) return avx2::correlate_lanes_f32(out, out_len, k, klen, x, xlen);
  }
#endif
  correlate_kernel<T>(out, out_len, k, klen, x, xlen);
}

template void causal_conv_lanes<float>(float*, const float*, int64_t, const float*, int64_t);
template void causal_conv_lanes<double>(double*, const double*, int64_t, const double*, int64_t);
template void correlate_lanes<float>(float*, int64_t, const float*, int64_t, const float*, int64_t);
template void correlate_lanes<double>(double*, int64_t, const double*, int64_t, const double*,
                                      int64_t);

}  // namespace serengeti::cpu::fftconv
