// Direct-sum convolution and correlation of 8 channels at once in the engine's lane layout
// (sample t of lane l at [t*8 + l]). Included by exactly two translation units: direct_conv.cpp
// (portable flags) and direct_conv_avx2.cpp (-mavx2 -mfma), so the same source is compiled for
// each instruction set. Everything here has internal linkage (unnamed namespace), and nothing here
// instantiates a template with external linkage (not even std::min), so no AVX2-compiled weak
// symbol can be shared with, and picked by the linker for, the portable build.
//
// Vectorisation is over the 8 lanes (GCC/Clang vector extensions: one 8-wide vector per sample);
// each output block keeps kBlock accumulators in registers while the taps stream past.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__FMA__)
#include <immintrin.h>
#endif

namespace serengeti::cpu::fftconv {
namespace {

typedef float LaneVecF __attribute__((vector_size(32)));
typedef double LaneVecD __attribute__((vector_size(64)));
template <class T> struct LaneVecOf;
template <> struct LaneVecOf<float> { using type = LaneVecF; };
template <> struct LaneVecOf<double> { using type = LaneVecD; };

// Lane vectors are read and written with memcpy (an unaligned vector move after optimisation), and
// passed by reference: GCC warns that by-value 32-byte vectors change the ABI without -mavx.
template <class T>
inline void load_lanes8(typename LaneVecOf<T>::type& v, const T* p) {
  std::memcpy(&v, p, sizeof v);
}
template <class T>
inline void store_lanes8(T* p, const typename LaneVecOf<T>::type& v) {
  std::memcpy(p, &v, sizeof v);
}

template <class T>
inline void add_to_lanes8(T* p, const typename LaneVecOf<T>::type& v) {
  typename LaneVecOf<T>::type sum;
  load_lanes8(sum, p);
  sum += v;
  store_lanes8(p, sum);
}

// acc + a * b, fused where the instruction set has it (explicit, so it does not depend on the
// build's -ffp-contract setting).
inline void mul_add(LaneVecF& acc, const LaneVecF& a, const LaneVecF& b) {
#if defined(__FMA__)
  acc = (LaneVecF)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)acc);
#else
  acc += a * b;
#endif
}
inline void mul_add(LaneVecD& acc, const LaneVecD& a, const LaneVecD& b) { acc += a * b; }

// acc += a * (the lane vector at p)
template <class T>
inline void mul_add_load(typename LaneVecOf<T>::type& acc, const typename LaneVecOf<T>::type& a,
                         const T* p) {
  typename LaneVecOf<T>::type x;
  load_lanes8(x, p);
  mul_add(acc, a, x);
}

// acc += (lane vector at kp) * (lane vector at xp)
template <class T>
inline void mul_add_tap(typename LaneVecOf<T>::type& acc, const T* kp, const T* xp) {
  typename LaneVecOf<T>::type kv;
  load_lanes8(kv, kp);
  mul_add_load(acc, kv, xp);
}

inline int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max_of(int64_t a, int64_t b) { return a > b ? a : b; }

constexpr int kBlock = 8;  // outputs per register block (8 accumulators + taps fit 16 ymm)

// GCC's -O3 predictive commoning carries loaded samples across tap iterations, which needs more
// than the 16 ymm registers next to 8 accumulators and spills them inside the hot loop (measured
// 4x slower). The loads it saves hit L1 anyway.
#if defined(__GNUC__) && !defined(__clang__)
#define SG_NO_PREDICTIVE_COMMONING __attribute__((optimize("no-predictive-commoning")))
#else
#define SG_NO_PREDICTIVE_COMMONING
#endif

// out[t] = sum_{s=0}^{min(t, klen-1)} k[s] * x[t-s]   for 0 <= t < len   (causal convolution)
template <class T>
SG_NO_PREDICTIVE_COMMONING void causal_conv_kernel(T* out, const T* k, int64_t klen, const T* x, int64_t len) {
  using V = typename LaneVecOf<T>::type;
  int64_t t0 = 0;
  for (; t0 + kBlock <= len; t0 += kBlock) {
    V acc[kBlock];
    for (int j = 0; j < kBlock; ++j) acc[j] = V{};
    // Taps s <= t0 are in range for every output of the block (t0 + j - s >= 0).
    const int64_t shared_taps = min_of(klen, t0 + 1);
    for (int64_t s = 0; s < shared_taps; ++s) {
      V kv;
      load_lanes8(kv, k + s * 8);
      const T* xs = x + (t0 - s) * 8;
      for (int j = 0; j < kBlock; ++j) mul_add_load(acc[j], kv, xs + j * 8);
    }
    for (int j = 0; j < kBlock; ++j) store_lanes8(out + (t0 + j) * 8, acc[j]);
    // Start-up ramp: output t0 + j also sees taps t0 < s <= t0 + j. Added in memory so the
    // accumulators above never need an address (and stay in registers).
    for (int j = 1; j < kBlock; ++j) {
      V extra = V{};
      for (int64_t s = shared_taps; s < min_of(klen, t0 + j + 1); ++s)
        mul_add_tap(extra, k + s * 8, x + (t0 + j - s) * 8);
      add_to_lanes8(out + (t0 + j) * 8, extra);
    }
  }
  for (; t0 < len; ++t0) {
    V acc = V{};
    for (int64_t s = 0; s < min_of(klen, t0 + 1); ++s)
      mul_add_tap(acc, k + s * 8, x + (t0 - s) * 8);
    store_lanes8(out + t0 * 8, acc);
  }
}

// out[t] = sum_{s=0}^{klen-1} k[s] * x[t+s]   for 0 <= t < out_len, x[i] = 0 for i >= xlen
// (cross-correlation: the adjoint of causal_conv in x, and in k when k and x swap roles).
template <class T>
SG_NO_PREDICTIVE_COMMONING void correlate_kernel(T* out, int64_t out_len, const T* k, int64_t klen, const T* x,
                      int64_t xlen) {
  using V = typename LaneVecOf<T>::type;
  int64_t t0 = 0;
  for (; t0 + kBlock <= out_len; t0 += kBlock) {
    V acc[kBlock];
    for (int j = 0; j < kBlock; ++j) acc[j] = V{};
    // Taps with t0 + kBlock - 1 + s < xlen are in range for every output of the block.
    const int64_t shared_taps = max_of(0, min_of(klen, xlen - (t0 + kBlock - 1)));
    for (int64_t s = 0; s < shared_taps; ++s) {
      V kv;
      load_lanes8(kv, k + s * 8);
      const T* xs = x + (t0 + s) * 8;
      for (int j = 0; j < kBlock; ++j) mul_add_load(acc[j], kv, xs + j * 8);
    }
    for (int j = 0; j < kBlock; ++j) store_lanes8(out + (t0 + j) * 8, acc[j]);
    // End ramp: output t0 + j also sees taps up to xlen - t0 - j (added in memory, as above).
    for (int j = 0; j < kBlock - 1; ++j) {
      V extra = V{};
      for (int64_t s = shared_taps; s < min_of(klen, xlen - (t0 + j)); ++s)
        mul_add_tap(extra, k + s * 8, x + (t0 + j + s) * 8);
      add_to_lanes8(out + (t0 + j) * 8, extra);
    }
  }
  for (; t0 < out_len; ++t0) {
    V acc = V{};
    for (int64_t s = 0; s < min_of(klen, xlen - t0); ++s)
      mul_add_tap(acc, k + s * 8, x + (t0 + s) * 8);
    store_lanes8(out + t0 * 8, acc);
  }
}

}  // namespace
}  // namespace serengeti::cpu::fftconv
