// modal_scan forward: s[t] = p s[t-1] + w[t] (s[-1] = s0);  y[t] = Re sum_n R_n s_n[t] + D w[t].
//
// A block per row (b, c), thread k owning chunk k (scan_layout.cuh). Three phases:
//   1. chunks k < last scan from zero:          e_k = sum_{t in k} p^(end_k - 1 - t) w[t]
//   2. carry, a thread per mode, in double:     s_in[0] = s0,  s_in[k+1] = p^len s_in[k] + e_k
//      (p^len exact: the carry is as accurate for long chunks as for short ones)
//   3. every chunk scans again from s_in[k], now with the readout y; the last one writes the
//      final state.
// Shared memory: modes [4][S] (pr, pi, rr, ri), states [S][2][threads] (re, im).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/block_shapes.cuh"
#include "cuda/modal/complex_math.cuh"
#include "cuda/modal/kernel_args.cuh"
#include "cuda/modal/kernel_launchers.h"
#include "cuda/modal/scan_layout.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {
namespace {

// Runs the calling thread's chunk [begin, end) from the states in shared memory (updated); with
// kReadout, also writes y.
template <class T, bool kReadout>
__device__ __forceinline__ void scan_chunk(const ScanArgs& a, int64_t b, int64_t c, int64_t begin, int64_t end,
                           const Acc<T>* modes, Acc<T>* states, Acc<T> skip) {
  using A = Acc<T>;
  const int nt = blockDim.x, tid = threadIdx.x;
  const int64_t S = a.modes;
  const T* w_row = static_cast<const T*>(a.w.data) + a.w.offset(b, c, 0);
  T* y_row = kReadout ? static_cast<T*>(a.y.data) + a.y.offset(b, c, 0) : nullptr;
  for (int64_t t0 = begin; t0 < end; t0 += kTile) {
    const int len = end - t0 < kTile ? int(end - t0) : kTile;
    A w[kTile], y[kTile];
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      w[j] = j < len ? widen(w_row[(t0 + j) * a.w.stride_t]) : A(0);
      y[j] = skip * w[j];
    }
    for (int64_t n = 0; n < S; ++n) {
      const A pr = modes[n], pi = modes[S + n], rr = modes[2 * S + n], ri = modes[3 * S + n];
      A* slot = states + 2 * n * nt + tid;
      A sr = slot[0], si = slot[nt];
#pragma unroll
      for (int j = 0; j < kTile; ++j) {
        if (j < len) {
          const A re = pr * sr - pi * si + w[j];
          const A im = pr * si + pi * sr;
          sr = re;
          si = im;
          if (kReadout) y[j] += rr * re - ri * im;
        }
      }
      slot[0] = sr;
      slot[nt] = si;
    }
    if (kReadout)
#pragma unroll
      for (int j = 0; j < kTile; ++j)
        if (j < len) y_row[(t0 + j) * a.y.stride_t] = narrow<T>(y[j]);
  }
}

template <class T>
__global__ void __launch_bounds__(kScanMaxThreads) scan_forward_kernel(ScanArgs a) {
  using A = Acc<T>;
  extern __shared__ double scan_forward_shared[];
  const int nt = blockDim.x, tid = threadIdx.x;
  const int64_t S = a.modes, L = a.length, chunks = a.chunks;
  A* modes = reinterpret_cast<A*>(scan_forward_shared);
  A* states = modes + 4 * S;
  const int64_t rows = a.batch * a.channels;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t c = row % a.channels, b = row / a.channels;
    stage_modes(a, c, modes, S);
    const A skip = a.skip.present() ? a.skip.load<A>(c) : A(0);
    const int64_t begin = tid * a.chunk_length;
    const int64_t end = begin + a.chunk_length < L ? begin + a.chunk_length : L;
    __syncthreads();
    // 1. local end states of every chunk but the last
    if (tid + 1 < chunks) {
      for (int64_t n = 0; n < S; ++n) states[2 * n * nt + tid] = states[(2 * n + 1) * nt + tid] = A(0);
      scan_chunk<T, false>(a, b, c, begin, end, modes, states, skip);
    }
    __syncthreads();
    // 2. carry: slot k <- the state entering chunk k
    for (int64_t n = tid; n < S; n += nt) {
      const Complex<double> pole = ccast<double>(a.poles.load<A>(0, c, n));
      const Complex<double> power = exact_power(pole, a.chunk_length);
      Complex<double> s = a.initial_state.present() ? ccast<double>(a.initial_state.load<A>(b, c, n))
                                                    : Complex<double>{0, 0};
      for (int64_t k = 0; k < chunks; ++k) {
        A* slot = states + 2 * n * nt + k;
        const Complex<double> local{double(slot[0]), double(slot[nt])};
        slot[0] = A(s.re);
        slot[nt] = A(s.im);
        if (k + 1 < chunks) s = cadd(cmul(power, s), local);
      }
    }
    __syncthreads();
    // 3. the scan with readout
    if (tid < chunks) {
      scan_chunk<T, true>(a, b, c, begin, end, modes, states, skip);
      if (tid == chunks - 1 && a.final_state.present())
        for (int64_t n = 0; n < S; ++n)
          a.final_state.store(b, c, n, Complex<A>{states[2 * n * nt + tid], states[(2 * n + 1) * nt + tid]});
    }
    __syncthreads();  // the next row rewrites modes and states
  }
}

template <class T>
std::size_t bytes_per_thread(int64_t S) { return std::size_t(2 * S) * sizeof(Acc<T>); }
template <class T>
std::size_t fixed_bytes(int64_t S) { return std::size_t(4 * S) * sizeof(Acc<T>); }

}  // namespace

void launch_scan_forward(ScanArgs a, DType w_dtype, cudaStream_t stream) {
  with_storage_type(w_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    const int fit = threads_within_budget(bytes_per_thread<T>(a.modes), fixed_bytes<T>(a.modes),
                                          kScanMaxThreads);
    const int threads = trim_threads(fit, a.length) > 0 ? trim_threads(fit, a.length) : 1;
    plan_chunks(a, threads);
    const std::size_t shared = fixed_bytes<T>(a.modes) + threads * bytes_per_thread<T>(a.modes);
    SG_LAUNCH(scan_forward_kernel<T>, grid_for(a.batch * a.channels), threads, shared, stream)(a);
    check_launch("modal_scan", "scan_forward_kernel");
  });
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
