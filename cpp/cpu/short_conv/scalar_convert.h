// One element at a time: storage types <-> compute types, for strided views, tails and the small
// operands (weights, bias, states).
//
// Every function here is `static` (internal linkage) on purpose: this header is included both by
// portable files and by *_avx2.cpp files compiled with -mavx2. An ordinary inline function compiled
// both ways would be one symbol with two bodies, and the linker could hand the AVX2 body to the
// portable caller (an illegal instruction on a CPU without AVX2). Static copies cannot collide.
#pragma once

#include <cstdint>
#include <cstring>

#include "serengeti/dtype.h"

namespace serengeti::cpu::short_conv {

// Storage type and compute type of each activation dtype: float arithmetic for the 16- and 32-bit
// types, double for float64.
template <DType D> struct Element;
template <> struct Element<DType::kFloat32> { using Raw = float; using Compute = float; };
template <> struct Element<DType::kFloat64> { using Raw = double; using Compute = double; };
template <> struct Element<DType::kFloat16> { using Raw = uint16_t; using Compute = float; };
template <> struct Element<DType::kBFloat16> { using Raw = uint16_t; using Compute = float; };

template <DType D> using RawOf = typename Element<D>::Raw;
template <DType D> using ComputeOf = typename Element<D>::Compute;

namespace scalar {

static inline float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
static inline uint32_t bits_from_float(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// bfloat16 is the top half of a float32.
static inline float bf16_to_float(uint16_t h) { return float_from_bits(uint32_t(h) << 16); }

// Round to nearest even: adding 0x7FFF plus the lowest kept bit carries into the kept half exactly
// when the dropped half exceeds one half ulp (or equals it with an odd kept half). NaN stays NaN.
static inline uint16_t float_to_bf16(float f) {
  const uint32_t bits = bits_from_float(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((bits >> 16) | 0x0040u);
  return uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// binary16 -> float32 (exact). Exponent bias 15 -> 127 is +112; subnormals are mantissa * 2^-24.
static inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) return float_from_bits(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) return float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  const float magnitude = float(mantissa) * (1.0f / 16777216.0f);
  return sign ? -magnitude : magnitude;
}

// float32 -> binary16, round to nearest even, overflow to infinity, NaN stays NaN.
static inline uint16_t float_to_half(float f) {
  const uint32_t bits = bits_from_float(f);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return uint16_t(sign | 0x7E00u);   // NaN
  if (abs_bits >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // rounds past 65504: infinity
  if (abs_bits < 0x38800000u) {
    // Half subnormal or zero: round |f| * 2^24 to an integer; adding 2^23 in float arithmetic
    // does exactly that rounding (ties to even) and leaves the integer in the low mantissa bits.
    const float scaled = float_from_bits(abs_bits) * 16777216.0f;
    const float magic = 8388608.0f;
    return uint16_t(sign | (bits_from_float(scaled + magic) - bits_from_float(magic)));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to even.
  const uint32_t rebiased = abs_bits - (112u << 23);
  return uint16_t(sign | ((rebiased + 0x0FFFu + ((rebiased >> 13) & 1u)) >> 13));
}

// Element i of an array of storage type D, widened to the compute type.
template <DType D>
static inline ComputeOf<D> load(const void* base, int64_t i) {
  const RawOf<D> r = static_cast<const RawOf<D>*>(base)[i];
  if constexpr (D == DType::kFloat16) return half_to_float(r);
  else if constexpr (D == DType::kBFloat16) return bf16_to_float(r);
  else return r;
}

// Stores v (compute type) as element i of an array of storage type D.
template <DType D>
static inline void store(void* base, int64_t i, ComputeOf<D> v) {
  RawOf<D>* p = static_cast<RawOf<D>*>(base) + i;
  if constexpr (D == DType::kFloat16) *p = float_to_half(v);
  else if constexpr (D == DType::kBFloat16) *p = float_to_bf16(v);
  else *p = v;
}

// Run-time dtype versions for weights and bias, whose dtype is independent of the activations'.
template <class T>
static inline T load_any(const void* base, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kFloat32: return T(load<DType::kFloat32>(base, i));
    case DType::kFloat64: return T(load<DType::kFloat64>(base, i));
    case DType::kFloat16: return T(load<DType::kFloat16>(base, i));
    case DType::kBFloat16: return T(load<DType::kBFloat16>(base, i));
  }
  return T(0);
}

static inline void store_any(void* base, DType dtype, int64_t i, double v) {
  switch (dtype) {
    case DType::kFloat32: return store<DType::kFloat32>(base, i, float(v));
    case DType::kFloat64: return store<DType::kFloat64>(base, i, v);
    case DType::kFloat16: return store<DType::kFloat16>(base, i, float(v));
    case DType::kBFloat16: return store<DType::kBFloat16>(base, i, float(v));
  }
}

}  // namespace scalar
}  // namespace serengeti::cpu::short_conv
