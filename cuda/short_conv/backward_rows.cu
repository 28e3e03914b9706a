// Backward short conv: dx, dinitial_state and per-block partial sums of dweight / dbias, by a row
// kernel (a block per (b, c, group of chunks), any strides, vectorised when unit-stride in t); then
// reduce_weight_partials_kernel sums the partials in a fixed order. No float atomics anywhere, so
// dweight / dbias are bitwise reproducible whatever the block schedule.
//
// With pre[t] = bias + sum_k w[k] xe[t - (K-1) + k] and g[t] = dy[t] * act'(pre[t]) for 0 <= t < L
// (zero elsewhere), the chain rule through y and through final_state[i] = xe[L - (K-1) + i] gives,
// for every extended time u in [-(K-1), L):
//
//   dxe[u]   = sum_{k=0}^{K-1} w[k] * g[u + K-1 - k]  +  dfinal_state[u - (L - (K-1))]  (if u >= L-(K-1))
//   dx[u]    = dxe[u]                 for 0 <= u < L
//   dinit[j] = dxe[j - (K-1)]         for 0 <= j < K-1
//   dw[k]    = sum_{b, t} g[t] * xe[t - (K-1) + k],   dbias = sum_{b, t} g[t]
//
// A chunk [t0, t0 + 1024) needs g on [t0, t0 + 1024 + K-1) (a right halo of K-1 steps), hence pre
// there, hence xe on [t0 - (K-1), t0 + 1024 + K-1). The chunk-0 block also produces dinit, whose g
// window [0, K-1) lies in its own g tile.
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
constexpr int kRowChunk = kRowThreads * kRunLength;  // 1024 time steps per chunk
// Enough blocks to fill a large GPU; beyond that a block walks several chunks of its row, which
// keeps the partials (and the workspace) at B * C * groups * (K + 1) values.
constexpr int64_t kTargetBlocks = 1024;

// Weight/bias partial sums are "items" (column, group): column k < K is dw[k], column K is dbias;
// the block's threads split into `groups` groups per column that stride over the chunk's steps.
// columns * groups <= kRowThreads + 1, so a thread owns at most 2 items (tid and tid + 128).
struct PartialLayout {
  int columns, groups, items;
  __device__ explicit PartialLayout(int taps)
      : columns(taps + 1),
        groups(kRowThreads / (taps + 1) > 0 ? kRowThreads / (taps + 1) : 1),
        items((taps + 1) * groups) {}
};

template <class T, int kTaps, bool kSilu>
__global__ void __launch_bounds__(kRowThreads, 4) backward_rows_kernel(BackwardArgs a) {
  using A = Acc<T>;
  // x_tile[s] = xe[t0 - (K-1) + s] for s < 1024 + 2(K-1); g_tile[j] = g[t0 + j] for j < 1024 + K-1.
  __shared__ A x_tile[kRowChunk + 2 * (kMaxTaps - 1)];
  __shared__ A g_tile[kRowChunk + kMaxTaps - 1];
  __shared__ A taps_shared[kMaxTaps];
  __shared__ A item_sums[kRowThreads + 1];

  const int K = kTaps > 0 ? kTaps : a.taps;
  const int tid = threadIdx.x;
  const int64_t L = a.length;
  const int64_t chunks = L > 0 ? (L + kRowChunk - 1) / kRowChunk : 1;
  const int64_t groups_of_chunks = a.chunk_groups;
  const int64_t work_items = a.batch * a.channels * groups_of_chunks;
  const PartialLayout layout(K);
  const bool want_partials = a.partials != nullptr;

  for (int64_t work = blockIdx.x; work < work_items; work += gridDim.x) {
    const int64_t first_chunk = work % groups_of_chunks;
    const int64_t row = work / groups_of_chunks;
    const int64_t c = row % a.channels, b = row / a.channels;
    const T* x_row = static_cast<const T*>(a.x.data) + a.x.offset(b, c, 0);
    const T* state_row = a.initial_state.data == nullptr
                             ? nullptr
                             : static_cast<const T*>(a.initial_state.data) + a.initial_state.offset(b, c, 0);
    const T* dy_row = static_cast<const T*>(a.dy.data) + a.dy.offset(b, c, 0);
    const T* dfs_row = a.dfinal_state.data == nullptr
                           ? nullptr
                           : static_cast<const T*>(a.dfinal_state.data) + a.dfinal_state.offset(b, c, 0);
    // dfinal_state's contribution to dxe[u], u >= L - (K-1).
    auto final_state_grad = [&](int64_t u) -> A {
      const int64_t i = u - (L - (K - 1));
      return (dfs_row != nullptr && i >= 0 && i < K - 1) ? widen(dfs_row[i * a.dfinal_state.stride_t]) : A(0);
    };

    for (int k = tid; k < K; k += kRowThreads)
      taps_shared[k] = load_as<A>(a.weight.data, a.weight.dtype, c * a.weight.stride_c + k * a.weight.stride_k);
    const A bias = a.bias.data == nullptr ? A(0) : load_as<A>(a.bias.data, a.bias.dtype, c * a.bias.stride);
    A item_acc[2] = {A(0), A(0)};

    for (int64_t chunk = first_chunk; chunk < chunks; chunk += groups_of_chunks) {
      const int64_t t0 = chunk * kRowChunk;
      const int64_t t_run = t0 + kRunLength * tid;
      // ---- stage 1: x tile (halos both sides) and dy of the own run and the right halo.
      for (int s = tid; s < K - 1; s += kRowThreads) {
        x_tile[s] = extended_input(x_row, a.x.stride_t, state_row, a.initial_state.stride_t, K,
                                   t0 - (K - 1) + s, L);
        x_tile[K - 1 + kRowChunk + s] = extended_input(x_row, a.x.stride_t, state_row,
                                                       a.initial_state.stride_t, K, t0 + kRowChunk + s, L);
      }
      A own_x[kRunLength], own_dy[kRunLength];
      load_run(x_row, a.x.stride_t, t_run, L, own_x);
      load_run(dy_row, a.dy.stride_t, t_run, L, own_dy);
#pragma unroll
      for (int e = 0; e < kRunLength; ++e) x_tile[K - 1 + kRunLength * tid + e] = own_x[e];
      __syncthreads();  // x tile and taps complete

      // ---- stage 2: g on the own run and on the right halo (g = 0 at t >= L: dy reads as 0 there).
      // pre[t0 + j] = bias + sum_k w[k] x_tile[j + k].
      auto pre_at = [&](int j) -> A {
        A pre = bias;
#pragma unroll 4
        for (int k = 0; k < K; ++k) pre += taps_shared[k] * x_tile[j + k];
        return pre;
      };
#pragma unroll
      for (int e = 0; e < kRunLength; ++e) {
        const int j = kRunLength * tid + e;
        g_tile[j] = kSilu ? own_dy[e] * activation_slope<kSilu>(pre_at(j)) : own_dy[e];
      }
      for (int i = tid; i < K - 1; i += kRowThreads) {
        const int64_t t = t0 + kRowChunk + i;
        const A dy = t < L ? widen(dy_row[t * a.dy.stride_t]) : A(0);
        g_tile[kRowChunk + i] = kSilu ? dy * activation_slope<kSilu>(pre_at(kRowChunk + i)) : dy;
      }
      __syncthreads();  // g tile complete

      // ---- stage 3: dx of the own run: dxe[t0 + j] = sum_k w[k] g_tile[j + K-1 - k].
      if (a.dx.data != nullptr) {
        A out[kRunLength];
#pragma unroll
        for (int e = 0; e < kRunLength; ++e) out[e] = final_state_grad(t_run + e);
        const A* g_window = g_tile + kRunLength * tid + K - 1;
#pragma unroll 4
        for (int k = 0; k < K; ++k) {
          const A w = taps_shared[k];
#pragma unroll
          for (int e = 0; e < kRunLength; ++e) out[e] += w * g_window[e - k];
        }
        T* dx_row = static_cast<T*>(a.dx.data) + a.dx.offset(b, c, 0);
        store_run(dx_row, a.dx.stride_t, t_run, L, out);
      }
      // dinit[j] = dxe[u], u = j - (K-1) < 0: only g at times in [0, u + K-1] contributes.
      if (chunk == 0 && a.dinitial_state.data != nullptr) {
        T* dinit_row = static_cast<T*>(a.dinitial_state.data) + a.dinitial_state.offset(b, c, 0);
        for (int j = tid; j < K - 1; j += kRowThreads) {
          const int64_t u = j - (K - 1);
          A sum = final_state_grad(u);
          for (int k = 0; k < K; ++k) {
            const int64_t g_index = u + K - 1 - k;  // = j - k
            if (g_index >= 0) sum += taps_shared[k] * g_tile[g_index];
          }
          dinit_row[j * a.dinitial_state.stride_t] = narrow<T>(sum);
        }
      }
      // ---- stage 4: this chunk's share of the weight/bias partials, in a fixed order per item.
      if (want_partials) {
        const int valid = static_cast<int>(L - t0 < kRowChunk ? L - t0 : kRowChunk);
#pragma unroll
        for (int slot = 0; slot < 2; ++slot) {
          const int item = tid + slot * kRowThreads;
          if (item < layout.items) {
            const int column = item % layout.columns, group = item / layout.columns;
            A sum = A(0);
            if (column < K) {
              for (int j = group; j < valid; j += layout.groups) sum += g_tile[j] * x_tile[j + column];
            } else {
              for (int j = group; j < valid; j += layout.groups) sum += g_tile[j];
            }
            item_acc[slot] += sum;
          }
        }
      }
      __syncthreads();  // the next chunk overwrites the tiles
    }

    // Groups of a column summed in group order; one partial per (b, c, group of chunks, column).
    if (want_partials) {
#pragma unroll
      for (int slot = 0; slot < 2; ++slot) {
        const int item = tid + slot * kRowThreads;
        if (item < layout.items) item_sums[item] = item_acc[slot];
      }
      __syncthreads();
      A* partial_row = static_cast<A*>(a.partials) + (row * groups_of_chunks + first_chunk) * layout.columns;
      for (int column = tid; column < layout.columns; column += kRowThreads) {
        A sum = A(0);
        for (int group = 0; group < layout.groups; ++group) sum += item_sums[group * layout.columns + column];
        partial_row[column] = sum;
      }
    }
    __syncthreads();  // the next work item overwrites taps and item sums
  }
}

// dweight[c, k] = sum over b, then chunk group, of partials[b][c][group][k] (column K: dbias[c]).
template <class A>
__global__ void __launch_bounds__(256) reduce_weight_partials_kernel(BackwardArgs a, Taps2 dweight,
                                                                     Vector1 dbias) {
  const int columns = a.taps + 1;
  const int64_t outputs = a.channels * columns;
  const A* partials = static_cast<const A*>(a.partials);
  for (int64_t index = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; index < outputs;
       index += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = index / columns;
    const int column = static_cast<int>(index % columns);
    A sum = A(0);
    for (int64_t b = 0; b < a.batch; ++b)
      for (int64_t group = 0; group < a.chunk_groups; ++group)
        sum += partials[((b * a.channels + c) * a.chunk_groups + group) * columns + column];
    if (column < a.taps) {
      if (dweight.data != nullptr)
        store_as(dweight.data, dweight.dtype, c * dweight.stride_c + column * dweight.stride_k, sum);
    } else if (dbias.data != nullptr) {
      store_as(dbias.data, dbias.dtype, c * dbias.stride, sum);
    }
  }
}

}  // namespace

int64_t backward_chunk_groups(int64_t batch, int64_t channels, int64_t length) {
  const int64_t chunks = length > 0 ? ceil_div(length, kRowChunk) : 1;
  const int64_t rows = batch * channels > 0 ? batch * channels : 1;
  const int64_t wanted = ceil_div(kTargetBlocks, rows);
  return wanted < chunks ? wanted : chunks;
}

int64_t backward_partials_bytes(int64_t batch, int64_t channels, int64_t length, int taps,
                                DType x_dtype) {
  const int64_t value_bytes = x_dtype == DType::kFloat64 ? 8 : 4;
  return batch * channels * backward_chunk_groups(batch, channels, length) * (taps + 1) * value_bytes;
}

void launch_backward_rows(const BackwardArgs& a, DType x_dtype, bool silu, cudaStream_t stream) {
  const unsigned grid = grid_for(a.batch * a.channels * a.chunk_groups);
  with_storage_type(x_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    with_tap_count(a.taps, [&](auto taps_tag) {
      constexpr int kTaps = decltype(taps_tag)::value;
      with_silu_flag(silu, [&](auto silu_tag) {
        constexpr bool kSilu = decltype(silu_tag)::value;
        SG_LAUNCH(backward_rows_kernel<T, kTaps, kSilu>, grid, kRowThreads, 0, stream)(a);
        check_launch("short_conv_backward", "backward_rows_kernel");
      });
    });
  });
}

void launch_reduce_weight_partials(const BackwardArgs& a, DType x_dtype, const Taps2& dweight,
                                   const Vector1& dbias, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const unsigned grid = grid_for(ceil_div(a.channels * (a.taps + 1), kThreads));
  if (x_dtype == DType::kFloat64) {
    SG_LAUNCH(reduce_weight_partials_kernel<double>, grid, kThreads, 0, stream)(a, dweight, dbias);
  } else {
    SG_LAUNCH(reduce_weight_partials_kernel<float>, grid, kThreads, 0, stream)(a, dweight, dbias);
  }
  check_launch("short_conv_backward", "reduce_weight_partials_kernel");
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
