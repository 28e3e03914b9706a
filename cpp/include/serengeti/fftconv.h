// FFT long convolution: params structs and entry points.
//
//   w = u * pregate                      (if pregate is present)
//   y = postgate * ( k (*) w + D * w )   (postgate and D if present)
//
// causal:         (k (*) w)[t] = sum_{s=0}^{min(t, Lk-1)} k[s] w[t-s]
// bidirectional:  (k (*) w)[t] = sum_{s=-(L-1)}^{L-1} k[c+s] w[t-s],  c = (Lk-1)/2 (centre tap),
//                 taps outside [0, Lk) are zero (Lk = 2L-1 gives the full two-sided filter).
//
// Shapes: u, pregate, postgate, y, dy and their gradients (B, H, L) with any element strides;
// k and dk (H, Lk) with any strides; D and dD (H,). Activations are float32, float16, bfloat16 or
// float64 (float64 on the CPU backend only); k and D are float32 (float64 when the activations are
// float64). Arithmetic is float32 (float64 for float64 activations).
//
// The packed filter spectrum k_f (from fft_filter_forward) is a contiguous tensor of shape
// (ceil(H/8), N/2, 2, 8) in k's dtype, N = fftconv_fft_size(L); its element order belongs to the
// backend that made it (the CPU FFT engine's, cpp/cpu/fft/real_fft8.h, or the CUDA kernels',
// cuda/fftconv/README.md) and is only meaningful to these ops on that backend.
//
// Workspace: the CUDA backend needs scratch memory for some calls (the filter spectrum computed
// from k, the complex intermediate of long transforms, per-block partial sums of the filter
// gradients). The caller allocates p.workspace with at least *_workspace_bytes(p) bytes (0 on the
// CPU backend, where workspace may stay null) on the tensors' device.
#pragma once

#include <cstdint>

#include "serengeti/launch.h"
#include "serengeti/tensor_view.h"

namespace serengeti {

struct FftConvForwardParams {
  TensorView u;          // (B, H, L)
  TensorView pregate;    // (B, H, L) or absent
  TensorView postgate;   // (B, H, L) or absent
  TensorView k;          // (H, Lk), absent when k_f is given
  TensorView k_f;        // (ceil(H/8), N/2, 2, 8) packed spectrum, absent when k is given
  TensorView D;          // (H,) or absent
  bool bidirectional = false;
  TensorView y;          // (B, H, L) output, u's dtype
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
  LaunchConfig launch;
};

// Gradients of a scalar loss given dy = dL/dy. Inputs mirror the forward; each output view that is
// absent is not computed. dk is requested only with k, dk_f only with k_f.
struct FftConvBackwardParams {
  TensorView u, pregate, postgate, k, k_f, D;
  bool bidirectional = false;
  TensorView dy;         // (B, H, L), u's dtype
  TensorView du;         // (B, H, L), u's dtype
  TensorView dpregate;   // (B, H, L), u's dtype
  TensorView dpostgate;  // (B, H, L), u's dtype
  TensorView dk;         // (H, Lk), k's dtype
  TensorView dk_f;       // k_f's shape and dtype
  TensorView dD;         // (H,), D's dtype
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
  LaunchConfig launch;
};

// k_f = packed spectrum of k for sequence length L (zero-padded to N; in bidirectional mode the
// taps s < 0 are wrapped to the end so the transform sees a circular filter).
struct FftFilterParams {
  TensorView k;          // (H, Lk)
  int64_t length = 0;    // L
  bool bidirectional = false;
  TensorView k_f;        // output (ceil(H/8), N/2, 2, 8)
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
  LaunchConfig launch;
};

// Adjoint of fft_filter_forward: dk = d(loss)/dk given dk_f = d(loss)/dk_f.
struct FftFilterBackwardParams {
  TensorView dk_f;       // (ceil(H/8), N/2, 2, 8)
  int64_t length = 0;
  bool bidirectional = false;
  TensorView dk;         // output (H, Lk)
  void* workspace = nullptr;
  int64_t workspace_bytes = 0;
  LaunchConfig launch;
};

// The transform size N used for sequence length L: a power of two >= max(2L - 1, 16).
int64_t fftconv_fft_size(int64_t length);

// Bytes of p.workspace each entry point needs for these params (validates them).
int64_t fftconv_forward_workspace_bytes(const FftConvForwardParams& p);
int64_t fftconv_backward_workspace_bytes(const FftConvBackwardParams& p);
int64_t fft_filter_forward_workspace_bytes(const FftFilterParams& p);
int64_t fft_filter_backward_workspace_bytes(const FftFilterBackwardParams& p);

void fftconv_forward(const FftConvForwardParams& p);
void fftconv_backward(const FftConvBackwardParams& p);
void fft_filter_forward(const FftFilterParams& p);
void fft_filter_backward(const FftFilterBackwardParams& p);

}  // namespace serengeti
