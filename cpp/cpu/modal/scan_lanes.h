// The modal scan's inner loops, eight channels at a time (one channel per SIMD lane; the time
// recurrence is sequential, so the channels are the parallel dimension).
//
// Layouts (all T, lane index l innermost):
//   modes:   pr, pi, rr, ri [n * 8 + l]          poles and residues; D skip d[l]
//   state:   s [(n * 2 + 0/1) * 8 + l]          real / imaginary planes per mode
//   tiles:   x [t * 8 + l]                      a time tile of 8 channels
//   states:  [t][state]                          the state after each step of a tile
// Lanes past the last channel carry zero poles, residues and inputs, so they stay zero.
//
// Recurrences (per lane, per mode):
//   forward:  s[t] = p s[t-1] + w[t];              y[t] = Re sum_n R_n s_n[t] + D w[t]
//   adjoint:  a[t] = conj(p) a[t+1] + dy[t]        (the local reverse scan of the backward)
//   backward: g[t] = dL/ds[t] (torch convention) = H[t] + conj(R) dy[t], where the carried
//             H[t] = conj(p) g[t+1] (H[L-1] = dL/d final state);
//             dw[t] = D dy[t] + sum_n Re g_n[t];  dR += dy[t] conj(s[t]);
//             dp += conj(s[t-1]) g[t];  dD += dy[t] w[t]
#pragma once

#include <cstdint>

namespace serengeti::cpu::modal {

constexpr int kLanes = 8;

template <class T>
struct LaneModes {
  int64_t S = 0;
  const T* pr = nullptr;
  const T* pi = nullptr;
  const T* rr = nullptr;
  const T* ri = nullptr;
  const T* d = nullptr;  // [8], zeros when the op has no D
};

// Gradient accumulators of one tile, each [n * 8 + l] (dD: [l]); the kernel adds to them.
template <class T>
struct LaneGrads {
  T* dr_re;
  T* dr_im;
  T* dp_re;
  T* dp_im;
  T* dd;
};

template <class T>
struct ScanKernels {
  // Runs `len` steps from `state` (updated). y (may be null): outputs; states (may be null): the
  // state after every step, [t][S * 2 * 8].
  void (*forward)(const LaneModes<T>& m, T* state, const T* w, T* y, T* states, int64_t len);
  // a <- conj(p) a + dy[t] for t = len-1 down to 0 (a: [S * 2 * 8], updated).
  void (*adjoint)(const LaneModes<T>& m, T* a, const T* dy, int64_t len);
  // The backward of one tile, t = len-1 down to 0. g: H at the tile's last step (updated to
  // H = conj(p) g at the tile's first step); before: the state before the tile; states: after each step.
  void (*backward)(const LaneModes<T>& m, T* g, const T* before, const T* states, const T* w,
                   const T* dy, T* dw, const LaneGrads<T>& grads, int64_t len);
};

template <class T>
const ScanKernels<T>& scan_kernels();

#define SERENGETI_MODAL_SCAN_DECLARE(ISA)                                                         \
  namespace ISA {                                                                                 \
  template <class T> void scan_forward(const LaneModes<T>&, T*, const T*, T*, T*, int64_t);       \
  template <class T> void scan_adjoint(const LaneModes<T>&, T*, const T*, int64_t);               \
  template <class T> void scan_backward(const LaneModes<T>&, T*, const T*, const T*, const T*,    \
                                        const T*, T*, const LaneGrads<T>&, int64_t);              \
  }
SERENGETI_MODAL_SCAN_DECLARE(portable)
SERENGETI_MODAL_SCAN_DECLARE(avx2)
#undef SERENGETI_MODAL_SCAN_DECLARE

}  // namespace serengeti::cpu::modal
