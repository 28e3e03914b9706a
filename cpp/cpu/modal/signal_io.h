// One channel's samples seen in logical time: a strided 1-D run of L activations of any dtype,
// optionally read back to front. The modal state is a sum over p^(L-1-k), i.e. a modal kernel
// in reversed time, so the same block sweeps serve both directions.
//
// Portable code only (uses element_convert.h, whose inline functions must not be built with AVX2).
#pragma once

#include <cstdint>

#include "serengeti/dtype.h"

namespace serengeti::cpu::modal {

struct Signal {
  void* data = nullptr;  // element 0 of the channel
  DType dtype = DType::kFloat32;
  int64_t stride = 1;    // elements between consecutive time steps
  int64_t length = 0;    // L
  bool reversed = false; // logical t is physical L-1-t
};

// x[i] = signal at logical times t0 + i, for i < count, widened to T.
template <class T>
void load_samples(const Signal& s, int64_t t0, int64_t count, T* x);

// signal at logical times t0 + i <- x[i] (narrowed to the signal's dtype), for i < count.
template <class T>
void store_samples(const Signal& s, int64_t t0, int64_t count, const T* x);

}  // namespace serengeti::cpu::modal
