// serengeti::{cuda,emu}::fft_filter_{forward,backward}: the filter spectrum k_f of taps k and its
// adjoint, fused per block of channels or through the multi-kernel path (execution.h). The conv
// entry points use run_filter_forward / run_filter_backward too (k given instead of k_f, dk).
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/execution.h"
#include "cuda/fftconv/fftconv_cuda.h"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/validate_params.h"
#include "serengeti/error.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

Execution filter_forward_execution(const Shape& s) { return forward_execution_for(s.log2_m); }
Execution filter_backward_execution(const Shape& s) { return execution_for(s.log2_m, kMaxFusedLog2, kMaxRowLog2); }

int64_t filter_forward_scratch_bytes(const Shape& s) {
  return filter_forward_execution(s).split ? rows_bytes(s.padded_channels(), s.log2_m) : 0;
}
int64_t filter_backward_scratch_bytes(const Shape& s) {
  return filter_backward_execution(s).split ? rows_bytes(s.padded_channels(), s.log2_m) : 0;
}

void run_filter_forward(const Shape& s, const TensorView& k, float2* k_f, void* scratch,
                        cudaStream_t stream) {
  FilterArgs a{};
  a.channels = s.channels;
  a.padded_channels = s.padded_channels();
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(a.padded_channels, s.log2_m);
  a.k = taps_of(k);
  a.placement = placement_of(s);
  a.k_f = k_f;
  const Execution e = filter_forward_execution(s);
  if (e.split) {
    launch_split_filter_forward(a, split_args(e, a.padded_channels, s.log2_m, scratch), stream);
  } else if (e.unit_sweep) {
    launch_unit_sweep_filter_forward(a, stream);
  } else {
    launch_filter_forward(a, stream);
  }
}

void run_filter_backward(const Shape& s, const float2* dk_f, const TensorView& dk, void* scratch,
                         cudaStream_t stream) {
  FilterBackwardArgs a{};
  a.channels = s.channels;
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(s.channels, s.log2_m);
  a.dk_f = dk_f;
  a.placement = placement_of(s);
  a.dk = taps_of(dk);
  const Execution e = filter_backward_execution(s);
  if (e.split) {
    launch_split_filter_backward(a, split_args(e, s.channels, s.log2_m, scratch), stream);
  } else {
    launch_filter_backward(a, stream);
  }
}

}  // namespace fftconv_kernels

namespace fk = fftconv_kernels;

int64_t fft_filter_forward_workspace_bytes(const FftFilterParams& p) {
  const fk::Shape s = fk::validate::filter_forward(p);
  return s.channels == 0 ? 0 : fk::filter_forward_scratch_bytes(s);
}

void fft_filter_forward(const FftFilterParams& p) {
  const fk::Shape s = fk::validate::filter_forward(p);
  if (s.channels == 0) return;
  fk::validate::workspace(p.workspace, p.workspace_bytes, fk::filter_forward_scratch_bytes(s));
  fk::run_filter_forward(s, p.k, static_cast<float2*>(p.k_f.data), p.workspace, fk::stream_of(p.launch));
}

int64_t fft_filter_backward_workspace_bytes(const FftFilterBackwardParams& p) {
  const fk::Shape s = fk::validate::filter_backward(p);
  return s.channels == 0 ? 0 : fk::filter_backward_scratch_bytes(s);
}

void fft_filter_backward(const FftFilterBackwardParams& p) {
  const fk::Shape s = fk::validate::filter_backward(p);
  if (s.channels == 0) return;
  fk::validate::workspace(p.workspace, p.workspace_bytes, fk::filter_backward_scratch_bytes(s));
  fk::run_filter_backward(s, static_cast<const float2*>(p.dk_f.data), p.dk, p.workspace,
                      fk::stream_of(p.launch));
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
