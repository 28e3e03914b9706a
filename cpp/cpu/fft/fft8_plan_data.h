// Read-only view of one RealFft8 plan's sizes and twiddle tables, handed to the ISA-specific
// kernels (portable and AVX2 translation units). Plain data, no std containers, so the AVX2 TU
// needs no standard-library inline code (which could otherwise clash across ISAs).
#pragma once

#include <cstdint>

namespace serengeti::cpu::fft {

// Each spectrum/signal element is 8 lanes of re followed by 8 lanes of im.
constexpr int64_t kElemValues = 16;

template <class T>
struct Fft8PlanData {
  int64_t n = 0;      // real transform size
  int64_t m = 0;      // complex transform size n/2
  int log2m = 0;

  // Radix-4 twiddles for a DIF/DIT block of size b = 2^L (L >= 3): radix4[radix4_offset[L] + 6*j ..]
  // = (w^j, w^2j, w^3j) as (re, im) pairs, w = exp(-2 pi i / b), j < b/4.
  const T* radix4 = nullptr;
  int64_t radix4_offset[40] = {};

  // Blocks of at most leaf_elems elements are transformed breadth-first (they sit in L1).
  int64_t leaf_elems = 0;

  // Real-split twiddles, one (re, im) pair per mirrored element pair in pass order:
  // c_k = -(i/2) exp(-2 pi i k / n) for k = bin of the pair's lower position.
  const T* real_split = nullptr;

  // Four-step split for complex sizes beyond L2 (cols == 0 means: plain recursion over m):
  // m = cols * rows; column DFTs of length `cols` with stride `rows`, then row DFTs of `rows`.
  int64_t cols = 0, rows = 0;
  int64_t column_batch = 1;                 // columns gathered together into scratch
  const uint32_t* cols_bitrev = nullptr;    // bit reversal over log2(cols) bits
  // exp(-2 pi i e / m) = coarse[e >> fine_bits] * fine[e & (2^fine_bits - 1)], (re, im) doubles.
  const double* coarse = nullptr;
  const double* fine = nullptr;
  int fine_bits = 0;
};

// Grow-only, 64-byte aligned, per-thread scratch (defined in real_fft8.cpp). Allocates only when
// a thread first needs more than it had; the hot path never touches the heap.
void* fft8_thread_scratch(int64_t bytes);

}  // namespace serengeti::cpu::fft
