// Scalar conversions between the activation storage types and the compute type (float or double).
// The SIMD loaders in lane_io_avx2.cpp do the same conversions eight at a time; these are the
// portable reference used for strided views and machines without AVX2/F16C.
#pragma once

#include <cstdint>
#include <cstring>

#include "serengeti/dtype.h"

namespace serengeti::cpu::fftconv {

inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// bfloat16 is the top half of a float32: widening is a shift.
inline float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t(h) << 16); }

// Round to nearest, ties to even: adding 0x7FFF plus the lowest kept bit carries into the kept
// half exactly when the dropped half is above one half ulp (or equal with an odd kept half).
// NaN is kept a (quiet) NaN rather than being rounded into infinity.
inline uint16_t float_to_bf16(float f) {
  const uint32_t bits = float_to_bits(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((bits >> 16) | 0x0040u);
  return uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// IEEE binary16 -> float32, exact (every half is a float).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));  // inf/NaN
  if (exponent != 0) return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Subnormal half: value = mantissa * 2^-24, exactly representable as a float.
  const float magnitude = float(mantissa) * (1.0f / 16777216.0f);
  return sign ? -magnitude : magnitude;
}

// float32 -> IEEE binary16, round to nearest even, overflow to infinity, NaN stays NaN.
inline uint16_t float_to_half(float f) {
  const uint32_t bits = float_to_bits(f);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  // NaN: quiet, keeping the top payload bits (what F16C's vcvtps2ph does, so both paths agree).
  if (abs_bits > 0x7F800000u) return uint16_t(sign | 0x7E00u | ((abs_bits >> 13) & 0x3FFu));
  if (abs_bits >= 0x477FF000u) return uint16_t(sign | 0x7C00u);         // rounds past 65504: inf
  if (abs_bits < 0x38800000u) {
    // Result is a half subnormal (or zero): value / 2^-24 rounded to an integer, ties to even.
    // Adding 0.5 (2^-1) in float arithmetic performs exactly that rounding of |f| * 2^24.
    const float scaled = bits_to_float(abs_bits) * 16777216.0f;   // exact (power-of-two scale)
    const float magic = 8388608.0f;                                // 2^23: forces integer ulp
    const uint32_t rounded = float_to_bits(scaled + magic) - float_to_bits(magic);
    return uint16_t(sign | rounded);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to even.
  const uint32_t rebiased = abs_bits - (112u << 23);
  const uint32_t rounded = (rebiased + 0x0FFFu + ((rebiased >> 13) & 1u)) >> 13;
  return uint16_t(sign | rounded);
}

// Element i of a raw array of storage type `dtype`, widened to the compute type T.
template <class T>
inline T load_element(const void* base, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kFloat32: return T(static_cast<const float*>(base)[i]);
    case DType::kFloat64: return T(static_cast<const double*>(base)[i]);
    case DType::kFloat16: return T(half_to_float(static_cast<const uint16_t*>(base)[i]));
    case DType::kBFloat16: return T(bf16_to_float(static_cast<const uint16_t*>(base)[i]));
  }
  return T(0);
}

// Stores value (compute type T) as element i of a raw array of storage type `dtype`.
template <class T>
inline void store_element(void* base, DType dtype, int64_t i, T value) {
  switch (dtype) {
    case DType::kFloat32: static_cast<float*>(base)[i] = float(value); return;
    case DType::kFloat64: static_cast<double*>(base)[i] = double(value); return;
    case DType::kFloat16: static_cast<uint16_t*>(base)[i] = float_to_half(float(value)); return;
    case DType::kBFloat16: static_cast<uint16_t*>(base)[i] = float_to_bf16(float(value)); return;
  }
}

// Pointer to element `offset` of a raw array of storage type `dtype`.
inline const void* offset_elements(const void* base, DType dtype, int64_t offset) {
  return static_cast<const char*>(base) + offset * int64_t(dtype_size(dtype));
}
inline void* offset_elements(void* base, DType dtype, int64_t offset) {
  return static_cast<char*>(base) + offset * int64_t(dtype_size(dtype));
}

}  // namespace serengeti::cpu::fftconv
