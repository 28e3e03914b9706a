// gated_conv_recurrence: the fused gated conv of gated_step.cu over a whole prompt z (B, 3D, L), a
// thread per (b, d) walking time; memory O(1) in L (nothing but the states).
//
//   fir_r[t] = bias + sum_{i<K} w[i] z_r[t - (K-1) + i]    (z_r[u < 0] = fir_state_in[u + K-1], or 0)
//   w = x1 v;   s_n[t] = p_n s_n[t-1] + w[t];   y[t] = x2[t] (Re sum_n R_n s_n[t] + D w[t])
//   fir_state_out[i] = z_r[L - (K-1) + i],    iir_state_out = s[L-1]
//
// Inputs are read straight from z (the K-1 older ones hit the cache), except for the tap counts with
// a fast path (2, 3, 4), which slide a register window. The thread's modes and modal states rest in
// shared memory ([S][6][threads]: p, R, s) between steps, so any S runs with fixed registers.
// Writing the output states in increasing i reads only slots not yet written, so fir_state_out and
// iir_state_out may alias the input states (the thread owns those rows).
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

constexpr int kRecurrenceThreads = 128;
constexpr int kModeParts = 6;  // pr, pi, rr, ri, sr, si

// z_r[u] of one role's row: the prompt for u >= 0, the incoming FIR state before it.
template <class T>
__device__ __forceinline__ Acc<T> fir_input(const GatedArgs& a, int64_t b, int64_t ch, int64_t u) {
  if (u >= 0) return widen(static_cast<const T*>(a.z.data)[a.z.offset(b, ch, u)]);
  if (a.fir_state_in.data == nullptr) return Acc<T>(0);
  return widen(static_cast<const T*>(a.fir_state_in.data)[a.fir_state_in.offset(b, ch, u + a.taps - 1)]);
}

template <class T, int kTaps>
__global__ void __launch_bounds__(kRecurrenceThreads) gated_recurrence_kernel(GatedArgs a) {
  using A = Acc<T>;
  extern __shared__ double gated_recurrence_shared[];
  constexpr int kWindow = kTaps > 0 ? kTaps : 1;
  const int nt = blockDim.x, tid = threadIdx.x;
  const int64_t S = a.modes, K = kTaps > 0 ? kTaps : a.taps, L = a.length;
  A* mode_slots = reinterpret_cast<A*>(gated_recurrence_shared) + tid;  // [S][6][nt], this thread's column
  const int64_t rows = a.batch * a.channels;
  // Every thread runs the same number of iterations (no barrier inside, so none is needed).
  for (int64_t row = blockIdx.x * int64_t(nt) + tid; row < rows; row += int64_t(gridDim.x) * nt) {
    const int64_t b = row / a.channels, d = row - b * a.channels;
    int64_t channel[3];
    z_channels(a, d, channel);
    A bias[3];
    A taps[3][kWindow], window[3][kWindow];
#pragma unroll
    for (int role = 0; role < 3; ++role) {
      bias[role] = a.fir_bias.present() ? a.fir_bias.load<A>(channel[role]) : A(0);
      if (kTaps > 0)
#pragma unroll
        for (int i = 0; i < kWindow; ++i) {
          taps[role][i] = a.fir_weight.load<A>(channel[role], i);
          // window[i] = z_r[t - (K-1) + i] at t = 0; slot K-1 is filled at each step.
          window[role][i] = i + 1 < kWindow ? fir_input<T>(a, b, channel[role], i - (K - 1)) : A(0);
        }
    }
    for (int64_t n = 0; n < S; ++n) {
      A* slot = mode_slots + kModeParts * n * nt;
      const Complex<A> p = a.poles.load<A>(0, d, n), r = a.residues.load<A>(0, d, n);
      const Complex<A> s = a.iir_state_in.present() ? a.iir_state_in.load<A>(b, d, n) : Complex<A>{A(0), A(0)};
      slot[0] = p.re;
      slot[nt] = p.im;
      slot[2 * nt] = r.re;
      slot[3 * nt] = r.im;
      slot[4 * nt] = s.re;
      slot[5 * nt] = s.im;
    }
    const A skip = a.skip.present() ? a.skip.load<A>(d) : A(0);
    T* y_row = static_cast<T*>(a.y.data) + a.y.offset(b, d, 0);
    for (int64_t t = 0; t < L; ++t) {
      A fir[3];
#pragma unroll
      for (int role = 0; role < 3; ++role) {
        A acc = bias[role];
        if (kTaps > 0) {
          window[role][kWindow - 1] = fir_input<T>(a, b, channel[role], t);
#pragma unroll
          for (int i = 0; i < kWindow; ++i) acc += taps[role][i] * window[role][i];
#pragma unroll
          for (int i = 0; i + 1 < kWindow; ++i) window[role][i] = window[role][i + 1];
        } else {
          for (int64_t i = 0; i < K; ++i)
            acc += a.fir_weight.load<A>(channel[role], i) * fir_input<T>(a, b, channel[role], t - (K - 1) + i);
        }
        fir[role] = acc;
      }
      const A w = fir[1] * fir[2];
      A out = skip * w;
      for (int64_t n = 0; n < S; ++n) {
        A* slot = mode_slots + kModeParts * n * nt;
        const A pr = slot[0], pi = slot[nt], rr = slot[2 * nt], ri = slot[3 * nt];
        const A sr = slot[4 * nt], si = slot[5 * nt];
        const A re = pr * sr - pi * si + w, im = pr * si + pi * sr;
        slot[4 * nt] = re;
        slot[5 * nt] = im;
        out += rr * re - ri * im;
      }
      y_row[t * a.y.stride_t] = narrow<T>(fir[0] * out);
    }
    if (a.fir_state_out.data != nullptr)
#pragma unroll
      for (int role = 0; role < 3; ++role) {
        T* out = static_cast<T*>(a.fir_state_out.data) + a.fir_state_out.offset(b, channel[role], 0);
        for (int64_t i = 0; i < K - 1; ++i) {
          // Stored as read (no arithmetic): states stay exact across prompt splits.
          const int64_t u = L - (K - 1) + i;
          out[i * a.fir_state_out.stride_t] =
              u >= 0 ? static_cast<const T*>(a.z.data)[a.z.offset(b, channel[role], u)]
                     : (a.fir_state_in.data != nullptr
                            ? static_cast<const T*>(a.fir_state_in.data)[a.fir_state_in.offset(b, channel[role], u + K - 1)]
                            : narrow<T>(A(0)));
        }
      }
    if (a.iir_state_out.present())
      for (int64_t n = 0; n < S; ++n) {
        const A* slot = mode_slots + kModeParts * n * nt;
        a.iir_state_out.store(b, d, n, Complex<A>{slot[4 * nt], slot[5 * nt]});
      }
  }
}

template <class A>
std::size_t per_thread_bytes(int64_t S) { return std::size_t(kModeParts * S) * sizeof(A); }

}  // namespace

int64_t recurrence_max_modes(DType z_dtype) {
  const std::size_t size = z_dtype == DType::kFloat64 ? 8 : 4;
  return int64_t(kSharedBudget / (kModeParts * size));
}

void launch_gated_recurrence(const GatedArgs& a, DType z_dtype, cudaStream_t stream) {
  with_storage_type(z_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    const int fit = threads_within_budget(per_thread_bytes<Acc<T>>(a.modes), 0, kRecurrenceThreads);
    const int threads = fit > 0 ? fit : 1;
    const std::size_t shared = threads * per_thread_bytes<Acc<T>>(a.modes);
    const unsigned grid = grid_for(ceil_div(a.batch * a.channels, threads));
    with_tap_count(static_cast<int>(a.taps), [&](auto taps_tag) {
      constexpr int kTaps = decltype(taps_tag)::value;
      SG_LAUNCH(gated_recurrence_kernel<T, kTaps>, grid, threads, shared, stream)(a);
      check_launch("gated_conv_recurrence", "gated_recurrence_kernel");
    });
  });
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
