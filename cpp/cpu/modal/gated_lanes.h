// StripedHyena's per-token front end of the gated conv, eight channels at a time (lane layout of
// scan_lanes.h): the short FIR on the three channels (x2, x1, v) that feed output channel d, then
// the inner gate w = x1 * v. The modal scan (scan_lanes.h) follows, then y = x2 * scan output.
//
//   fir[role][t] = bias[role] + sum_{i<K} taps[role][i] * hist[role][t + i]
//   x2[t] = fir[0][t],  w[t] = fir[1][t] * fir[2][t]
// hist[role] holds K-1 inputs before the tile followed by the tile's inputs ([K-1+len][8]).
#pragma once

#include <cstdint>

#include "cpu/modal/scan_lanes.h"

namespace serengeti::cpu::modal {

template <class T>
struct GatedFir {
  const T* taps;     // [3][K][8]
  const T* bias;     // [3][8]
  int64_t K;
  int64_t hist_stride;  // rows per role in hist (>= K-1+len)
};

template <class T>
struct GatedKernels {
  void (*fir_gate)(const GatedFir<T>& fir, const T* hist, int64_t len, T* x2, T* w);
  void (*gate_output)(const T* x2, T* y, int64_t len);  // y[t] *= x2[t]
};

template <class T>
const GatedKernels<T>& gated_kernels();

#define SERENGETI_MODAL_GATED_DECLARE(ISA)                                                   \
  namespace ISA {                                                                            \
  template <class T> void fir_gate(const GatedFir<T>&, const T*, int64_t, T*, T*);           \
  template <class T> void gate_output(const T*, T*, int64_t);                                \
  }
SERENGETI_MODAL_GATED_DECLARE(portable)
SERENGETI_MODAL_GATED_DECLARE(avx2)
#undef SERENGETI_MODAL_GATED_DECLARE

}  // namespace serengeti::cpu::modal
