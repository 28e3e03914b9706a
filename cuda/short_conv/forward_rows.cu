// Forward short conv, row kernel: one block per (b, c, chunk of kRowChunk time steps); the path for
// channel-major x (stride along L == 1, vectorised) and, with element-wise loads, for any other
// strides that are not channels-last.
//
//   y[t] = act(bias + sum_{k=0}^{K-1} w[k] * xe[t - (K-1) + k])
//
// where w[k] = weight[c, k] and xe is the extended input (initial_state for t < 0, see row_io.cuh).
// Thread i owns the run t0 + 8i .. t0 + 8i + 7. It needs the K-1 inputs left of its run: they are
// the previous thread's last K-1 (or, for thread 0, the chunk's halo), handed over through shared
// memory: every thread writes its run to the tile, then one __syncthreads (a full barrier in the
// emulator too: no thread passes it before all have written), then each reads its window
// tile[8i .. 8i + 8 + K - 2].
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/short_conv/activation.cuh"
#include "cuda/short_conv/element_convert.cuh"
#include "cuda/short_conv/kernel_args.cuh"
#include "cuda/short_conv/kernel_launchers.h"
#include "cuda/short_conv/launch_helpers.cuh"
#include "cuda/short_conv/row_io.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {
namespace {

constexpr int kRowThreads = 128;
constexpr int kRowChunk = kRowThreads * kRunLength;  // 1024 time steps per block

// kTaps > 0: K known at compile time (loops unroll, taps stay in registers); 0: K = a.taps.
// Launch bounds (128 threads, 8 blocks per SM) cap registers at 64, which all variants fit without
// spilling; with the default bound ptxas picked 40 registers and spilled for <double, 2, false>.
template <class T, int kTaps, bool kSilu>
__global__ void __launch_bounds__(kRowThreads, 8) forward_rows_kernel(ForwardArgs a) {
  using A = Acc<T>;
  // tile[s] = xe[t0 - (K-1) + s]: the chunk and its K-1 step halo on the left.
  __shared__ A tile[kMaxTaps - 1 + kRowChunk];
  __shared__ A taps_shared[kMaxTaps];

  const int K = kTaps > 0 ? kTaps : a.taps;
  const int tid = threadIdx.x;
  const int64_t L = a.length;
  const int64_t chunks = L > 0 ? (L + kRowChunk - 1) / kRowChunk : 1;  // L = 0 still writes the state
  const int64_t items = a.batch * a.channels * chunks;

  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t chunk = item % chunks;
    const int64_t row = item / chunks;
    const int64_t c = row % a.channels, b = row / a.channels;
    const int64_t t0 = chunk * kRowChunk;
    const T* x_row = static_cast<const T*>(a.x.data) + a.x.offset(b, c, 0);
    const T* state_row = a.initial_state.data == nullptr
                             ? nullptr
                             : static_cast<const T*>(a.initial_state.data) + a.initial_state.offset(b, c, 0);

    for (int k = tid; k < K; k += kRowThreads)
      taps_shared[k] = load_as<A>(a.weight.data, a.weight.dtype, c * a.weight.stride_c + k * a.weight.stride_k);
    for (int s = tid; s < K - 1; s += kRowThreads)
      tile[s] = extended_input(x_row, a.x.stride_t, state_row, a.initial_state.stride_t, K,
                               t0 - (K - 1) + s, L);
    A own[kRunLength];
    load_run(x_row, a.x.stride_t, t0 + kRunLength * tid, L, own);
#pragma unroll
    for (int e = 0; e < kRunLength; ++e) tile[K - 1 + kRunLength * tid + e] = own[e];
    const A bias = a.bias.data == nullptr ? A(0) : load_as<A>(a.bias.data, a.bias.dtype, c * a.bias.stride);
    __syncthreads();  // tile and taps complete

    // out[e] = bias + sum_k w[k] * tile[8 tid + e + k]; the last K-1 window values of e are this
    // thread's own run, the first K-1 come from the left neighbour.
    A out[kRunLength];
#pragma unroll
    for (int e = 0; e < kRunLength; ++e) out[e] = bias;
    const A* window = tile + kRunLength * tid;
    if constexpr (kTaps > 0) {
#pragma unroll
      for (int k = 0; k < kTaps; ++k) {
        const A w = taps_shared[k];
#pragma unroll
        for (int e = 0; e < kRunLength; ++e) out[e] += w * window[e + k];
      }
    } else {
#pragma unroll 4
      for (int k = 0; k < K; ++k) {
        const A w = taps_shared[k];
#pragma unroll
        for (int e = 0; e < kRunLength; ++e) out[e] += w * window[e + k];
      }
    }
#pragma unroll
    for (int e = 0; e < kRunLength; ++e) out[e] = activate<kSilu>(out[e]);
    T* y_row = static_cast<T*>(a.y.data) + a.y.offset(b, c, 0);
    store_run(y_row, a.y.stride_t, t0 + kRunLength * tid, L, out);

    // final_state[i] = xe[L - (K-1) + i] = tile[L - t0 + i]: the block of the last chunk holds all
    // of it (the halo covers K-1 steps before t0, so L < K-1 reaches into initial_state).
    if (a.final_state.data != nullptr && chunk == chunks - 1) {
      T* fs_row = static_cast<T*>(a.final_state.data) + a.final_state.offset(b, c, 0);
      for (int i = tid; i < K - 1; i += kRowThreads)
        fs_row[i * a.final_state.stride_t] = narrow<T>(tile[L - t0 + i]);
    }
    __syncthreads();  // the next item overwrites tile and taps
  }
}

}  // namespace

void launch_forward_rows(const ForwardArgs& a, DType x_dtype, bool silu, cudaStream_t stream) {
  const int64_t chunks = a.length > 0 ? ceil_div(a.length, kRowChunk) : 1;
  const unsigned grid = grid_for(a.batch * a.channels * chunks);
  with_storage_type(x_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    with_tap_count(a.taps, [&](auto taps_tag) {
      constexpr int kTaps = decltype(taps_tag)::value;
      with_silu_flag(silu, [&](auto silu_tag) {
        constexpr bool kSilu = decltype(silu_tag)::value;
        SG_LAUNCH(forward_rows_kernel<T, kTaps, kSilu>, grid, kRowThreads, 0, stream)(a);
        check_launch("short_conv_forward", "forward_rows_kernel");
      });
    });
  });
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
