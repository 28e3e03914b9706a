// serengeti::{cuda,emu}::fftconv_* / fft_filter_*: validate, choose the execution (fused blocks
// for M = N/2 <= 8192), carve the workspace, fill the kernels' argument structs and launch on
// p.launch.stream.
//
// With taps k instead of a spectrum, the forward first computes k_f into the workspace with the
// filter kernel (the D skip is applied in the time domain, so k_f stays the plain spectrum).
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/fftconv_cuda.h"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/transform.cuh"
#include "cuda/fftconv/validate_params.h"
#include "serengeti/error.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

using fftconv_kernels::validate::Shape;
namespace fk = fftconv_kernels;

// The largest M a block transforms whole (91 KB of shared memory at 2^13).
constexpr int kMaxFusedLog2 = 13;
// Points a block of short rows holds (several rows per block amortise the block's constants).
constexpr int kBlockPointsLog2 = 11;

cudaStream_t stream_of(const LaunchConfig& launch) { return static_cast<cudaStream_t>(launch.stream); }

void require_fused(const Shape& s, const char* name) {
  SG_CHECK_ARG(s.log2_m <= kMaxFusedLog2, name, ": sequence length ", s.length,
               " needs a transform of N = ", 2 * s.m(), " points; this build of the CUDA fftconv runs "
               "N <= 16384 (L <= 8192)");
}

// Rows per block: enough for ~2^11 points, no more than there are rows, whole 256-point tiles.
int slots_for(int64_t rows, int log2_m) {
  int64_t slots = log2_m >= kBlockPointsLog2 ? 1 : (int64_t(1) << (kBlockPointsLog2 - log2_m));
  if (rows < slots) slots = rows < 1 ? 1 : rows;
  return fk::round_slots_to_tiles(int(slots), log2_m);
}

fk::TapPlacement placement_of(const Shape& s) {
  fk::TapPlacement p;
  p.centre = s.bidirectional ? (s.taps - 1) / 2 : 0;
  p.lowest = -p.centre > -(s.length - 1) ? -p.centre : -(s.length - 1);
  p.highest = s.taps - 1 - p.centre < s.length - 1 ? s.taps - 1 - p.centre : s.length - 1;
  return p;
}

fk::Activation activation_of(const TensorView& v) {
  if (!v.present()) return fk::Activation{nullptr, 0, 0, 0};
  return fk::Activation{v.data, v.strides[0], v.strides[1], v.strides[2]};
}

fk::Taps taps_of(const TensorView& v) {
  return fk::Taps{static_cast<float*>(v.data), v.strides[0], v.strides[1], v.sizes[1]};
}

int64_t spectrum_bytes(const Shape& s) { return s.padded_channels() * s.m() * int64_t(sizeof(float2)); }

void run_filter_forward(const Shape& s, const TensorView& k, float2* k_f, cudaStream_t stream) {
  fk::FilterArgs a{};
  a.channels = s.channels;
  a.padded_channels = s.padded_channels();
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(a.padded_channels, s.log2_m);
  a.k = taps_of(k);
  a.placement = placement_of(s);
  a.k_f = k_f;
  fk::launch_filter_forward(a, stream);
}

}  // namespace

int64_t fftconv_forward_workspace_bytes(const FftConvForwardParams& p) {
  const Shape s = fk::validate::forward(p);
  return p.k.present() ? spectrum_bytes(s) : 0;
}

void fftconv_forward(const FftConvForwardParams& p) {
  const Shape s = fk::validate::forward(p);
  fk::validate::workspace(p.workspace, p.workspace_bytes,
                          SG_KERNEL_NAMESPACE::fftconv_forward_workspace_bytes(p));
  if (s.batch == 0 || s.channels == 0) return;
  require_fused(s, "u");
  const cudaStream_t stream = stream_of(p.launch);
  const float2* k_f = static_cast<const float2*>(p.k_f.data);
  if (p.k.present()) {
    float2* spectrum = static_cast<float2*>(p.workspace);
    run_filter_forward(s, p.k, spectrum, stream);
    k_f = spectrum;
  }
  fk::ForwardArgs a{};
  a.batch = s.batch;
  a.channels = s.channels;
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(s.batch * s.channels, s.log2_m);
  a.u = activation_of(p.u);
  a.pregate = activation_of(p.pregate);
  a.postgate = activation_of(p.postgate);
  a.y = activation_of(p.y);
  a.k_f = k_f;
  a.D = p.D.present() ? static_cast<const float*>(p.D.data) : nullptr;
  a.D_stride = p.D.present() ? p.D.strides[0] : 0;
  fk::launch_fused_forward(a, p.u.dtype, stream);
}

int64_t fft_filter_forward_workspace_bytes(const FftFilterParams& p) {
  fk::validate::filter_forward(p);
  return 0;
}

void fft_filter_forward(const FftFilterParams& p) {
  const Shape s = fk::validate::filter_forward(p);
  if (s.channels == 0) return;
  require_fused(s, "length");
  run_filter_forward(s, p.k, static_cast<float2*>(p.k_f.data), stream_of(p.launch));
}

int64_t fft_filter_backward_workspace_bytes(const FftFilterBackwardParams& p) {
  fk::validate::filter_backward(p);
  return 0;
}

void fft_filter_backward(const FftFilterBackwardParams& p) {
  const Shape s = fk::validate::filter_backward(p);
  if (s.channels == 0) return;
  require_fused(s, "length");
  fk::FilterBackwardArgs a{};
  a.channels = s.channels;
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(s.channels, s.log2_m);
  a.dk_f = static_cast<const float2*>(p.dk_f.data);
  a.placement = placement_of(s);
  a.dk = taps_of(p.dk);
  fk::launch_filter_backward(a, stream_of(p.launch));
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
