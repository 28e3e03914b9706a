// The short convolution as the CPU kernels see it: sizes, the compute flags and every operand as a
// raw pointer with element strides, after validation (short_conv_checks.h) has run.
//
// Indexing convention used by every kernel in this folder. With H = K-1 inputs of history,
//   y[t] = bias + sum_{i=0}^{K-1} weight[i] * x[t-H+i]          (weight[i] = weight[c, i])
// which is the header's sum_j weight[K-1-j] x[t-j] with i = K-1-j. A "window" buffer holding
// x[t0-H .. t0+n) at positions 0 .. H+n therefore gives y[t0+p] = bias + sum_i weight[i] win[p+i]:
// the history sits in front of the block, and one formula serves history and fresh input alike.
#pragma once

#include <cstdint>

#include "serengeti/dtype.h"

namespace serengeti::cpu::short_conv {

// A (B, C, L)- or (B, C, K-1)-shaped operand; data == nullptr means absent.
struct View3 {
  void* data = nullptr;
  int64_t stride_b = 0, stride_c = 0, stride_t = 0;
  bool present() const { return data != nullptr; }
  int64_t offset(int64_t b, int64_t c, int64_t t) const {
    return b * stride_b + c * stride_c + t * stride_t;
  }
};

// weight / dweight: (C, K) in any float dtype.
struct WeightView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  int64_t stride_c = 0, stride_k = 0;
  bool present() const { return data != nullptr; }
  int64_t offset(int64_t c, int64_t i) const { return c * stride_c + i * stride_k; }
};

// bias / dbias: (C,) in any float dtype.
struct BiasView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  int64_t stride_c = 0;
  bool present() const { return data != nullptr; }
};

struct ConvSizes {
  int64_t batch = 0;     // B
  int64_t channels = 0;  // C
  int64_t length = 0;    // L
  int64_t taps = 1;      // K
  int64_t history() const { return taps - 1; }  // H = K-1
};

// Activations (x, y, states, dy, dx, state gradients) all share one storage dtype.
struct ForwardProblem {
  ConvSizes sizes;
  DType dtype = DType::kFloat32;
  bool silu = false;
  View3 x, y, initial_state, final_state;
  WeightView weight;
  BiasView bias;
};

struct BackwardProblem {
  ConvSizes sizes;
  DType dtype = DType::kFloat32;
  bool silu = false;
  View3 x, initial_state, dy, dfinal_state;
  View3 dx, dinitial_state;       // outputs (absent: not computed)
  WeightView weight, dweight;     // dweight: output
  BiasView bias, dbias;           // dbias: output
  bool needs_input_grads() const { return dx.present() || dinitial_state.present(); }
  bool needs_reductions() const { return dweight.present() || dbias.present(); }
};

}  // namespace serengeti::cpu::short_conv
