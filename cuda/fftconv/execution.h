// Host-side planning shared by the fftconv entry points (forward_launch.cu, backward_launch.cu,
// filter_launch.cu): which execution a transform size gets (fused blocks or the multi-kernel
// path), rows per block, workspace sizes, and params views -> kernel argument structs.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/plan.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/transform.cuh"
#include "cuda/fftconv/unit_sweep.cuh"
#include "cuda/fftconv/validate_params.h"
#include "serengeti/error.h"
#include "serengeti/launch.h"
#include "serengeti/tensor_view.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

using validate::Shape;

// Block sizes (log2 of complex points). A block transforms whole sequences up to 2^13 points
// (one buffer; 91 KB of shared memory: every GPU's 99 KB opt-in limit) in the forward ops; longer
// ones are split (plan.cuh) into rows of at most 2^12 points, two rows per block. The backward
// keeps two buffers (w and g), so each is half as large. One size more is fused where the device
// allows the shared memory (sm_90: 227 KB for the forward's 163 KB at 2^14; sm_80 and sm_90:
// 163 KB for the backward's 155 KB at 2^13): the same plan, so k_f does not change. Elsewhere the
// forward ops run 2^14 as a unit sweep (unit_sweep.cuh: one block, 87 KB), so every GPU fuses
// the forward up to N = 32768.
inline constexpr int kMaxFusedLog2 = 13;
inline constexpr int kMaxRowLog2 = 12;
inline constexpr int kMaxFusedBackwardLog2 = 12;
inline constexpr int kMaxRowBackwardLog2 = 11;
inline constexpr int kLargeDeviceExtraLog2 = 1;
// Blocks the backward aims for when it splits the batch into chunks for the filter gradient (a
// fixed number: the reduction order depends on the shape and the execution, never on timing).
inline constexpr int64_t kBackwardBlocks = 128;
// Points a block of short rows holds (several rows per block amortise the block's constants).
inline constexpr int kBlockPointsLog2 = 11;

inline cudaStream_t stream_of(const LaunchConfig& launch) { return static_cast<cudaStream_t>(launch.stream); }

// Rows per block: enough for ~2^11 points, no more than there are rows, whole 256-point tiles.
inline int slots_for(int64_t rows, int log2_m) {
  int64_t slots = log2_m >= kBlockPointsLog2 ? 1 : (int64_t(1) << (kBlockPointsLog2 - log2_m));
  if (rows < slots) slots = rows < 1 ? 1 : rows;
  return round_slots_to_tiles(int(slots), log2_m);
}

// How a transform of 2^log2_m points runs: fused (whole rows in a block) or split into outer
// passes and blocks of row pairs of at most 2^max_row_log2 points.
struct Execution {
  bool split = false;
  bool unit_sweep = false;  // fused, one unit of a 2^14-point sequence at a time (forward ops)
  int outer_stages = 0, log2_row = 0, units_per_block = 0;
};

// The opt-in shared memory per block of the current device.
inline std::size_t device_shared_limit() {
  int device = 0, bytes = 0;
  SG_CHECK_INTERNAL(cudaGetDevice(&device) == cudaSuccess, "fftconv: no current CUDA device");
  SG_CHECK_INTERNAL(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess,
                    "fftconv: cannot query the device's shared memory");
  return std::size_t(bytes);
}

// buffers x 2^log2_m points in one block fit this device.
inline bool block_fits_device(int log2_m, int buffers) {
  return make_shared_layout(buffers << log2_m, log2_m, 0).total <= device_shared_limit();
}

// buffers: 1 (forward ops) or 2 (backward).
inline Execution execution_for(int log2_m, int max_fused_log2, int max_row_log2, int buffers = 1) {
  Execution e;
  if (log2_m <= max_fused_log2) return e;
  if (log2_m <= max_fused_log2 + kLargeDeviceExtraLog2 && block_fits_device(log2_m, buffers)) return e;
  const Plan plan = make_plan(log2_m);
  e.split = true;
  e.outer_stages = outer_stages_for(log2_m, max_row_log2);
  e.log2_row = plan.log2_stride(e.outer_stages - 1);
  e.units_per_block = 1 << (max_row_log2 - e.log2_row);  // 2 rows per unit: <= 2^(max_row + 1) points
  return e;
}

// The forward ops (fftconv forward, fft_filter): the unit sweep replaces the multi-kernel path
// at 2^14 points.
inline Execution forward_execution_for(int log2_m) {
  Execution e = execution_for(log2_m, kMaxFusedLog2, kMaxRowLog2);
  if (e.split && log2_m == kSweepLog2M) {
    e = Execution{};
    e.unit_sweep = true;
  }
  return e;
}

inline SplitArgs split_args(const Execution& e, int64_t sequences, int log2_m, void* ws) {
  SplitArgs s{};
  s.sequences = sequences;
  s.log2_m = log2_m;
  s.log2_row = e.log2_row;
  s.outer_stages = e.outer_stages;
  s.units_per_block = e.units_per_block;
  s.ws = static_cast<float2*>(ws);
  return s;
}

inline int64_t align256(int64_t bytes) { return (bytes + 255) / 256 * 256; }
inline int64_t div_up_host(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Bytes of M float2 per row.
inline int64_t rows_bytes(int64_t rows, int log2_m) { return align256(rows * (int64_t(8) << log2_m)); }

inline TapPlacement placement_of(const Shape& s) {
  TapPlacement p;
  p.centre = s.bidirectional ? (s.taps - 1) / 2 : 0;
  p.lowest = -p.centre > -(s.length - 1) ? -p.centre : -(s.length - 1);
  p.highest = s.taps - 1 - p.centre < s.length - 1 ? s.taps - 1 - p.centre : s.length - 1;
  return p;
}

inline Activation activation_of(const TensorView& v) {
  if (!v.present()) return Activation{nullptr, 0, 0, 0};
  return Activation{v.data, v.strides[0], v.strides[1], v.strides[2]};
}

inline Taps taps_of(const TensorView& v) {
  return Taps{static_cast<float*>(v.data), v.strides[0], v.strides[1], v.sizes[1]};
}

// filter_launch.cu: k_f of the taps k (fused, unit sweep or multi-kernel; `scratch` holds
// filter_forward_scratch_bytes(s)), and dk from dk_f (filter_backward_scratch_bytes(s)).
Execution filter_forward_execution(const Shape& s);
Execution filter_backward_execution(const Shape& s);
int64_t filter_forward_scratch_bytes(const Shape& s);
int64_t filter_backward_scratch_bytes(const Shape& s);
void run_filter_forward(const Shape& s, const TensorView& k, float2* k_f, void* scratch, cudaStream_t stream);
void run_filter_backward(const Shape& s, const float2* dk_f, const TensorView& dk, void* scratch,
                         cudaStream_t stream);

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
