// Complex arithmetic of the modal kernels, and exact powers p^t for re-anchoring.
//
// Recurrences run in the accumulation type A (float, or double for float64 activations); anchors,
// chunk carries and reductions run in double. exact_power never chains multiplications, so an anchor
// is as accurate at t = 4M as at t = 1 (see exact_power).
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {

template <class R>
struct Complex {
  R re, im;
};

template <class R>
__host__ __device__ __forceinline__ Complex<R> cmul(Complex<R> a, Complex<R> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <class R>
__host__ __device__ __forceinline__ Complex<R> cadd(Complex<R> a, Complex<R> b) {
  return {a.re + b.re, a.im + b.im};
}
template <class R>
__host__ __device__ __forceinline__ Complex<R> cconj(Complex<R> a) {
  return {a.re, -a.im};
}
template <class R>
__host__ __device__ __forceinline__ Complex<R> cscale(Complex<R> a, R s) {
  return {a.re * s, a.im * s};
}
template <class To, class From>
__host__ __device__ __forceinline__ Complex<To> ccast(Complex<From> a) {
  return {static_cast<To>(a.re), static_cast<To>(a.im)};
}

// p^t from polar form, p = r e^{i pi phi}: p^t = exp(t log r) e^{i pi t phi}. In double, t*phi
// carries an absolute phase error of about t * 2^-53 half-turns (5e-10 at t = 4M) and exp(t log r)
// a relative error of about t |log r| 2^-53: exact to float32 precision for every t the ops accept,
// |p| <= 1 or slightly above. The phase is reduced mod 2 half-turns exactly
// (x - 2 rint(x / 2) is exact for |x| < 2^53: a multiple of ulp(x) of magnitude <= 1; cheaper
// than remainder's loop) and evaluated by sinpi/cospi, whose argument reduction is exact too, so the device code never
// reaches the Payne-Hanek slow path of sin/cos (a non-inlined call that would spill registers).
__device__ __forceinline__ Complex<double> exact_power(Complex<double> p, int64_t t) {
  if (t == 0) return {1.0, 0.0};
  const double r = hypot(p.re, p.im);
  if (r == 0.0) return {0.0, 0.0};
  constexpr double kPi = 3.141592653589793238462643383279;
  const double half_turns = atan2(p.im, p.re) / kPi;
  const double magnitude = exp(static_cast<double>(t) * log(r));
  const double turns = static_cast<double>(t) * half_turns;
  const double phase = turns - 2.0 * rint(0.5 * turns);
  return {magnitude * cospi(phase), magnitude * sinpi(phase)};
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
