// serengeti::{cuda,emu}::fftconv_* / fft_filter_*: validate, choose the execution (fused blocks
// for M = N/2 <= 8192, the multi-kernel path beyond), carve the workspace, fill the kernels'
// argument structs and launch on p.launch.stream.
//
// With taps k instead of a spectrum, the forward first computes k_f into the workspace with the
// filter kernel (the D skip is applied in the time domain, so k_f stays the plain spectrum).
#include <cuda_runtime.h>

#include <cstddef>
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

// Block sizes (log2 of complex points). A block transforms whole sequences up to 2^13 points
// (one buffer; 91 KB of shared memory: every GPU's 99 KB opt-in limit) in the forward ops; longer
// ones are split (plan.cuh) into rows of at most 2^12 points, two rows per block. The backward
// keeps two buffers (w and g), so each is half as large. One size more is fused where the device
// allows the shared memory (sm_90: 227 KB for the forward's 163 KB at 2^14; sm_80 and sm_90:
// 163 KB for the backward's 155 KB at 2^13): the same plan, so k_f does not change.
constexpr int kMaxFusedLog2 = 13;
constexpr int kMaxRowLog2 = 12;
constexpr int kMaxFusedBackwardLog2 = 12;
constexpr int kMaxRowBackwardLog2 = 11;
constexpr int kLargeDeviceExtraLog2 = 1;
// Blocks the backward aims for when it splits the batch into chunks for the filter gradient
// (a fixed number, so the reduction order does not depend on the device).
constexpr int64_t kBackwardBlocks = 128;
// Points a block of short rows holds (several rows per block amortise the block's constants).
constexpr int kBlockPointsLog2 = 11;

cudaStream_t stream_of(const LaunchConfig& launch) { return static_cast<cudaStream_t>(launch.stream); }

// Rows per block: enough for ~2^11 points, no more than there are rows, whole 256-point tiles.
int slots_for(int64_t rows, int log2_m) {
  int64_t slots = log2_m >= kBlockPointsLog2 ? 1 : (int64_t(1) << (kBlockPointsLog2 - log2_m));
  if (rows < slots) slots = rows < 1 ? 1 : rows;
  return fk::round_slots_to_tiles(int(slots), log2_m);
}

// How a transform of 2^log2_m points runs: fused (whole rows in a block) or split into outer
// passes and blocks of row pairs of at most 2^max_row_log2 points.
struct Execution {
  bool split = false;
  int outer_stages = 0, log2_row = 0, units_per_block = 0;
};

// The opt-in shared memory per block of the current device.
std::size_t device_shared_limit() {
  int device = 0, bytes = 0;
  SG_CHECK_INTERNAL(cudaGetDevice(&device) == cudaSuccess, "fftconv: no current CUDA device");
  SG_CHECK_INTERNAL(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess,
                    "fftconv: cannot query the device's shared memory");
  return std::size_t(bytes);
}

// buffers x 2^log2_m points in one block fit this device.
bool block_fits_device(int log2_m, int buffers) {
  return fk::make_shared_layout(buffers << log2_m, log2_m, 0).total <= device_shared_limit();
}

// buffers: 1 (forward ops) or 2 (backward).
Execution execution_for(int log2_m, int max_fused_log2, int max_row_log2, int buffers = 1) {
  Execution e;
  if (log2_m <= max_fused_log2) return e;
  if (log2_m <= max_fused_log2 + kLargeDeviceExtraLog2 && block_fits_device(log2_m, buffers)) return e;
  const fk::Plan plan = fk::make_plan(log2_m);
  e.split = true;
  e.outer_stages = fk::outer_stages_for(log2_m, max_row_log2);
  e.log2_row = plan.log2_stride(e.outer_stages - 1);
  e.units_per_block = 1 << (max_row_log2 - e.log2_row);  // 2 rows per unit: <= 2^(max_row + 1) points
  return e;
}

fk::SplitArgs split_args(const Execution& e, int64_t sequences, int log2_m, void* ws) {
  fk::SplitArgs s{};
  s.sequences = sequences;
  s.log2_m = log2_m;
  s.log2_row = e.log2_row;
  s.outer_stages = e.outer_stages;
  s.units_per_block = e.units_per_block;
  s.ws = static_cast<float2*>(ws);
  return s;
}

int64_t align256(int64_t bytes) { return (bytes + 255) / 256 * 256; }
int64_t div_up_host(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Bytes of M float2 per row.
int64_t rows_bytes(int64_t rows, int log2_m) { return align256(rows * (int64_t(8) << log2_m)); }

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

// ---- fft_filter -------------------------------------------------------------------------------

Execution filter_execution(const Shape& s) { return execution_for(s.log2_m, kMaxFusedLog2, kMaxRowLog2); }

int64_t filter_scratch_bytes(const Shape& s) {
  return filter_execution(s).split ? rows_bytes(s.padded_channels(), s.log2_m) : 0;
}

void run_filter_forward(const Shape& s, const TensorView& k, float2* k_f, void* scratch,
                        cudaStream_t stream) {
  fk::FilterArgs a{};
  a.channels = s.channels;
  a.padded_channels = s.padded_channels();
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(a.padded_channels, s.log2_m);
  a.k = taps_of(k);
  a.placement = placement_of(s);
  a.k_f = k_f;
  const Execution e = filter_execution(s);
  if (e.split) {
    fk::launch_split_filter_forward(a, split_args(e, a.padded_channels, s.log2_m, scratch), stream);
  } else {
    fk::launch_filter_forward(a, stream);
  }
}

// ---- forward ----------------------------------------------------------------------------------

struct ForwardWorkspace {
  int64_t spectrum = 0, scratch = 0;  // byte offsets
  int64_t total = 0;
};

ForwardWorkspace forward_workspace(const FftConvForwardParams& p, const Shape& s) {
  ForwardWorkspace w;
  const int64_t spectrum_bytes = p.k.present() ? rows_bytes(s.padded_channels(), s.log2_m) : 0;
  int64_t scratch = 0;
  if (execution_for(s.log2_m, kMaxFusedLog2, kMaxRowLog2).split)
    scratch = rows_bytes(s.batch * s.channels, s.log2_m);
  if (p.k.present()) scratch = scratch > filter_scratch_bytes(s) ? scratch : filter_scratch_bytes(s);
  w.spectrum = 0;
  w.scratch = spectrum_bytes;
  w.total = spectrum_bytes + scratch;
  return w;
}

}  // namespace

int64_t fftconv_forward_workspace_bytes(const FftConvForwardParams& p) {
  const Shape s = fk::validate::forward(p);
  if (s.batch == 0 || s.channels == 0) return 0;
  return forward_workspace(p, s).total;
}

void fftconv_forward(const FftConvForwardParams& p) {
  const Shape s = fk::validate::forward(p);
  if (s.batch == 0 || s.channels == 0) return;
  const ForwardWorkspace w = forward_workspace(p, s);
  fk::validate::workspace(p.workspace, p.workspace_bytes, w.total);
  char* ws = static_cast<char*>(p.workspace);
  const cudaStream_t stream = stream_of(p.launch);
  const float2* k_f = static_cast<const float2*>(p.k_f.data);
  if (p.k.present()) {
    float2* spectrum = reinterpret_cast<float2*>(ws + w.spectrum);
    run_filter_forward(s, p.k, spectrum, ws + w.scratch, stream);
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
  const Execution e = execution_for(s.log2_m, kMaxFusedLog2, kMaxRowLog2);
  if (e.split) {
    fk::launch_split_forward(a, split_args(e, s.batch * s.channels, s.log2_m, ws + w.scratch),
                             p.u.dtype, stream);
  } else {
    fk::launch_fused_forward(a, p.u.dtype, stream);
  }
}

// ---- backward ---------------------------------------------------------------------------------

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
  if (b.spectrum || p.dk.present()) scratch = scratch > filter_scratch_bytes(s) ? scratch : filter_scratch_bytes(s);
  b.total = at + scratch;
  return b;
}

}  // namespace

int64_t fftconv_backward_workspace_bytes(const FftConvBackwardParams& p) {
  const Shape s = fk::validate::backward(p);
  if (s.channels == 0) return 0;
  return backward_plan(p, s).total;
}

void fftconv_backward(const FftConvBackwardParams& p) {
  const Shape s = fk::validate::backward(p);
  if (s.channels == 0) return;
  const BackwardPlan plan = backward_plan(p, s);
  fk::validate::workspace(p.workspace, p.workspace_bytes, plan.total);
  char* ws = static_cast<char*>(p.workspace);
  const cudaStream_t stream = stream_of(p.launch);

  const float2* k_f = static_cast<const float2*>(p.k_f.data);
  if (plan.spectrum) {
    float2* spectrum = reinterpret_cast<float2*>(ws + plan.spectrum_at);
    run_filter_forward(s, p.k, spectrum, ws + plan.scratch_at, stream);
    k_f = spectrum;
  }
  fk::BackwardArgs a{};
  a.batch = s.batch;
  a.channels = s.channels;
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(s.channels, s.log2_m);
  a.chunk_len = plan.chunk_len;
  a.chunks = plan.chunks;
  a.u = activation_of(p.u);
  a.pregate = activation_of(p.pregate);
  a.postgate = activation_of(p.postgate);
  a.dy = activation_of(p.dy);
  a.du = activation_of(p.du);
  a.dpregate = activation_of(p.dpregate);
  a.dpostgate = activation_of(p.dpostgate);
  a.k_f = (a.want_dw() || a.want_z()) ? k_f : nullptr;
  a.D = p.D.present() ? static_cast<const float*>(p.D.data) : nullptr;
  a.D_stride = p.D.present() ? p.D.strides[0] : 0;
  a.filter_partials = plan.filter ? reinterpret_cast<float2*>(ws + plan.partials_at) : nullptr;
  a.skip_partials = plan.skip ? reinterpret_cast<float*>(ws + plan.skip_at) : nullptr;

  if (s.batch > 0 && (a.load_w() || a.load_g())) {
    if (plan.execution.split) {
      const int64_t rows = s.batch * s.channels;
      fk::launch_split_backward(a, split_args(plan.execution, rows, s.log2_m, ws + plan.scratch_at),
                                split_args(plan.execution, rows, s.log2_m,
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
    if (p.dk.present()) {
      fk::FilterBackwardArgs f{};
      f.channels = s.channels;
      f.length = s.length;
      f.log2_m = s.log2_m;
      f.slots = slots_for(s.channels, s.log2_m);
      f.dk_f = dk_f;
      f.placement = placement_of(s);
      f.dk = taps_of(p.dk);
      const Execution e = filter_execution(s);
      if (e.split) {
        fk::launch_split_filter_backward(f, split_args(e, s.channels, s.log2_m, ws + plan.scratch_at), stream);
      } else {
        fk::launch_filter_backward(f, stream);
      }
    }
  }
  if (plan.skip)
    fk::launch_reduce_skip_partials(a.skip_partials, s.batch, s.channels, static_cast<float*>(p.dD.data),
                                    p.dD.strides[0], stream);
}

// ---- fft_filter -------------------------------------------------------------------------------

int64_t fft_filter_forward_workspace_bytes(const FftFilterParams& p) {
  const Shape s = fk::validate::filter_forward(p);
  return s.channels == 0 ? 0 : filter_scratch_bytes(s);
}

void fft_filter_forward(const FftFilterParams& p) {
  const Shape s = fk::validate::filter_forward(p);
  if (s.channels == 0) return;
  fk::validate::workspace(p.workspace, p.workspace_bytes, filter_scratch_bytes(s));
  run_filter_forward(s, p.k, static_cast<float2*>(p.k_f.data), p.workspace, stream_of(p.launch));
}

int64_t fft_filter_backward_workspace_bytes(const FftFilterBackwardParams& p) {
  const Shape s = fk::validate::filter_backward(p);
  return s.channels == 0 ? 0 : filter_scratch_bytes(s);
}

void fft_filter_backward(const FftFilterBackwardParams& p) {
  const Shape s = fk::validate::filter_backward(p);
  if (s.channels == 0) return;
  fk::validate::workspace(p.workspace, p.workspace_bytes, filter_scratch_bytes(s));
  fk::FilterBackwardArgs a{};
  a.channels = s.channels;
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = slots_for(s.channels, s.log2_m);
  a.dk_f = static_cast<const float2*>(p.dk_f.data);
  a.placement = placement_of(s);
  a.dk = taps_of(p.dk);
  const Execution e = filter_execution(s);
  if (e.split) {
    fk::launch_split_filter_backward(a, split_args(e, s.channels, s.log2_m, p.workspace),
                                     stream_of(p.launch));
  } else {
    fk::launch_filter_backward(a, stream_of(p.launch));
  }
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
