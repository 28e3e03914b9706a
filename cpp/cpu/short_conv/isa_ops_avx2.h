// AVX2 + FMA + F16C pieces the short-conv kernels need beyond vec8_avx2.h: eight-element loads and
// stores with dtype conversion, the logistic sigmoid, and a fixed-order horizontal sum.
// Include ONLY from *_avx2.cpp files.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/short_conv/scalar_convert.h"
#include "cpu/simd/vec8_avx2.h"

namespace serengeti::cpu::short_conv::avx2 {

namespace vec = ::serengeti::cpu::simd::avx2;
using VecF = vec::Vec8f;

// Eight consecutive elements of storage type D at p, widened to float.
template <DType D>
inline VecF load8(const RawOf<D>* p) {
  if constexpr (D == DType::kFloat32) {
    return {_mm256_loadu_ps(p)};
  } else if constexpr (D == DType::kFloat16) {
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))};
  } else {  // bfloat16: zero-extend to 32 bits and shift into the top half
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return {_mm256_castsi256_ps(_mm256_slli_epi32(wide, 16))};
  }
}

// Eight floats narrowed to storage type D (round to nearest even) and stored at p.
template <DType D>
inline void store8(RawOf<D>* p, VecF v) {
  if constexpr (D == DType::kFloat32) {
    _mm256_storeu_ps(p, v.v);
  } else if constexpr (D == DType::kFloat16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(v.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else {
    // Same rounding as scalar::float_to_bf16: add 0x7FFF + lowest kept bit, keep the top half;
    // NaNs keep their top half with the quiet bit set instead.
    const __m256i bits = _mm256_castps_si256(v.v);
    const __m256i kept_lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(bits, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), kept_lsb)), 16);
    const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
    const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v.v, v.v, _CMP_UNORD_Q));
    const __m256i halves = _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
    // packus packs within 128-bit halves; the permute gathers the two useful quarters.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(halves, halves), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  }
}

// e^x for x in [-87, 88] (callers clamp), relative error ~1 ulp:
//   n = round(x / ln2), r = x - n ln2 (ln2 split in a high part exact in float and a low part, so
//   n * ln2_hi is exact and r keeps full precision), |r| <= ln2/2;
//   e^r by its Taylor series to r^7 (truncation r^8/8! < 6e-9 relative at |r| = 0.347);
//   e^x = e^r * 2^n with 2^n built directly in the exponent field (n + 127 in [1, 254]).
inline __m256 exp_clamped(__m256 x) {
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 poly = _mm256_set1_ps(1.0f / 5040.0f);
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 720.0f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 120.0f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 24.0f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 6.0f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(0.5f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f));
  poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f));
  const __m256i exponent = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(poly, _mm256_castsi256_ps(exponent));
}

// sigmoid(a) = 1 / (1 + e^-a). Clamping -a to [-87, 88] changes the result by less than float
// resolution (e^-87 is below half an ulp of 1, and 1/(1+e^88) ~ 6e-39 is zero to any caller).
// The reciprocal: rcp (relative error < 1.5 * 2^-12) refined by one Newton step r' = r (2 - d r),
// which squares the error to ~1e-7; a divide would cost 3-4x more and bound the SiLU kernels.
inline VecF sigmoid(VecF a) {
  const __m256 minus_a = _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), a.v),
                                                     _mm256_set1_ps(-87.0f)),
                                       _mm256_set1_ps(88.0f));
  const __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_clamped(minus_a));
  const __m256 r = _mm256_rcp_ps(d);
  return {_mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)))};
}

// Sum of the 8 lanes in double, lane 0 first (a fixed order, so results do not depend on threads).
inline double hsum(VecF a) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, a.v);
  double s = 0.0;
  for (int l = 0; l < 8; ++l) s += double(lanes[l]);
  return s;
}

}  // namespace serengeti::cpu::short_conv::avx2
