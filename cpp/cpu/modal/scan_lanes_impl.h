// Body of the lane scan kernels (scan_lanes.h), included once per ISA with SERENGETI_MODAL_ISA set.
// Every innermost loop runs over the 8 lanes with a fixed trip count, so it compiles to one vector
// operation per line (AVX2: one __m256 for float) and the compiler keeps small states in registers.
#include "cpu/modal/scan_lanes.h"

namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA {

template <class T>
void scan_forward(const LaneModes<T>& m, T* __restrict state, const T* __restrict w,
                  T* __restrict y, T* __restrict states, int64_t len) {
  const int64_t S = m.S;
  for (int64_t t = 0; t < len; ++t) {
    const T* wt = w + t * kLanes;
    T out[kLanes];
    for (int l = 0; l < kLanes; ++l) out[l] = m.d[l] * wt[l];
    for (int64_t n = 0; n < S; ++n) {
      T* sr = state + (2 * n) * kLanes;
      T* si = sr + kLanes;
      const T* pr = m.pr + n * kLanes;
      const T* pi = m.pi + n * kLanes;
      const T* rr = m.rr + n * kLanes;
      const T* ri = m.ri + n * kLanes;
      for (int l = 0; l < kLanes; ++l) {
        // s = p s + w (complex p, real w); y += Re(R s) = Rr sr - Ri si
        const T re = pr[l] * sr[l] - pi[l] * si[l] + wt[l];
        const T im = pr[l] * si[l] + pi[l] * sr[l];
        sr[l] = re;
        si[l] = im;
        out[l] += rr[l] * re - ri[l] * im;
      }
    }
    if (y)
      for (int l = 0; l < kLanes; ++l) y[t * kLanes + l] = out[l];
    if (states)
      for (int64_t i = 0; i < 2 * S * kLanes; ++i) states[t * 2 * S * kLanes + i] = state[i];
  }
}

template <class T>
void scan_adjoint(const LaneModes<T>& m, T* __restrict a, const T* __restrict dy, int64_t len) {
  const int64_t S = m.S;
  for (int64_t t = len - 1; t >= 0; --t) {
    const T* g = dy + t * kLanes;
    for (int64_t n = 0; n < S; ++n) {
      T* ar = a + (2 * n) * kLanes;
      T* ai = ar + kLanes;
      const T* pr = m.pr + n * kLanes;
      const T* pi = m.pi + n * kLanes;
      for (int l = 0; l < kLanes; ++l) {
        // a = conj(p) a + dy: (pr - i pi)(ar + i ai) = (pr ar + pi ai) + i (pr ai - pi ar)
        const T re = pr[l] * ar[l] + pi[l] * ai[l] + g[l];
        const T im = pr[l] * ai[l] - pi[l] * ar[l];
        ar[l] = re;
        ai[l] = im;
      }
    }
  }
}

template <class T>
void scan_backward(const LaneModes<T>& m, T* __restrict g, const T* __restrict before,
                   const T* __restrict states, const T* __restrict w, const T* __restrict dy,
                   T* __restrict dw, const LaneGrads<T>& grads, int64_t len) {
  const int64_t S = m.S, stride = 2 * S * kLanes;
  for (int64_t t = len - 1; t >= 0; --t) {
    const T* dyt = dy + t * kLanes;
    const T* wt = w + t * kLanes;
    const T* now = states + t * stride;                        // s[t]
    const T* prev = t > 0 ? states + (t - 1) * stride : before;  // s[t-1]
    T dwt[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      dwt[l] = m.d[l] * dyt[l];
      grads.dd[l] += dyt[l] * wt[l];
    }
    for (int64_t n = 0; n < S; ++n) {
      T* gr = g + (2 * n) * kLanes;
      T* gi = gr + kLanes;
      const T* pr = m.pr + n * kLanes;
      const T* pi = m.pi + n * kLanes;
      const T* rr = m.rr + n * kLanes;
      const T* ri = m.ri + n * kLanes;
      const T* sr = now + (2 * n) * kLanes;
      const T* si = sr + kLanes;
      const T* qr = prev + (2 * n) * kLanes;
      const T* qi = qr + kLanes;
      T* drr = grads.dr_re + n * kLanes;
      T* dri = grads.dr_im + n * kLanes;
      T* dpr = grads.dp_re + n * kLanes;
      T* dpi = grads.dp_im + n * kLanes;
      for (int l = 0; l < kLanes; ++l) {
        // g[t] = H + conj(R) dy[t] (H = conj(p) g[t+1], or dfinal at the last step); H <- conj(p) g[t]
        const T re = gr[l] + rr[l] * dyt[l];
        const T im = gi[l] - ri[l] * dyt[l];
        gr[l] = pr[l] * re + pi[l] * im;
        gi[l] = pr[l] * im - pi[l] * re;
        dwt[l] += re;
        // dR += dy conj(s[t]);  dp += conj(s[t-1]) G
        drr[l] += dyt[l] * sr[l];
        dri[l] -= dyt[l] * si[l];
        dpr[l] += qr[l] * re + qi[l] * im;
        dpi[l] += qr[l] * im - qi[l] * re;
      }
    }
    for (int l = 0; l < kLanes; ++l) dw[t * kLanes + l] = dwt[l];
  }
}

}  // namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA
