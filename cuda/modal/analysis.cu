// Analysis sums of one row against its modes, and what three ops make of them:
//
//   G0[b, c, n] = sum_tau x[tau] p^tau,   G1[b, c, n] = sum_tau x[tau] tau p^(tau-1)
//   x[tau] = in[b, c, tau] (or in[b, c, L-1-tau] when reversed)
//
//   modal_kernel backward (x = dh):       dR = conj(G0),  dp = conj(R G1)
//   modal_state forward (x = w reversed):  s = p^L s0 + G0
//   modal_state backward (x = w reversed): ds0 = g conj(p^L),  dp = sum_b conj(L p^(L-1) s0 + G1) g
//                                          (g = dL/ds, torch's convention dL/dRe + i dL/dIm)
//
// A block per channel (per (b, c) for the state forward); thread i sums tau = t0 + i + j * threads
// (coalesced loads) over chunks of kSteps * threads steps. Per chunk the anchors z = p^tau and
// d = tau p^(tau-1) are exact (double), then stepped kSteps - 1 times by
//   z <- q z,  d <- q d + u z      (q = p^m, u = m p^(m-1), m = threads: d(tau+m) = q d(tau) + u z(tau))
// in A; chunk sums are added in double, and the block reduces them in a fixed tree
// (block_sum): no atomics, deterministic, and no workspace since the batch reduction of the state
// backward also stays inside the block.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/block_shapes.cuh"
#include "cuda/modal/complex_math.cuh"
#include "cuda/modal/kernel_args.cuh"
#include "cuda/modal/kernel_launchers.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {
namespace {

constexpr int kAnalysisThreads = 256;
constexpr int kSteps = 16;

// The block's G0, G1 (double) of row (b, c) and mode n, valid in thread 0.
template <class T>
__device__ __forceinline__ void analyze_row(const AnalysisArgs& a, int64_t b, int64_t c, Complex<double> pole,
                            Complex<double>& g0, Complex<double>& g1, double* scratch) {
  using A = Acc<T>;
  const int nt = blockDim.x, tid = threadIdx.x;
  const int64_t span = int64_t(nt) * kSteps, L = a.length;
  const Complex<A> q = ccast<A>(exact_power(pole, nt));
  const Complex<A> u = ccast<A>(cscale(exact_power(pole, nt - 1), double(nt)));
  const T* in = static_cast<const T*>(a.in.data);
  const int64_t base = a.in.offset(b, c, 0);
  double sums[4] = {0, 0, 0, 0};  // G0 re, im, G1 re, im
  for (int64_t first = tid; first < L; first += span) {
    Complex<A> z = ccast<A>(exact_power(pole, first));
    Complex<A> d = first == 0 ? Complex<A>{A(0), A(0)}
                              : ccast<A>(cscale(exact_power(pole, first - 1), double(first)));
    Complex<A> s0{A(0), A(0)}, s1{A(0), A(0)};
#pragma unroll
    for (int j = 0; j < kSteps; ++j) {
      const int64_t tau = first + int64_t(j) * nt;
      if (tau < L) {
        const A x = widen(in[base + (a.reversed ? L - 1 - tau : tau) * a.in.stride_t]);
        if (a.need_g0) s0 = cadd(s0, cscale(z, x));
        if (a.need_g1) s1 = cadd(s1, cscale(d, x));
      }
      if (a.need_g1) d = cadd(cmul(q, d), cmul(u, z));
      z = cmul(q, z);
    }
    sums[0] += double(s0.re);
    sums[1] += double(s0.im);
    sums[2] += double(s1.re);
    sums[3] += double(s1.im);
  }
  block_sum<4>(sums, scratch);
  g0 = {sums[0], sums[1]};
  g1 = {sums[2], sums[3]};
}

template <class T, AnalysisEpilogue kEpilogue>
__global__ void __launch_bounds__(kAnalysisThreads) analysis_kernel(AnalysisArgs a) {
  using A = Acc<T>;
  __shared__ double scratch[4 * kAnalysisThreads];
  constexpr bool kPerBatchRow = kEpilogue == AnalysisEpilogue::kStateForward;
  const int64_t tasks = a.channels * (kPerBatchRow ? a.batch : 1);
  const bool lead = threadIdx.x == 0;
  for (int64_t task = blockIdx.x; task < tasks; task += gridDim.x) {
    const int64_t c = task % a.channels;
    const int64_t b_begin = kPerBatchRow ? task / a.channels : 0;
    const int64_t b_end = kPerBatchRow ? b_begin + 1 : a.batch;
    for (int64_t n = 0; n < a.modes; ++n) {
      const Complex<double> pole = ccast<double>(a.poles.load<A>(0, c, n));
      Complex<double> g0{0, 0}, g1{0, 0};
      if (kEpilogue == AnalysisEpilogue::kKernelGrads) {
        analyze_row<T>(a, 0, c, pole, g0, g1, scratch);
        if (lead && a.dresidues.present()) a.dresidues.store(0, c, n, ccast<A>(cconj(g0)));
        if (lead && a.dpoles.present()) {
          const Complex<double> residue = ccast<double>(a.residues.load<A>(0, c, n));
          a.dpoles.store(0, c, n, ccast<A>(cconj(cmul(residue, g1))));
        }
        continue;
      }
      const Complex<double> power_l = exact_power(pole, a.length);
      Complex<double> dp{0, 0};
      for (int64_t b = b_begin; b < b_end; ++b) {
        const Complex<double> s0 = a.initial_state.present()
                                       ? ccast<double>(a.initial_state.load<A>(b, c, n))
                                       : Complex<double>{0, 0};
        if (kEpilogue == AnalysisEpilogue::kStateForward) {
          analyze_row<T>(a, b, c, pole, g0, g1, scratch);
          if (lead) a.state.store(b, c, n, ccast<A>(cadd(cmul(power_l, s0), g0)));
          continue;
        }
        // kStateGrads
        const Complex<double> g = ccast<double>(a.dstate.load<A>(b, c, n));
        if (lead && a.dinitial_state.present())
          a.dinitial_state.store(b, c, n, ccast<A>(cmul(g, cconj(power_l))));
        if (!a.dpoles.present()) continue;
        analyze_row<T>(a, b, c, pole, g0, g1, scratch);
        // ds/dp = L p^(L-1) s0 + G1
        Complex<double> derivative = g1;
        if (a.length > 0)
          derivative = cadd(derivative, cscale(cmul(exact_power(pole, a.length - 1), s0), double(a.length)));
        dp = cadd(dp, cmul(cconj(derivative), g));
      }
      if (kEpilogue == AnalysisEpilogue::kStateGrads && lead && a.dpoles.present())
        a.dpoles.store(0, c, n, ccast<A>(dp));
    }
  }
}

template <class T, AnalysisEpilogue kEpilogue>
void launch_for(const AnalysisArgs& a, cudaStream_t stream) {
  // Short rows get smaller blocks (power of two, for the reduction tree).
  int threads = kAnalysisThreads;
  while (threads > 32 && int64_t(threads / 2) * kSteps >= a.length) threads /= 2;
  const int64_t tasks = a.channels * (kEpilogue == AnalysisEpilogue::kStateForward ? a.batch : 1);
  SG_LAUNCH(analysis_kernel<T, kEpilogue>, grid_for(tasks), threads, 0, stream)(a);
  check_launch("modal", "analysis_kernel");
}

}  // namespace

void launch_analysis(const AnalysisArgs& a, AnalysisEpilogue epilogue, DType in_dtype,
                     cudaStream_t stream) {
  with_storage_type(in_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    switch (epilogue) {
      case AnalysisEpilogue::kKernelGrads:
        return launch_for<T, AnalysisEpilogue::kKernelGrads>(a, stream);
      case AnalysisEpilogue::kStateForward:
        return launch_for<T, AnalysisEpilogue::kStateForward>(a, stream);
      case AnalysisEpilogue::kStateGrads:
        return launch_for<T, AnalysisEpilogue::kStateGrads>(a, stream);
    }
  });
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
