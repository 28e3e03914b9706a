// serengeti::{cuda,emu}::fftconv_backward: validate, plan the execution and the batch chunks of
// the filter gradient, carve the workspace ([K of k | filter partials | dk_f of dk | skip partials |
// scratch]), then: K (when k is given and dw or dpostgate is wanted) -> the backward kernels ->
// the fixed-order reductions -> dk from dk_f through fft_filter's adjoint.
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
namespace {

struct BackwardPlan {
  Execution execution;
  bool spectrum = false;  // K computed from k into the workspace
  bool filter = false;    // dk or dk_f: filter partials
  bool skip = false;      // dD: skip partials
  int64_t chunk_len = 1, chunks = 0;
  // workspace byte offsets
  int64_t spectrum_at = 0, partials_at = 0, dk_f_at = 0, skip_at = 0, scratch_at = 0, total = 0;
  int64_t signal_bytes = 0;  // one split buffer (w or g)
};

BackwardPlan backward_plan(const FftConvBackwardParams& p, const Shape& s) {
  BackwardPlan b;
  b.execution = execution_for(s.log2_m, kMaxFusedBackwardLog2, kMaxRowBackwardLog2, 2);
  const bool want_dw = p.du.present() || p.dpregate.present(), want_z = p.dpostgate.present();
  b.filter = p.dk.present() || p.dk_f.present();
  b.skip = p.dD.present();
  b.spectrum = p.k.present() && (want_dw || want_z);
  if (s.batch > 0) {
    b.chunks = s.batch;
    if (b.filter) {
      const int64_t per_chunk = b.execution.split
          ? s.channels * div_up_host(int64_t(1) << (s.log2_m - b.execution.log2_row - 1), b.execution.units_per_block)
          : div_up_host(s.channels, slots_for(s.channels, s.log2_m));
      b.chunks = div_up_host(kBackwardBlocks, per_chunk);
      if (b.chunks > s.batch) b.chunks = s.batch;
    }
    b.chunk_len = div_up_host(s.batch, b.chunks);
    b.chunks = div_up_host(s.batch, b.chunk_len);
  }
  int64_t at = 0;
  b.spectrum_at = at;
  if (b.spectrum) at += rows_bytes(s.padded_channels(), s.log2_m);
  b.partials_at = at;
  if (b.filter) at += rows_bytes(b.chunks * s.channels, s.log2_m);
  b.dk_f_at = at;
  if (p.dk.present()) at += rows_bytes(s.padded_channels(), s.log2_m);
  b.skip_at = at;
  if (b.skip) at += align256(s.batch * s.channels * int64_t(sizeof(float)));
  b.scratch_at = at;
  int64_t scratch = 0;
  if (b.execution.split) {
    b.signal_bytes = rows_bytes(s.batch * s.channels, s.log2_m);
    scratch = 2 * b.signal_bytes;
  }
  if (b.spectrum && filter_forward_scratch_bytes(s) > scratch) scratch = filter_forward_scratch_bytes(s);
  if (p.dk.present() && filter_backward_scratch_bytes(s) > scratch) scratch = filter_backward_scratch_bytes(s);
  b.total = at + scratch;
  return b;
}

}  // namespace
}  // namespace fftconv_kernels

namespace fk = fftconv_kernels;

int64_t fftconv_backward_workspace_bytes(const FftConvBackwardParams& p) {
  const fk::Shape s = fk::validate::backward(p);
  if (s.channels == 0) return 0;
  return fk::backward_plan(p, s).total;
}

void fftconv_backward(const FftConvBackwardParams& p) {
  const fk::Shape s = fk::validate::backward(p);
  if (s.channels == 0) return;
  const fk::BackwardPlan plan = fk::backward_plan(p, s);
  fk::validate::workspace(p.workspace, p.workspace_bytes, plan.total);
  char* ws = static_cast<char*>(p.workspace);
  const cudaStream_t stream = fk::stream_of(p.launch);

  const float2* k_f = static_cast<const float2*>(p.k_f.data);
  if (plan.spectrum) {
    float2* spectrum = reinterpret_cast<float2*>(ws + plan.spectrum_at);
    fk::run_filter_forward(s, p.k, spectrum, ws + plan.scratch_at, stream);
    k_f = spectrum;
  }
  fk::BackwardArgs a{};
  a.batch = s.batch;
  a.channels = s.channels;
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = fk::slots_for(s.channels, s.log2_m);
  a.chunk_len = plan.chunk_len;
  a.chunks = plan.chunks;
  a.u = fk::activation_of(p.u);
  a.pregate = fk::activation_of(p.pregate);
  a.postgate = fk::activation_of(p.postgate);
  a.dy = fk::activation_of(p.dy);
  a.du = fk::activation_of(p.du);
  a.dpregate = fk::activation_of(p.dpregate);
  a.dpostgate = fk::activation_of(p.dpostgate);
  a.k_f = (a.want_dw() || a.want_z()) ? k_f : nullptr;
  a.D = p.D.present() ? static_cast<const float*>(p.D.data) : nullptr;
  a.D_stride = p.D.present() ? p.D.strides[0] : 0;
  a.filter_partials = plan.filter ? reinterpret_cast<float2*>(ws + plan.partials_at) : nullptr;
  a.skip_partials = plan.skip ? reinterpret_cast<float*>(ws + plan.skip_at) : nullptr;

  if (s.batch > 0 && (a.load_w() || a.load_g())) {
    if (plan.execution.split) {
      const int64_t rows = s.batch * s.channels;
      fk::launch_split_backward(a, fk::split_args(plan.execution, rows, s.log2_m, ws + plan.scratch_at),
                                fk::split_args(plan.execution, rows, s.log2_m,
                                           ws + plan.scratch_at + plan.signal_bytes),
                                p.u.dtype, stream);
    } else {
      fk::launch_fused_backward(a, p.u.dtype, stream);
    }
  }
  if (plan.filter) {
    float2* dk_f = p.dk_f.present() ? static_cast<float2*>(p.dk_f.data)
                                    : reinterpret_cast<float2*>(ws + plan.dk_f_at);
    fk::launch_reduce_filter_partials(a.filter_partials, plan.chunks, s.channels, s.padded_channels(),
                                      s.log2_m, dk_f, stream);
    if (p.dk.present()) fk::run_filter_backward(s, dk_f, p.dk, ws + plan.scratch_at, stream);
  }
  if (plan.skip)
    fk::launch_reduce_skip_partials(a.skip_partials, s.batch, s.channels, static_cast<float*>(p.dD.data),
                                    p.dD.strides[0], stream);
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
