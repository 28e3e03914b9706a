// Double-precision complex helpers for anchors, carries and reductions of the modal kernels.
//
// Why not std::complex: its operator* must handle inf/NaN per C99 Annex G, which costs a branchy
// slow path in every multiply unless -ffast-math. Our anchors are finite by construction.
//
// Every function is `static inline` (internal linkage): this header is included by portable and by
// *_avx2.cpp files, and an inline function compiled both ways must not share one symbol.
#pragma once

#include <cmath>
#include <cstdint>

namespace serengeti::cpu::modal {

struct Complex {
  double re = 0.0, im = 0.0;
};

static inline Complex cmul(Complex a, Complex b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
static inline Complex cadd(Complex a, Complex b) { return {a.re + b.re, a.im + b.im}; }
static inline Complex cconj(Complex a) { return {a.re, -a.im}; }
static inline Complex cscale(Complex a, double s) { return {a.re * s, a.im * s}; }

// p^t computed directly, without a chain of multiplications: for p = r e^{i theta},
// p^t = exp(t log r) (cos(t theta) + i sin(t theta)). In double, t * theta carries an absolute
// phase error of about t * 2^-53 * pi (4e-10 rad at t = 4M), far below float32 resolution, and
// exp(t log r) a relative error of about t |log r| 2^-53. So anchors taken from here are exact to
// float32 precision for every t the ops accept, also for |p| = 1 and slightly above.
static inline Complex exact_power(Complex p, int64_t t) {
  if (t == 0) return {1.0, 0.0};
  const double r = std::hypot(p.re, p.im);
  if (r == 0.0) return {0.0, 0.0};
  const double theta = std::atan2(p.im, p.re);
  const double magnitude = std::exp(double(t) * std::log(r));
  // Reduce the phase in double before cos/sin (both are accurate for any argument, but the
  // reduction keeps the code obviously well-conditioned).
  const double phase = std::remainder(double(t) * theta, 2.0 * M_PI);
  return {magnitude * std::cos(phase), magnitude * std::sin(phase)};
}

}  // namespace serengeti::cpu::modal
