// Forward short conv for channels-last storage (x and y with stride 1 along C, i.e. (B, L, C)
// memory): a block of 32 x 4 threads covers 32 consecutive channels and a tile of kTimeTile time
// steps. A warp reads one time step of 32 channels per load (coalesced), the whole tile plus its
// K-1 step halo goes to shared memory, and thread (lane, g) then computes channel c0 + lane at the
// kTimeTile / 4 consecutive steps of group g:
//
//   y[t, c] = act(bias[c] + sum_{k=0}^{K-1} w[c, k] * xe[t - (K-1) + k, c])
//
// Shared memory (dynamic): (kTimeTile + K - 1) * 32 values of the accumulation type, at most
// (64 + 127) * 32 * 4 = 24.4 KB for float and (32 + 127) * 32 * 8 = 40.7 KB for double: below the
// 48 KB that needs no opt-in.
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

constexpr int kTileChannels = 32;  // one warp across channels
constexpr int kTimeGroups = 4;     // warps per block, each owning a quarter of the time tile

// Time steps per tile: halved for double so the tile stays under 48 KB at K = 128.
template <class T>
constexpr int kTimeTileOf = sizeof(T) == 8 ? 32 : 64;

template <class T>
int64_t channels_last_shared_bytes(int taps) {
  return int64_t(kTimeTileOf<T> + taps - 1) * kTileChannels * int64_t(sizeof(Acc<T>));
}

template <class T, int kTaps, bool kSilu>
__global__ void __launch_bounds__(kTileChannels * kTimeGroups)
    forward_channels_last_kernel(ForwardArgs a) {
  using A = Acc<T>;
  constexpr int kTimeTile = kTimeTileOf<T>;
  constexpr int kStepsPerThread = kTimeTile / kTimeGroups;
  // tile[s * 32 + lane] = xe[t0 - (K-1) + s] of channel c0 + lane. Declared as double so the
  // buffer is 8-byte aligned for either accumulation type.
  extern __shared__ double channels_last_shared[];
  A* tile = reinterpret_cast<A*>(channels_last_shared);

  const int K = kTaps > 0 ? kTaps : a.taps;
  const int lane = threadIdx.x, group = threadIdx.y;
  const int64_t L = a.length;
  const int64_t time_tiles = L > 0 ? (L + kTimeTile - 1) / kTimeTile : 1;
  const int64_t channel_tiles = (a.channels + kTileChannels - 1) / kTileChannels;
  const int64_t items = a.batch * channel_tiles * time_tiles;

  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t time_tile_index = item % time_tiles;
    const int64_t channel_tile = (item / time_tiles) % channel_tiles;
    const int64_t b = item / (time_tiles * channel_tiles);
    const int64_t t0 = time_tile_index * kTimeTile;
    const int64_t c = channel_tile * kTileChannels + lane;
    const bool channel_valid = c < a.channels;
    const T* x_row = static_cast<const T*>(a.x.data) + a.x.offset(b, channel_valid ? c : 0, 0);
    const T* state_row = a.initial_state.data == nullptr
                             ? nullptr
                             : static_cast<const T*>(a.initial_state.data) +
                                   a.initial_state.offset(b, channel_valid ? c : 0, 0);

    for (int s = group; s < kTimeTile + K - 1; s += kTimeGroups)
      tile[s * kTileChannels + lane] =
          channel_valid ? extended_input(x_row, a.x.stride_t, state_row, a.initial_state.stride_t,
                                         K, t0 - (K - 1) + s, L)
                        : A(0);
    __syncthreads();  // the tile is complete

    if (channel_valid) {
      const A bias = a.bias.data == nullptr ? A(0) : load_as<A>(a.bias.data, a.bias.dtype, c * a.bias.stride);
      A out[kStepsPerThread];
#pragma unroll
      for (int e = 0; e < kStepsPerThread; ++e) out[e] = bias;
      const A* window = tile + group * kStepsPerThread * kTileChannels + lane;
      // Per tap one weight load (the same for all steps of the thread) and kStepsPerThread FMAs.
#pragma unroll 4
      for (int k = 0; k < K; ++k) {
        const A w = load_as<A>(a.weight.data, a.weight.dtype, c * a.weight.stride_c + k * a.weight.stride_k);
#pragma unroll
        for (int e = 0; e < kStepsPerThread; ++e) out[e] += w * window[(e + k) * kTileChannels];
      }
      T* y_row = static_cast<T*>(a.y.data) + a.y.offset(b, c, 0);
      const int64_t t_first = t0 + group * kStepsPerThread;
#pragma unroll
      for (int e = 0; e < kStepsPerThread; ++e)
        if (t_first + e < L) y_row[(t_first + e) * a.y.stride_t] = narrow<T>(activate<kSilu>(out[e]));

      // final_state[i] = xe[L - (K-1) + i] = tile row L - t0 + i, held by the last time tile.
      if (a.final_state.data != nullptr && time_tile_index == time_tiles - 1) {
        T* fs_row = static_cast<T*>(a.final_state.data) + a.final_state.offset(b, c, 0);
        for (int i = group; i < K - 1; i += kTimeGroups)
          fs_row[i * a.final_state.stride_t] = narrow<T>(tile[(L - t0 + i) * kTileChannels + lane]);
      }
    }
    __syncthreads();  // the next item overwrites the tile
  }
}

}  // namespace

void launch_forward_channels_last(const ForwardArgs& a, DType x_dtype, bool silu,
                                  cudaStream_t stream) {
  with_storage_type(x_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    constexpr int kTimeTile = kTimeTileOf<T>;
    const int64_t time_tiles = a.length > 0 ? ceil_div(a.length, kTimeTile) : 1;
    const unsigned grid = grid_for(a.batch * ceil_div(a.channels, kTileChannels) * time_tiles);
    const size_t shared_bytes = static_cast<size_t>(channels_last_shared_bytes<T>(a.taps));
    with_tap_count(a.taps, [&](auto taps_tag) {
      constexpr int kTaps = decltype(taps_tag)::value;
      with_silu_flag(silu, [&](auto silu_tag) {
        constexpr bool kSilu = decltype(silu_tag)::value;
        SG_LAUNCH(forward_channels_last_kernel<T, kTaps, kSilu>, grid, dim3(kTileChannels, kTimeGroups),
                  shared_bytes, stream)(a);
        check_launch("short_conv_forward", "forward_channels_last_kernel");
      });
    });
  });
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
