// The direct-sum kernels compiled with -mavx2 -mfma: one ymm register per 8-lane sample and fused
// multiply-adds (the compiler contracts acc += k * x). Called only after avx2_enabled().
#include "cpu/fftconv/direct_conv.h"
#include "cpu/fftconv/direct_conv_kernels.h"

namespace serengeti::cpu::fftconv::avx2 {

void causal_conv_lanes_f32(float* out, const float* k, int64_t klen, const float* x, int64_t len) {
  causal_conv_kernel<float>(out, k, klen, x, len);
}

void correlate_lanes_f32(float* out, int64_t out_len, const float* k, int64_t klen,
                         const float* x, int64_t xlen) {
  correlate_kernel<float>(out, out_len, k, klen, x, xlen);
}

}  // namespace serengeti::cpu::fftconv::avx2
