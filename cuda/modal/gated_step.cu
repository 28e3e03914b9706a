// gated_conv_step: one decode token of StripedHyena's Hyena block, fused, a thread per (b, d):
//
//   fir_r = bias + sum_{i<K-1} w[i] state[i] + w[K-1] z_r       (r = x2, x1, v; oldest input first,
//                                                                 as the recurrence sums)
//   state <- (state[1], ..., state[K-2], z_r)                    (in place, storage precision: exact)
//   w = x1 v;   s_n <- p_n s_n + w  (in place);   y = x2 (Re sum_n R_n s_n + D w)
//
// The thread owns its three FIR rows and its S modal states, so the in-place updates need no
// synchronisation; each mode's state goes through registers once.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/block_shapes.cuh"
#include "cuda/modal/complex_math.cuh"
#include "cuda/modal/gated_layout.cuh"
#include "cuda/modal/kernel_args.cuh"
#include "cuda/modal/kernel_launchers.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {
namespace {

constexpr int kStepThreads = 128;

template <class T>
__global__ void __launch_bounds__(kStepThreads) gated_step_kernel(GatedArgs a) {
  using A = Acc<T>;
  const int64_t rows = a.batch * a.channels, H = a.taps - 1;
  for (int64_t row = blockIdx.x * int64_t(kStepThreads) + threadIdx.x; row < rows;
       row += int64_t(gridDim.x) * kStepThreads) {
    // 32-bit division (validate::rows_fit): a 64-bit one is a called subroutine that made ptxas spill.
    const int64_t b = int64_t(uint32_t(row) / uint32_t(a.channels)), d = row - b * a.channels;
    int64_t channel[3];
    z_channels(a, d, channel);
    A fir[3];
#pragma unroll
    for (int role = 0; role < 3; ++role) {
      const int64_t ch = channel[role];
      const T x = static_cast<const T*>(a.z.data)[a.z.offset(b, ch, 0)];
      A acc = a.fir_bias.present() ? a.fir_bias.load<A>(ch) : A(0);
      if (H > 0) {
        T* state = static_cast<T*>(a.fir_state_in.data) + a.fir_state_in.offset(b, ch, 0);
        const int64_t stride = a.fir_state_in.stride_t;
        for (int64_t i = 0; i < H; ++i) {
          const T older = state[i * stride];
          acc += a.fir_weight.load<A>(ch, i) * widen(older);
          if (i > 0) state[(i - 1) * stride] = older;  // shift as we go: slot i was read above
        }
        state[(H - 1) * stride] = x;
      }
      fir[role] = acc + a.fir_weight.load<A>(ch, H) * widen(x);
    }
    const A w = fir[1] * fir[2];
    A out = a.skip.present() ? a.skip.load<A>(d) * w : A(0);
    for (int64_t n = 0; n < a.modes; ++n) {
      const Complex<A> p = a.poles.load<A>(0, d, n), r = a.residues.load<A>(0, d, n);
      const Complex<A> s = a.iir_state_in.load<A>(b, d, n);
      const Complex<A> next{p.re * s.re - p.im * s.im + w, p.re * s.im + p.im * s.re};
      a.iir_state_in.store(b, d, n, next);
      out += r.re * next.re - r.im * next.im;
    }
    static_cast<T*>(a.y.data)[a.y.offset(b, d, 0)] = narrow<T>(fir[0] * out);
  }
}

}  // namespace

void launch_gated_step(const GatedArgs& a, DType z_dtype, cudaStream_t stream) {
  const unsigned grid = grid_for(ceil_div(a.batch * a.channels, kStepThreads));
  with_storage_type(z_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    SG_LAUNCH(gated_step_kernel<T>, grid, kStepThreads, 0, stream)(a);
    check_launch("gated_conv_step", "gated_step_kernel");
  });
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
