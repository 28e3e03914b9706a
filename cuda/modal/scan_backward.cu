// modal_scan backward as ONE reverse-time scan per mode (no stored forward states).
//
// With lambda = conj(p) and g[t] = dL/ds[t] (torch's convention), the forward s[t] = p s[t-1] + w[t],
// y[t] = Re sum_n R_n s_n[t] + D w[t] gives
//   g[t]   = H[t] + conj(R) dy[t],   H[t-1] = lambda g[t],   H[L-1] = dfinal
//   dw[t]  = D dy[t] + sum_n Re g_n[t];   ds0 = H[-1];   dD = sum_t dy[t] w[t]
//   dR     = sum_t dy[t] conj(s[t])      = sum_u w[u] a[u] + conj(s0) lambda a[0]
//   dp     = sum_t conj(s[t-1]) g[t]     = sum_u w[u] q[u] + conj(s0) (g[0] + lambda q[0])
// where a[u] = sum_{t>=u} lambda^(t-u) dy[t] and q[u] = sum_{t>u} lambda^(t-1-u) g[t] (expand s[t] =
// p^(t+1) s0 + sum_{u<=t} p^(t-u) w[u] and swap the sums). So the reverse step at t, carrying
// (H, a, Q) = (H[t], a[t+1], q[t]), is
//   g = H + conj(R) dy;  a <- dy + lambda a;  dR += w a;  dp += w Q;  Q <- g + lambda Q;  H <- lambda g
// and it ends with (H, a, Q) = (ds0, a[0], g[0] + lambda q[0]). Only reverse recurrences: nothing
// from the forward pass is stored or recomputed, and the memory is O(S) per thread.
//
// Chunking (thread k owns chunk k, scan_layout.cuh): the step is affine in (H, a, Q); across a chunk
// of m steps with dy = 0 it maps (H, a, Q) -> (Lm H, Lm a, Lm Q + m lambda^(m-1) H), Lm = lambda^m. So
//   1. chunks k > 0 run from zero state: local exits (H, a, Q)_k
//   2. carry, a thread per mode, in double from the last chunk down, entering[last] = (dfinal, 0, 0):
//      entering[k-1] = (Lm H + H_k, Lm a + a_k, Lm Q + m lambda^(m-1) H + Q_k)   (exact powers)
//   3. every chunk runs again from its entering state, accumulating dR, dp, dD and writing dw;
//      chunk 0 ends at t = 0: ds0 and the s0 terms.
// A block per channel walks every batch row, so dR, dp, dD are summed over (b, t) inside the block:
// per thread in double (a tile's terms first in A), then one fixed tree over the threads.
// Shared memory: grads [S][4][threads] double, dD [threads] double, modes [4][S], states [S][6][threads].
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

constexpr int kStateParts = 6;  // H re/im, a re/im, Q re/im
constexpr int kGradParts = 4;   // dR re/im, dp re/im

// The reverse scan of the calling thread's chunk [begin, end) from the (H, a, Q) in shared memory
// (updated). With kAccumulate, adds the chunk's dR, dp (grads) and dD terms and writes dw.
template <class T, bool kAccumulate>
__device__ __forceinline__ void reverse_chunk(const ScanArgs& a, int64_t b, int64_t c, int64_t begin, int64_t end,
                              const Acc<T>* modes, Acc<T>* states, double* grads, double& dskip_sum,
                              Acc<T> skip) {
  using A = Acc<T>;
  const int nt = blockDim.x, tid = threadIdx.x;
  const int64_t S = a.modes;
  const T* dy_row = static_cast<const T*>(a.dy.data) + a.dy.offset(b, c, 0);
  const T* w_row = kAccumulate ? static_cast<const T*>(a.w.data) + a.w.offset(b, c, 0) : nullptr;
  T* dw_row = kAccumulate && a.dw.data ? static_cast<T*>(a.dw.data) + a.dw.offset(b, c, 0) : nullptr;
  const int64_t tiles = (end - begin + kTile - 1) / kTile;
  for (int64_t i = tiles - 1; i >= 0; --i) {
    const int64_t t0 = begin + i * kTile;
    const int len = end - t0 < kTile ? int(end - t0) : kTile;
    A dy[kTile], w[kTile], dw[kTile];
    A dskip_tile = A(0);
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      dy[j] = j < len ? widen(dy_row[(t0 + j) * a.dy.stride_t]) : A(0);
      w[j] = kAccumulate && j < len ? widen(w_row[(t0 + j) * a.w.stride_t]) : A(0);
      dw[j] = skip * dy[j];
      dskip_tile += dy[j] * w[j];
    }
    for (int64_t n = 0; n < S; ++n) {
      const A pr = modes[n], pi = modes[S + n], rr = modes[2 * S + n], ri = modes[3 * S + n];
      A* slot = states + kStateParts * n * nt + tid;
      A hr = slot[0], hi = slot[nt], ar = slot[2 * nt], ai = slot[3 * nt], qr = slot[4 * nt], qi = slot[5 * nt];
      A drr = A(0), dri = A(0), dpr = A(0), dpi = A(0);
#pragma unroll
      for (int j = kTile - 1; j >= 0; --j) {
        if (j < len) {
          const A gr = hr + rr * dy[j], gi = hi - ri * dy[j];  // g = H + conj(R) dy
          const A ar_next = dy[j] + pr * ar + pi * ai;         // a <- dy + conj(p) a
          const A ai_next = pr * ai - pi * ar;
          ar = ar_next;
          ai = ai_next;
          if (kAccumulate) {
            dw[j] += gr;
            drr += w[j] * ar;
            dri += w[j] * ai;
            dpr += w[j] * qr;
            dpi += w[j] * qi;
          }
          const A qr_next = gr + pr * qr + pi * qi;  // Q <- g + conj(p) Q
          const A qi_next = gi + pr * qi - pi * qr;
          qr = qr_next;
          qi = qi_next;
          hr = pr * gr + pi * gi;  // H <- conj(p) g
          hi = pr * gi - pi * gr;
        }
      }
      slot[0] = hr;
      slot[nt] = hi;
      slot[2 * nt] = ar;
      slot[3 * nt] = ai;
      slot[4 * nt] = qr;
      slot[5 * nt] = qi;
      if (kAccumulate) {
        double* sums = grads + kGradParts * n * nt + tid;
        sums[0] += double(drr);
        sums[nt] += double(dri);
        sums[2 * nt] += double(dpr);
        sums[3 * nt] += double(dpi);
      }
    }
    if (kAccumulate) {
      dskip_sum += double(dskip_tile);
      if (dw_row)
#pragma unroll
        for (int j = 0; j < kTile; ++j)
          if (j < len) dw_row[(t0 + j) * a.dw.stride_t] = narrow<T>(dw[j]);
    }
  }
}

// Phase 2 for mode n of row (b, c): slot k <- the (H, a, Q) entering chunk k (from its end).
template <class A>
__device__ __forceinline__ void carry_mode(const ScanArgs& a, int64_t b, int64_t c, int64_t n, A* states) {
  const int nt = blockDim.x;
  const int64_t chunks = a.chunks;
  const Complex<double> lambda = cconj(ccast<double>(a.poles.load<A>(0, c, n)));
  // Chunk maps: every chunk has chunk_length steps but the last, which has last_length.
  const int64_t m = a.chunk_length, last_length = a.length - (chunks - 1) * m;
  const Complex<double> power = exact_power(lambda, m);
  const Complex<double> jordan = cscale(exact_power(lambda, m - 1), double(m));
  const Complex<double> power_last = exact_power(lambda, last_length);
  const Complex<double> jordan_last =
      last_length > 0 ? cscale(exact_power(lambda, last_length - 1), double(last_length))
                      : Complex<double>{0, 0};
  Complex<double> h = a.dfinal_state.present() ? ccast<double>(a.dfinal_state.load<A>(b, c, n))
                                               : Complex<double>{0, 0};
  Complex<double> acc{0, 0}, q{0, 0};
  for (int64_t k = chunks - 1; k >= 0; --k) {
    A* slot = states + kStateParts * n * nt + k;
    const Complex<double> h_local{double(slot[0]), double(slot[nt])};
    const Complex<double> a_local{double(slot[2 * nt]), double(slot[3 * nt])};
    const Complex<double> q_local{double(slot[4 * nt]), double(slot[5 * nt])};
    slot[0] = A(h.re);
    slot[nt] = A(h.im);
    slot[2 * nt] = A(acc.re);
    slot[3 * nt] = A(acc.im);
    slot[4 * nt] = A(q.re);
    slot[5 * nt] = A(q.im);
    if (k == 0) break;
    const bool last = k == chunks - 1;
    const Complex<double> pw = last ? power_last : power, jd = last ? jordan_last : jordan;
    q = cadd(cadd(cmul(pw, q), cmul(jd, h)), q_local);
    acc = cadd(cmul(pw, acc), a_local);
    h = cadd(cmul(pw, h), h_local);
  }
}

template <class T>
__global__ void __launch_bounds__(kScanMaxThreads) scan_backward_kernel(ScanArgs a) {
  using A = Acc<T>;
  extern __shared__ double scan_backward_shared[];
  const int nt = blockDim.x, tid = threadIdx.x;
  const int64_t S = a.modes, L = a.length, chunks = a.chunks;
  double* grads = scan_backward_shared;               // [S][4][nt]
  double* dskip_sums = grads + kGradParts * S * nt;   // [nt]
  A* modes = reinterpret_cast<A*>(dskip_sums + nt);   // [4][S]
  A* states = modes + 4 * S;                          // [S][6][nt]
  const int64_t begin = tid * a.chunk_length;
  const int64_t end = begin + a.chunk_length < L ? begin + a.chunk_length : L;
  for (int64_t c = blockIdx.x; c < a.channels; c += gridDim.x) {
    for (int64_t n = 0; n < S; ++n)
      for (int i = 0; i < kGradParts; ++i) grads[(kGradParts * n + i) * nt + tid] = 0.0;
    double dskip_sum = 0.0;
    stage_modes(a, c, modes, S);
    const A skip = a.skip.present() ? a.skip.load<A>(c) : A(0);
    __syncthreads();
    for (int64_t b = 0; b < a.batch; ++b) {
      // 1. local exits of chunks 1..last
      if (tid >= 1 && tid < chunks) {
        for (int64_t n = 0; n < S; ++n)
          for (int i = 0; i < kStateParts; ++i) states[(kStateParts * n + i) * nt + tid] = A(0);
        reverse_chunk<T, false>(a, b, c, begin, end, modes, states, grads, dskip_sum, skip);
      }
      __syncthreads();
      // 2. carries
      for (int64_t n = tid; n < S; n += nt) carry_mode<A>(a, b, c, n, states);
      __syncthreads();
      // 3. gradients
      if (tid < chunks) reverse_chunk<T, true>(a, b, c, begin, end, modes, states, grads, dskip_sum, skip);
      if (tid == 0)
        for (int64_t n = 0; n < S; ++n) {
          const A* slot = states + kStateParts * n * nt;
          const Complex<A> h{slot[0], slot[nt]};  // H[-1] = ds0
          if (a.dinitial_state.present()) a.dinitial_state.store(b, c, n, h);
          if (!a.initial_state.present()) continue;
          const Complex<double> s0c = cconj(ccast<double>(a.initial_state.load<A>(b, c, n)));
          const Complex<double> lambda{double(modes[n]), -double(modes[S + n])};
          const Complex<double> acc{double(slot[2 * nt]), double(slot[3 * nt])};
          const Complex<double> q{double(slot[4 * nt]), double(slot[5 * nt])};
          const Complex<double> dr = cmul(s0c, cmul(lambda, acc)), dp = cmul(s0c, q);
          double* sums = grads + kGradParts * n * nt;
          sums[0] += dr.re;
          sums[nt] += dr.im;
          sums[2 * nt] += dp.re;
          sums[3 * nt] += dp.im;
        }
      __syncthreads();  // the next batch row rewrites the states
    }
    // Fixed-order tree over the threads (nt is a power of two).
    dskip_sums[tid] = dskip_sum;
    __syncthreads();
    for (int half = nt / 2; half > 0; half /= 2) {
      if (tid < half) {
        for (int64_t i = 0; i < kGradParts * S; ++i) grads[i * nt + tid] += grads[i * nt + tid + half];
        dskip_sums[tid] += dskip_sums[tid + half];
      }
      __syncthreads();
    }
    if (tid == 0) {
      for (int64_t n = 0; n < S; ++n) {
        const double* sums = grads + kGradParts * n * nt;
        if (a.dresidues.present()) a.dresidues.store(0, c, n, Complex<A>{A(sums[0]), A(sums[nt])});
        if (a.dpoles.present()) a.dpoles.store(0, c, n, Complex<A>{A(sums[2 * nt]), A(sums[3 * nt])});
      }
      if (a.dskip.present()) store_as<double>(a.dskip.data, a.dskip.dtype, c * a.dskip.stride_c, dskip_sums[0]);
    }
    __syncthreads();  // the next channel rewrites grads and modes
  }
}

template <class A>
std::size_t per_thread_bytes(int64_t S) {
  return std::size_t(S) * (kStateParts * sizeof(A) + kGradParts * sizeof(double)) + sizeof(double);
}
template <class A>
std::size_t fixed_bytes(int64_t S) { return std::size_t(4 * S) * sizeof(A); }

}  // namespace

int64_t scan_max_modes(DType w_dtype) {
  const std::size_t per_mode = w_dtype == DType::kFloat64
                                   ? kStateParts * 8 + kGradParts * 8 + 4 * 8
                                   : kStateParts * 4 + kGradParts * 8 + 4 * 4;
  return int64_t((kSharedBudget - sizeof(double)) / per_mode);
}

void launch_scan_backward(ScanArgs a, DType w_dtype, cudaStream_t stream) {
  with_storage_type(w_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    using A = Acc<T>;
    const int fit = threads_within_budget(per_thread_bytes<A>(a.modes), fixed_bytes<A>(a.modes),
                                          kScanMaxThreads);
    const int threads = trim_threads(fit, a.length) > 0 ? trim_threads(fit, a.length) : 1;
    plan_chunks(a, threads);
    const std::size_t shared = fixed_bytes<A>(a.modes) + threads * per_thread_bytes<A>(a.modes);
    SG_LAUNCH(scan_backward_kernel<T>, grid_for(a.channels), threads, shared, stream)(a);
    check_launch("modal_scan_backward", "scan_backward_kernel");
  });
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
