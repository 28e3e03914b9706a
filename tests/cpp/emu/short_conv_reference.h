// Naive float64 reference of the short depthwise causal convolution (serengeti/short_conv.h), and
// the test's own float16 / bfloat16 conversions (raw uint16 bits), for test_short_conv_emu.cpp.
//
//   xe[t]    = x[t] (0 <= t < L), initial_state[K-1+t] (-(K-1) <= t < 0, else 0)
//   pre[t]   = bias + sum_{k<K} w[k] xe[t-(K-1)+k],  y[t] = act(pre[t])
//   final[i] = xe[L-(K-1)+i]
//   g[t] = dy[t] act'(pre[t]); every term w[k] xe[t-(K-1)+k] of pre[t] sends w[k] g[t] to
//   dxe[t-(K-1)+k] and g[t] xe[t-(K-1)+k] to dw[k]; dfinal[i] goes to dxe[L-(K-1)+i].
//
// Besides each value, the reference returns a magnitude (the same sums over absolute values) that
// scales the rounding error a float32 evaluation may make: the tests' tolerances are
// (small constant) x (number of terms) x (unit roundoff) x magnitude.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace short_conv_reference {

// ---- float16 / bfloat16 bits, round to nearest even ------------------------------------------
inline uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t biased = static_cast<int32_t>((x >> 23) & 0xffu);
  uint32_t mantissa = x & 0x7fffffu;
  if (biased == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u : 0u));
  const int32_t exponent = biased - 127 + 15;
  if (exponent >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exponent <= 0) {  // subnormal half (or zero)
    if (exponent < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - exponent;
    uint32_t h = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u), half_way = 1u << (shift - 1);
    if (rest > half_way || (rest == half_way && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = sign | (static_cast<uint32_t>(exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry rounds into the exponent
  return static_cast<uint16_t>(h);
}

inline float half_bits_to_float(uint16_t h) {
  const float sign = (h & 0x8000u) ? -1.0f : 1.0f;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(static_cast<float>(1024 + mantissa), exponent - 25);
}

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

inline float bf16_bits_to_float(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// ---- the op ------------------------------------------------------------------------------------
struct Problem {
  int64_t B = 1, C = 1, L = 1;
  int K = 1;
  bool silu = false;
  bool has_bias = false, has_init = false;
  std::vector<double> x;     // [b][c][t]
  std::vector<double> init;  // [b][c][K-1]
  std::vector<double> w;     // [c][k]
  std::vector<double> bias;  // [c]

  double xe(int64_t b, int64_t c, int64_t t) const {
    if (t >= 0) return t < L ? x[(b * C + c) * L + t] : 0.0;
    return has_init ? init[(b * C + c) * (K - 1) + (K - 1 + t)] : 0.0;
  }
};

inline double sigmoid(double a) { return 1.0 / (1.0 + std::exp(-a)); }
inline double activate(bool silu, double a) { return silu ? a * sigmoid(a) : a; }
inline double slope(bool silu, double a) {
  if (!silu) return 1.0;
  const double s = sigmoid(a);
  return s * (1.0 + a * (1.0 - s));
}

struct Forward {
  std::vector<double> y, pre, magnitude;  // magnitude = |bias| + sum |w| |xe| per output
  std::vector<double> final_state;        // [b][c][K-1]
};

inline Forward forward(const Problem& p) {
  Forward f;
  const int64_t n = p.B * p.C * p.L;
  f.y.resize(n);
  f.pre.resize(n);
  f.magnitude.resize(n);
  f.final_state.resize(p.B * p.C * (p.K - 1));
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t c = 0; c < p.C; ++c) {
      for (int64_t t = 0; t < p.L; ++t) {
        double pre = p.has_bias ? p.bias[c] : 0.0;
        double mag = std::fabs(pre);
        for (int k = 0; k < p.K; ++k) {
          const double term = p.w[c * p.K + k] * p.xe(b, c, t - (p.K - 1) + k);
          pre += term;
          mag += std::fabs(term);
        }
        const int64_t i = (b * p.C + c) * p.L + t;
        f.pre[i] = pre;
        f.magnitude[i] = mag;
        f.y[i] = activate(p.silu, pre);
      }
      for (int i = 0; i < p.K - 1; ++i)
        f.final_state[(b * p.C + c) * (p.K - 1) + i] = p.xe(b, c, p.L - (p.K - 1) + i);
    }
  return f;
}

struct Backward {
  std::vector<double> dx, dinit, dw, dbias;                  // values
  std::vector<double> dx_mag, dinit_mag, dw_mag, dbias_mag;  // error scales
};

// dfinal may be empty (absent).
inline Backward backward(const Problem& p, const std::vector<double>& dy,
                         const std::vector<double>& dfinal) {
  const Forward f = forward(p);
  const int K = p.K;
  const int64_t span = p.L + K - 1;  // extended times -(K-1) .. L-1
  Backward r;
  r.dx.assign(p.B * p.C * p.L, 0.0);
  r.dx_mag.assign(p.B * p.C * p.L, 0.0);
  r.dinit.assign(p.B * p.C * (K - 1), 0.0);
  r.dinit_mag.assign(p.B * p.C * (K - 1), 0.0);
  r.dw.assign(p.C * K, 0.0);
  r.dw_mag.assign(p.C * K, 0.0);
  r.dbias.assign(p.C, 0.0);
  r.dbias_mag.assign(p.C, 0.0);
  std::vector<double> dxe(span), dxe_mag(span);
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t c = 0; c < p.C; ++c) {
      std::fill(dxe.begin(), dxe.end(), 0.0);
      std::fill(dxe_mag.begin(), dxe_mag.end(), 0.0);
      for (int64_t t = 0; t < p.L; ++t) {
        const int64_t i = (b * p.C + c) * p.L + t;
        const double g = dy[i] * slope(p.silu, f.pre[i]);
        // |g| plus the error the float pre-activation may feed through act' (|silu''| <= 1/2).
        const double g_mag = std::fabs(dy[i]) * (p.silu ? 1.1 + f.magnitude[i] : 1.0);
        r.dbias[c] += g;
        r.dbias_mag[c] += g_mag;
        for (int k = 0; k < K; ++k) {
          const int64_t u = t - (K - 1) + k;
          dxe[u + K - 1] += p.w[c * K + k] * g;
          dxe_mag[u + K - 1] += std::fabs(p.w[c * K + k]) * g_mag;
          const double xv = p.xe(b, c, u);
          r.dw[c * K + k] += g * xv;
          r.dw_mag[c * K + k] += g_mag * std::fabs(xv);
        }
      }
      if (!dfinal.empty())
        for (int i = 0; i < K - 1; ++i) {
          const double d = dfinal[(b * p.C + c) * (K - 1) + i];
          dxe[p.L + i] += d;  // extended time L-(K-1)+i at index L+i
          dxe_mag[p.L + i] += std::fabs(d);
        }
      for (int64_t t = 0; t < p.L; ++t) {
        r.dx[(b * p.C + c) * p.L + t] = dxe[t + K - 1];
        r.dx_mag[(b * p.C + c) * p.L + t] = dxe_mag[t + K - 1];
      }
      for (int j = 0; j < K - 1; ++j) {
        r.dinit[(b * p.C + c) * (K - 1) + j] = dxe[j];
        r.dinit_mag[(b * p.C + c) * (K - 1) + j] = dxe_mag[j];
      }
    }
  return r;
}

}  // namespace short_conv_reference
