// One decoding step of the short conv: a thread per (b, c).
//
//   y = act(bias + w[K-1] * x + sum_{i=0}^{K-2} w[i] * state[i])     (state[i] = x_{t-(K-1)+i})
//   state <- (state[1], ..., state[K-2], x)                           (in place)
//
// The state is read completely before it is shifted, and only this thread touches its row, so the
// in-place update needs no synchronisation.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/short_conv/activation.cuh"
#include "cuda/short_conv/element_convert.cuh"
#include "cuda/short_conv/kernel_args.cuh"
#include "cuda/short_conv/kernel_launchers.h"
#include "cuda/short_conv/launch_helpers.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace short_conv_kernels {
namespace {

constexpr int kStepThreads = 128;

template <class T, bool kSilu>
__global__ void __launch_bounds__(kStepThreads, 4) step_kernel(StepArgs a) {
  using A = Acc<T>;
  const int K = a.taps;
  const int64_t rows = a.batch * a.channels;
  for (int64_t row = blockIdx.x * int64_t(kStepThreads) + threadIdx.x; row < rows;
       row += int64_t(gridDim.x) * kStepThreads) {
    const int64_t c = row % a.channels, b = row / a.channels;
    const T x = static_cast<const T*>(a.x)[b * a.x_stride_b + c * a.x_stride_c];
    const int64_t w_row = c * a.weight.stride_c;
    // Summed oldest input first, exactly as the forward kernels do, so that decoding token by
    // token reproduces the forward pass bit for bit.
    A acc = a.bias.data == nullptr ? A(0) : load_as<A>(a.bias.data, a.bias.dtype, c * a.bias.stride);
    if (K > 1) {
      T* state = static_cast<T*>(a.state.data) + a.state.offset(b, c, 0);
      const int64_t stride = a.state.stride_t;
      for (int i = 0; i < K - 1; ++i)
        acc += load_as<A>(a.weight.data, a.weight.dtype, w_row + i * a.weight.stride_k) * widen(state[i * stride]);
      // Shift left in storage precision (exact), the newest input last.
      for (int i = 0; i < K - 2; ++i) state[i * stride] = state[(i + 1) * stride];
      state[(K - 2) * stride] = x;
    }
    acc += load_as<A>(a.weight.data, a.weight.dtype, w_row + (K - 1) * a.weight.stride_k) * widen(x);
    static_cast<T*>(a.y)[b * a.y_stride_b + c * a.y_stride_c] = narrow<T>(activate<kSilu>(acc));
  }
}

}  // namespace

void launch_step(const StepArgs& a, DType x_dtype, bool silu, cudaStream_t stream) {
  const unsigned grid = grid_for(ceil_div(a.batch * a.channels, kStepThreads));
  with_storage_type(x_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    with_silu_flag(silu, [&](auto silu_tag) {
      constexpr bool kSilu = decltype(silu_tag)::value;
      SG_LAUNCH(step_kernel<T, kSilu>, grid, kStepThreads, 0, stream)(a);
      check_launch("short_conv_step", "step_kernel");
    });
  });
}

}  // namespace short_conv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
