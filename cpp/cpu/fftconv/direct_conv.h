// Direct-sum causal convolution / correlation on 8 lanes (engine layout [t*8 + lane]): the path
// for short filters, where sum_{s<Lk} costs less than two FFTs of size N >= 2L - 1.
#pragma once

#include <cstdint>

namespace serengeti::cpu::fftconv {

// out[t] = sum_{s=0}^{min(t, klen-1)} k[s] x[t-s],  0 <= t < len.
template <class T>
void causal_conv_lanes(T* out, const T* k, int64_t klen, const T* x, int64_t len);

// out[t] = sum_{s<klen, t+s<xlen} k[s] x[t+s],  0 <= t < out_len.
//   dw = correlate(k, g)         (out_len = L,  klen = Lk, xlen = L)
//   dk = correlate(w, g)         (out_len = Lk, klen = L,  xlen = L)
template <class T>
void correlate_lanes(T* out, int64_t out_len, const T* k, int64_t klen, const T* x, int64_t xlen);

namespace avx2 {
// The float instantiations compiled with -mavx2 -mfma (direct_conv_avx2.cpp).
void causal_conv_lanes_f32(float* out, const float* k, int64_t klen, const float* x, int64_t len);
void correlate_lanes_f32(float* out, int64_t out_len, const float* k, int64_t klen,
                         const float* x, int64_t xlen);
}  // namespace avx2

}  // namespace serengeti::cpu::fftconv
