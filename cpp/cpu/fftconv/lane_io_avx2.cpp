// Compiled with -mavx2 -mfma -mf16c; only called after a run-time avx2_enabled() check.
//
// Self-contained on purpose: it includes no header with inline functions (element_convert.h,
// dtype_size) and instantiates no external template, because an AVX2-compiled copy of such a weak
// symbol could be the one the linker keeps for the portable path (checked by
// tests/cpp/check_avx2_isolation.sh). Partial blocks at the end of a row go through the same
// vector conversions via a zero-padded copy, so rounding is identical to the full blocks.
#include "cpu/fftconv/lane_io_avx2.h"

#include <immintrin.h>

#include <cstring>

namespace serengeti::cpu::fftconv::avx2 {
namespace {

// 8x8 transpose: on return r[j][l] = old r[l][j]. Rows of 8 time samples (one per lane) become
// the engine's 8-lane sample vectors and back; the transpose is its own inverse.
inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// The raw element type stored for D.
template <DType D> struct Raw { using type = uint16_t; };
template <> struct Raw<DType::kFloat32> { using type = float; };

template <DType D>
const typename Raw<D>::type* element_ptr(const void* base, int64_t offset) {
  return static_cast<const typename Raw<D>::type*>(base) + offset;
}
template <DType D>
typename Raw<D>::type* element_ptr(void* base, int64_t offset) {
  return static_cast<typename Raw<D>::type*>(base) + offset;
}

// Eight consecutive elements of storage type D, widened to float.
template <DType D> __m256 load8(const void* p);
template <> inline __m256 load8<DType::kFloat32>(const void* p) {
  return _mm256_loadu_ps(static_cast<const float*>(p));
}
template <> inline __m256 load8<DType::kFloat16>(const void* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}
template <> inline __m256 load8<DType::kBFloat16>(const void* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

// Eight floats narrowed to storage type D (round to nearest even, as element_convert.h).
template <DType D> void store8(void* p, __m256 v);
template <> inline void store8<DType::kFloat32>(void* p, __m256 v) {
  _mm256_storeu_ps(static_cast<float*>(p), v);
}
template <> inline void store8<DType::kFloat16>(void* p, __m256 v) {
  _mm_storeu_si128(static_cast<__m128i*>(p),
                   _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
template <> inline void store8<DType::kBFloat16>(void* p, __m256 v) {
  const __m256i bits = _mm256_castps_si256(v);
  const __m256i kept_lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(
      _mm256_add_epi32(bits, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), kept_lsb)), 16);
  const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  const __m256i halves = _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
  // packus works within 128-bit halves: gather the two useful 64-bit pieces into the low half.
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(halves, halves), 0x08);
  _mm_storeu_si128(static_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
}

// The first `count` (< 8) elements at p, zero-padded to a vector.
template <DType D>
__m256 load_partial(const void* p, int64_t count) {
  typename Raw<D>::type padded[8] = {};
  std::memcpy(padded, p, size_t(count) * sizeof padded[0]);
  return load8<D>(padded);
}

// Stores the first `count` (< 8) elements of v at p.
template <DType D>
void store_partial(void* p, __m256 v, int64_t count) {
  typename Raw<D>::type padded[8];
  store8<D>(padded, v);
  std::memcpy(p, padded, size_t(count) * sizeof padded[0]);
}

template <DType D>
void load_impl(float* buf, const void* src, int64_t src_lane_stride, const void* gate,
               int64_t gate_lane_stride, int lanes, int64_t count) {
  const void* src_rows[8] = {};
  const void* gate_rows[8] = {};
  for (int l = 0; l < lanes; ++l) {
    src_rows[l] = element_ptr<D>(src, l * src_lane_stride);
    gate_rows[l] = gate ? element_ptr<D>(gate, l * gate_lane_stride) : nullptr;
  }
  for (int64_t t = 0; t < count; t += 8) {
    const int64_t block = count - t < 8 ? count - t : 8;
    __m256 r[8];
    for (int l = 0; l < 8; ++l) {
      if (l >= lanes) {
        r[l] = _mm256_setzero_ps();
        continue;
      }
      const void* s = element_ptr<D>(src_rows[l], t);
      r[l] = block == 8 ? load8<D>(s) : load_partial<D>(s, block);
      if (gate) {
        const void* g = element_ptr<D>(gate_rows[l], t);
        r[l] = _mm256_mul_ps(r[l], block == 8 ? load8<D>(g) : load_partial<D>(g, block));
      }
    }
    transpose8x8(r);
    for (int j = 0; j < block; ++j) _mm256_storeu_ps(buf + (t + j) * 8, r[j]);
  }
}

template <DType D>
void store_impl(void* dst, int64_t dst_lane_stride, const float* buf, const void* gate,
                int64_t gate_lane_stride, int lanes, int64_t count) {
  void* dst_rows[8] = {};
  const void* gate_rows[8] = {};
  for (int l = 0; l < lanes; ++l) {
    dst_rows[l] = element_ptr<D>(dst, l * dst_lane_stride);
    gate_rows[l] = gate ? element_ptr<D>(gate, l * gate_lane_stride) : nullptr;
  }
  for (int64_t t = 0; t < count; t += 8) {
    const int64_t block = count - t < 8 ? count - t : 8;
    __m256 r[8];
    for (int j = 0; j < 8; ++j) r[j] = j < block ? _mm256_loadu_ps(buf + (t + j) * 8) : _mm256_setzero_ps();
    transpose8x8(r);
    for (int l = 0; l < lanes; ++l) {
      __m256 v = r[l];
      if (gate) {
        const void* g = element_ptr<D>(gate_rows[l], t);
        v = _mm256_mul_ps(v, block == 8 ? load8<D>(g) : load_partial<D>(g, block));
      }
      void* d = element_ptr<D>(dst_rows[l], t);
      if (block == 8) {
        store8<D>(d, v);
      } else {
        store_partial<D>(d, v, block);
      }
    }
  }
}

}  // namespace

void load_lanes_unit_stride(float* buf, const void* src, DType src_dtype, int64_t src_lane_stride,
                            const void* gate, DType gate_dtype, int64_t gate_lane_stride,
                            int lanes, int64_t count) {
  (void)gate_dtype;  // equal to src_dtype (checked by the caller)
  switch (src_dtype) {
    case DType::kFloat32:
      return load_impl<DType::kFloat32>(buf, src, src_lane_stride, gate, gate_lane_stride, lanes,
                                        count);
    case DType::kFloat16:
      return load_impl<DType::kFloat16>(buf, src, src_lane_stride, gate, gate_lane_stride, lanes,
                                        count);
    case DType::kBFloat16:
      return load_impl<DType::kBFloat16>(buf, src, src_lane_stride, gate, gate_lane_stride, lanes,
                                         count);
    case DType::kFloat64: break;
  }
}

void store_lanes_unit_stride(void* dst, DType dst_dtype, int64_t dst_lane_stride, const float* buf,
                             const void* gate, DType gate_dtype, int64_t gate_lane_stride,
                             int lanes, int64_t count) {
  (void)gate_dtype;
  switch (dst_dtype) {
    case DType::kFloat32:
      return store_impl<DType::kFloat32>(dst, dst_lane_stride, buf, gate, gate_lane_stride, lanes,
                                         count);
    case DType::kFloat16:
      return store_impl<DType::kFloat16>(dst, dst_lane_stride, buf, gate, gate_lane_stride, lanes,
                                         count);
    case DType::kBFloat16:
      return store_impl<DType::kBFloat16>(dst, dst_lane_stride, buf, gate, gate_lane_stride,
                                          lanes, count);
    case DType::kFloat64: break;
  }
}

}  // namespace serengeti::cpu::fftconv::avx2
