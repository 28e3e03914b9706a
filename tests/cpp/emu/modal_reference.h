// Naive float64 references of the modal ops (math: serengeti/modal.h), written as the direct sums
// and plain recurrences of the definitions, for the emulator tests. Tensors are row-major vectors;
// complex tensors interleave (re, im) like their real views.
//   poles, residues (D, S, 2);  w, y (B, D, L);  states (B, D, S, 2);  z (B, 3D, L).
// Gradients follow torch's convention for complex values: dL/dRe + i dL/dIm.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

namespace modal_reference {

using Cx = std::complex<double>;
using Vec = std::vector<double>;

inline Cx cx(const Vec& v, int64_t i) { return {v[2 * i], v[2 * i + 1]}; }
inline void set_cx(Vec& v, int64_t i, Cx z) {
  v[2 * i] = z.real();
  v[2 * i + 1] = z.imag();
}
// p^t in polar form with long double (accurate for any t of the tests).
inline Cx power(Cx p, int64_t t) {
  if (t == 0) return 1.0;
  const long double r = std::hypot((long double)p.real(), (long double)p.imag());
  if (r == 0) return 0.0;
  const long double theta = std::atan2((long double)p.imag(), (long double)p.real());
  const long double m = std::exp((long double)t * std::log(r)), a = (long double)t * theta;
  return {double(m * std::cos(a)), double(m * std::sin(a))};
}

// h[c, t] = Re sum_n R p^t
inline Vec kernel(const Vec& R, const Vec& P, int64_t D, int64_t S, int64_t L) {
  Vec h(D * L, 0.0);
  for (int64_t c = 0; c < D; ++c)
    for (int64_t n = 0; n < S; ++n)
      for (int64_t t = 0; t < L; ++t) h[c * L + t] += (cx(R, c * S + n) * power(cx(P, c * S + n), t)).real();
  return h;
}

// dR = sum_t dh conj(p^t);  dp = sum_t dh conj(R t p^(t-1))
inline void kernel_backward(const Vec& R, const Vec& P, const Vec& dh, int64_t D, int64_t S, int64_t L,
                            Vec& dR, Vec& dp) {
  dR.assign(D * S * 2, 0.0);
  dp.assign(D * S * 2, 0.0);
  for (int64_t c = 0; c < D; ++c)
    for (int64_t n = 0; n < S; ++n) {
      const Cx p = cx(P, c * S + n), r = cx(R, c * S + n);
      Cx a = 0, b = 0;
      for (int64_t t = 0; t < L; ++t) {
        a += dh[c * L + t] * std::conj(power(p, t));
        if (t > 0) b += dh[c * L + t] * std::conj(r * double(t) * power(p, t - 1));
      }
      set_cx(dR, c * S + n, a);
      set_cx(dp, c * S + n, b);
    }
}

// The scan's states step by step: s[t] = p s[t-1] + w[t] (s[-1] = s0); states[(row * (L+1) + t+1)]
// holds s[t] for mode n (states[row * (L + 1)] = s0).
struct ScanForward {
  Vec y, final_state;
  std::vector<Cx> states;  // [b][c][n][L + 1]
};

inline ScanForward scan(const Vec& w, const Vec& R, const Vec& P, const Vec& Dskip, const Vec& s0,
                        int64_t B, int64_t D, int64_t S, int64_t L) {
  ScanForward out;
  out.y.assign(B * D * L, 0.0);
  out.final_state.assign(B * D * S * 2, 0.0);
  out.states.assign(B * D * S * (L + 1), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < D; ++c) {
      const int64_t row = b * D + c;
      for (int64_t t = 0; t < L; ++t) out.y[row * L + t] = (Dskip.empty() ? 0.0 : Dskip[c]) * w[row * L + t];
      for (int64_t n = 0; n < S; ++n) {
        Cx s = s0.empty() ? Cx(0) : cx(s0, row * S + n);
        const Cx p = cx(P, c * S + n), r = cx(R, c * S + n);
        Cx* st = &out.states[(row * S + n) * (L + 1)];
        st[0] = s;
        for (int64_t t = 0; t < L; ++t) {
          s = p * s + w[row * L + t];
          st[t + 1] = s;
          out.y[row * L + t] += (r * s).real();
        }
        set_cx(out.final_state, row * S + n, s);
      }
    }
  return out;
}

struct ScanGrads {
  Vec dw, dR, dp, dD, ds0;
};

// The chain rule backwards through the recurrence, step by step, with the stored states.
inline ScanGrads scan_backward(const Vec& w, const Vec& R, const Vec& P, const Vec& Dskip, const Vec& s0,
                               const Vec& dy, const Vec& dfinal, int64_t B, int64_t D, int64_t S, int64_t L) {
  const ScanForward f = scan(w, R, P, Dskip, s0, B, D, S, L);
  ScanGrads g;
  g.dw.assign(B * D * L, 0.0);
  g.dR.assign(D * S * 2, 0.0);
  g.dp.assign(D * S * 2, 0.0);
  g.dD.assign(D, 0.0);
  g.ds0.assign(B * D * S * 2, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < D; ++c) {
      const int64_t row = b * D + c;
      for (int64_t t = 0; t < L; ++t) {
        g.dw[row * L + t] = (Dskip.empty() ? 0.0 : Dskip[c]) * dy[row * L + t];
        g.dD[c] += dy[row * L + t] * w[row * L + t];
      }
      for (int64_t n = 0; n < S; ++n) {
        const Cx p = cx(P, c * S + n), r = cx(R, c * S + n);
        const Cx* st = &f.states[(row * S + n) * (L + 1)];
        Cx H = dfinal.empty() ? Cx(0) : cx(dfinal, row * S + n);  // dL/ds[t] from later steps
        Cx dR = 0, dp = 0;
        for (int64_t t = L - 1; t >= 0; --t) {
          const Cx G = H + std::conj(r) * dy[row * L + t];
          g.dw[row * L + t] += G.real();
          dR += dy[row * L + t] * std::conj(st[t + 1]);
          dp += std::conj(st[t]) * G;
          H = std::conj(p) * G;
        }
        set_cx(g.ds0, row * S + n, H);
        set_cx(g.dR, c * S + n, cx(g.dR, c * S + n) + dR);
        set_cx(g.dp, c * S + n, cx(g.dp, c * S + n) + dp);
      }
    }
  return g;
}

// s = p^L s0 + sum_k p^(L-1-k) w[k]
inline Vec state(const Vec& w, const Vec& P, const Vec& s0, int64_t B, int64_t D, int64_t S, int64_t L) {
  Vec s(B * D * S * 2, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < D; ++c)
      for (int64_t n = 0; n < S; ++n) {
        const Cx p = cx(P, c * S + n);
        Cx sum = s0.empty() ? Cx(0) : power(p, L) * cx(s0, (b * D + c) * S + n);
        for (int64_t k = 0; k < L; ++k) sum += power(p, L - 1 - k) * w[(b * D + c) * L + k];
        set_cx(s, (b * D + c) * S + n, sum);
      }
  return s;
}

// dw[k] = Re sum_n conj(g) p^(L-1-k);  ds0 = g conj(p^L);  dp = sum_b conj(ds/dp) g
inline void state_backward(const Vec& w, const Vec& P, const Vec& s0, const Vec& g, int64_t B, int64_t D,
                           int64_t S, int64_t L, Vec& dw, Vec& dp, Vec& ds0) {
  dw.assign(B * D * L, 0.0);
  dp.assign(D * S * 2, 0.0);
  ds0.assign(B * D * S * 2, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < D; ++c)
      for (int64_t n = 0; n < S; ++n) {
        const int64_t i = (b * D + c) * S + n;
        const Cx p = cx(P, c * S + n), gn = cx(g, i);
        Cx derivative = 0;
        if (!s0.empty() && L > 0) derivative += double(L) * power(p, L - 1) * cx(s0, i);
        for (int64_t k = 0; k < L; ++k) {
          dw[(b * D + c) * L + k] += (std::conj(gn) * power(p, L - 1 - k)).real();
          const int64_t e = L - 1 - k;
          if (e > 0) derivative += double(e) * power(p, e - 1) * w[(b * D + c) * L + k];
        }
        set_cx(ds0, i, gn * std::conj(power(p, L)));
        set_cx(dp, c * S + n, cx(dp, c * S + n) + std::conj(derivative) * gn);
      }
}

// The gated conv over a prompt, from FIR state (B, 3D, K-1) and modal state; updates both.
// channel(d, role) maps roles to z channels (the layout).
template <class Channel>
inline Vec gated(const Vec& z, int64_t B, int64_t D, int64_t L, int64_t K, const Vec& fir_w, const Vec& fir_b,
                 const Vec& P, const Vec& R, const Vec& Dskip, int64_t S, Channel channel, Vec& fir_state,
                 Vec& iir_state) {
  Vec y(B * D * L, 0.0);
  const int64_t H = K - 1, C3 = 3 * D;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t d = 0; d < D; ++d) {
      for (int64_t t = 0; t < L; ++t) {
        double fir[3];
        for (int role = 0; role < 3; ++role) {
          const int64_t ch = channel(d, role);
          double* st = &fir_state[(b * C3 + ch) * H];
          const double x = z[(b * C3 + ch) * L + t];
          double acc = fir_b.empty() ? 0.0 : fir_b[ch];
          for (int64_t i = 0; i < H; ++i) acc += fir_w[ch * K + i] * st[i];
          acc += fir_w[ch * K + H] * x;
          for (int64_t i = 0; i + 1 < H; ++i) st[i] = st[i + 1];
          if (H > 0) st[H - 1] = x;
          fir[role] = acc;
        }
        const double wv = fir[1] * fir[2];
        double out = (Dskip.empty() ? 0.0 : Dskip[d]) * wv;
        for (int64_t n = 0; n < S; ++n) {
          const int64_t i = (b * D + d) * S + n;
          const Cx s = cx(P, d * S + n) * cx(iir_state, i) + wv;
          set_cx(iir_state, i, s);
          out += (cx(R, d * S + n) * s).real();
        }
        y[(b * D + d) * L + t] = fir[0] * out;
      }
    }
  return y;
}

}  // namespace modal_reference
