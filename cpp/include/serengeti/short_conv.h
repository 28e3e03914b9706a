// Short depthwise causal convolution (Hyena / StripedHyena projections, H3's shift SSM, Mamba-style
// conv1d): params structs and entry points.
//
//   y[b,c,t] = act( bias[c] + sum_{j=0}^{K-1} weight[c, K-1-j] * x[b,c,t-j] )
//
// with x[b,c,t] for t < 0 taken from initial_state[b, c, K-1+t] when given (the K-1 inputs that
// preceded the chunk, oldest first) and zero otherwise: exactly
// F.conv1d(x, weight[:, None], bias, padding=K-1, groups=C)[..., :L] for a zero state.
// final_state[b, c, i] = the input at time L-(K-1)+i (from initial_state when that is < 0), so
// processing a prompt in chunks, passing each chunk's final state as the next one's initial state,
// equals processing it whole. act is the identity or SiLU: silu(a) = a / (1 + exp(-a)).
//
// Shapes (any element strides; channels-last (B, L, C) storage is just strides with stride(C) == 1):
// x, y, dy, dx (B, C, L); weight, dweight (C, K), 1 <= K <= 128; bias, dbias (C,);
// initial_state, final_state and their gradients (B, C, K-1).
// dtypes: activations (x, y, states) float32, float16, bfloat16 or float64; weight and bias any of
// those; arithmetic float32 (float64 for float64 x).
#pragma once

#include <cstdint>

#include "serengeti/launch.h"
#include "serengeti/tensor_view.h"

namespace serengeti {

enum class Activation : int8_t { kNone, kSilu };

struct ShortConvForwardParams {
  TensorView x;               // (B, C, L)
  TensorView weight;          // (C, K)
  TensorView bias;            // (C,) or absent
  TensorView initial_state;   // (B, C, K-1) or absent (zeros)
  Activation activation = Activation::kNone;
  TensorView y;               // output (B, C, L), x's dtype
  TensorView final_state;     // output (B, C, K-1) or absent (not computed)
  LaunchConfig launch;
};

// Gradients given dy (and optionally dfinal_state, the gradient reaching final_state). Each absent
// output is not computed. dweight and dbias are reduced over the batch deterministically.
struct ShortConvBackwardParams {
  TensorView x, weight, bias, initial_state;
  Activation activation = Activation::kNone;
  TensorView dy;              // (B, C, L)
  TensorView dfinal_state;    // (B, C, K-1) or absent (zero)
  TensorView dx;              // (B, C, L)
  TensorView dweight;         // (C, K), weight's dtype
  TensorView dbias;           // (C,), bias's dtype
  TensorView dinitial_state;  // (B, C, K-1)
  // Scratch for the deterministic weight/bias reduction of the CUDA kernels, allocated by the
  // caller (torch's allocator) with short_conv_backward_workspace_bytes(p) bytes; CPU ignores it.
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
  LaunchConfig launch;
};

// One decoding step: y_t = act(bias + sum_j weight[:, K-1-j] x_{t-j}) with x_{t-1..t-K+1} from
// `state`, then state <- (state[..., 1:], x_t) in place (the only argument the op modifies).
struct ShortConvStepParams {
  TensorView x;               // (B, C)
  TensorView state;           // (B, C, K-1), updated in place
  TensorView weight;          // (C, K)
  TensorView bias;            // (C,) or absent
  Activation activation = Activation::kNone;
  TensorView y;               // output (B, C), x's dtype
  LaunchConfig launch;
};

void short_conv_forward(const ShortConvForwardParams& p);
// Bytes of workspace short_conv_backward needs for these params (0 on the cpu backend).
int64_t short_conv_backward_workspace_bytes(const ShortConvBackwardParams& p);
void short_conv_backward(const ShortConvBackwardParams& p);
void short_conv_step(const ShortConvStepParams& p);

}  // namespace serengeti
