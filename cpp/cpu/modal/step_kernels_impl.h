// Body of the decode-step kernels (step_kernels.h), included once per ISA with SERENGETI_MODAL_ISA
// set to the namespace (portable / avx2).
#include "cpu/modal/step_kernels.h"

namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA {
namespace {

// FIR of `count` z channels with kK taps (kK = 0: the runtime K). The accumulation order (bias,
// newest input, then the history oldest first) is the same in every build.
template <class T, int kK>
void fir_channels(const T* __restrict z, const T* __restrict taps, const T* __restrict bias,
                  T* __restrict hist, int64_t count, int64_t runtime_k, T* __restrict fir) {
  const int64_t K = kK > 0 ? kK : runtime_k, H = K - 1;
  for (int64_t c = 0; c < count; ++c) {
    const T x = z[c];
    const T* tap = taps + c * K;
    T* h = hist + c * H;
    T acc = (bias ? bias[c] : T(0)) + tap[H] * x;
    for (int64_t i = 0; i < H; ++i) acc += tap[i] * h[i];
    // Shift the history one step: slot i takes slot i+1 (read above), the newest input goes last.
    for (int64_t i = 0; i + 1 < H; ++i) h[i] = h[i + 1];
    if (H > 0) h[H - 1] = x;
    fir[c] = acc;
  }
}

template <class T>
void fir_dispatch(const StepRun<T>& r, int64_t count) {
  switch (r.K) {
    case 2: return fir_channels<T, 2>(r.z, r.taps, r.bias, r.hist, count, 2, r.fir);
    case 3: return fir_channels<T, 3>(r.z, r.taps, r.bias, r.hist, count, 3, r.fir);
    case 4: return fir_channels<T, 4>(r.z, r.taps, r.bias, r.hist, count, 4, r.fir);
    default: return fir_channels<T, 0>(r.z, r.taps, r.bias, r.hist, count, r.K, r.fir);
  }
}

// Split the FIR outputs of each head into (x2, x1, v) and form the inner gate w = x1 v.
template <class T>
void split_roles(const StepRun<T>& r) {
  const int64_t P = r.per_head;
  const T* __restrict fir = r.fir;
  T* __restrict x2 = r.x2;
  T* __restrict w = r.w;
  if (P == 1) {  // interleave: channels 3d, 3d+1, 3d+2
    for (int64_t d = 0; d < r.heads; ++d) {
      x2[d] = fir[3 * d];
      w[d] = fir[3 * d + 1] * fir[3 * d + 2];
    }
    return;
  }
  for (int64_t h = 0; h < r.heads; ++h) {
    const T* f = fir + 3 * P * h;
    for (int64_t j = 0; j < P; ++j) {
      x2[P * h + j] = f[j];
      w[P * h + j] = f[P + j] * f[2 * P + j];
    }
  }
}

// Modal update and readout of `count` channels with kS modes (kS = 0: the runtime S).
template <class T, int kS, bool kSkip>
void modal_channels(const T* __restrict poles, const T* __restrict residues, const T* __restrict skip,
                    T* __restrict state, const T* __restrict x2, const T* __restrict w, int64_t count,
                    int64_t runtime_s, T* __restrict y) {
  const int64_t S = kS > 0 ? kS : runtime_s;
  for (int64_t d = 0; d < count; ++d) {
    const T wd = w[d];
    T acc = T(0);
    for (int64_t n = 0; n < S; ++n) {
      const int64_t k = 2 * (d * S + n);
      const T pr = poles[k], pi = poles[k + 1], sr = state[k], si = state[k + 1];
      const T re = pr * sr - pi * si + wd, im = pr * si + pi * sr;
      state[k] = re;
      state[k + 1] = im;
      acc += residues[k] * re - residues[k + 1] * im;  // Re(R s)
    }
    if (kSkip) acc += skip[d] * wd;
    y[d] = x2[d] * acc;
  }
}

template <class T, bool kSkip>
void modal_dispatch(const StepRun<T>& r, int64_t count) {
  switch (r.S) {
    case 1: return modal_channels<T, 1, kSkip>(r.poles, r.residues, r.skip, r.state, r.x2, r.w, count, 1, r.y);
    case 2: return modal_channels<T, 2, kSkip>(r.poles, r.residues, r.skip, r.state, r.x2, r.w, count, 2, r.y);
    case 4: return modal_channels<T, 4, kSkip>(r.poles, r.residues, r.skip, r.state, r.x2, r.w, count, 4, r.y);
    default:
      return modal_channels<T, 0, kSkip>(r.poles, r.residues, r.skip, r.state, r.x2, r.w, count, r.S, r.y);
  }
}

}  // namespace

template <class T>
void step_run(const StepRun<T>& r) {
  const int64_t outputs = r.heads * r.per_head;
  fir_dispatch(r, 3 * outputs);
  split_roles(r);
  if (r.skip)
    modal_dispatch<T, true>(r, outputs);
  else
    modal_dispatch<T, false>(r, outputs);
}

}  // namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA
