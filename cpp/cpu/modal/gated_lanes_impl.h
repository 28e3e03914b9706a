// Body of the gated front-end kernels (gated_lanes.h), included once per ISA.
#include "cpu/modal/gated_lanes.h"

namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA {

template <class T>
void fir_gate(const GatedFir<T>& fir, const T* __restrict hist, int64_t len, T* __restrict x2,
              T* __restrict w) {
  const int64_t K = fir.K;
  for (int64_t t = 0; t < len; ++t) {
    T out[3][kLanes];
    for (int role = 0; role < 3; ++role) {
      const T* h = hist + (role * fir.hist_stride + t) * kLanes;
      const T* taps = fir.taps + role * K * kLanes;
      T acc[kLanes];
      for (int l = 0; l < kLanes; ++l) acc[l] = fir.bias[role * kLanes + l];
      for (int64_t i = 0; i < K; ++i)
        for (int l = 0; l < kLanes; ++l) acc[l] += taps[i * kLanes + l] * h[i * kLanes + l];
      for (int l = 0; l < kLanes; ++l) out[role][l] = acc[l];
    }
    for (int l = 0; l < kLanes; ++l) {
      x2[t * kLanes + l] = out[0][l];
      w[t * kLanes + l] = out[1][l] * out[2][l];
    }
  }
}

template <class T>
void gate_output(const T* __restrict x2, T* __restrict y, int64_t len) {
  for (int64_t i = 0; i < len * kLanes; ++i) y[i] *= x2[i];
}

}  // namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA
