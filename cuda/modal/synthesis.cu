// Synthesis of a sum of modes: out[b, c, tau'] = Re sum_n a[b, c, n] p[c, n]^tau (tau' = tau, or
// L-1-tau when reversed). modal_kernel's forward (a = R) and modal_state's dw (a = conj(dstate),
// reversed time).
//
// A block per (row, chunk of kSteps * threads steps); thread i of the chunk starting at t0 owns
// tau = t0 + i + j * threads (j < kSteps), so every store is coalesced. Per mode it forms the
// anchor a p^(t0 + i) exactly in double (exact_power: no error growth with t, L = 4M is as
// accurate as L = 1), then steps by q = p^threads kSteps - 1 times in A: a chain of at most 15
// multiplications, relative error ~15 * 2^-24 in float.
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

constexpr int kSynthesisThreads = 256;
constexpr int kSteps = 16;

template <class T>
__global__ void __launch_bounds__(kSynthesisThreads) synthesis_kernel(SynthesisArgs a) {
  using A = Acc<T>;
  const int nt = blockDim.x, tid = threadIdx.x;
  const int64_t span = int64_t(nt) * kSteps;
  const int64_t chunks = (a.length + span - 1) / span;
  const int64_t tasks = a.batch * a.channels * chunks;
  for (int64_t task = blockIdx.x; task < tasks; task += gridDim.x) {
    const int64_t chunk = task % chunks, row = task / chunks;
    const int64_t c = row % a.channels, b = row / a.channels;
    const int64_t first = chunk * span + tid;
    A out[kSteps];
#pragma unroll
    for (int j = 0; j < kSteps; ++j) out[j] = A(0);
    if (first < a.length) {
      for (int64_t n = 0; n < a.modes; ++n) {
        const Complex<double> pole = ccast<double>(a.poles.load<A>(0, c, n));
        Complex<double> coefficient = ccast<double>(a.coefficients.load<A>(b, c, n));
        if (a.conjugate) coefficient = cconj(coefficient);
        Complex<A> z = ccast<A>(cmul(coefficient, exact_power(pole, first)));
        const Complex<A> step = ccast<A>(exact_power(pole, nt));
#pragma unroll
        for (int j = 0; j < kSteps; ++j) {
          out[j] += z.re;
          z = cmul(z, step);
        }
      }
    }
    T* data = static_cast<T*>(a.out.data);
#pragma unroll
    for (int j = 0; j < kSteps; ++j) {
      const int64_t tau = first + int64_t(j) * nt;
      if (tau < a.length) {
        const int64_t t = a.reversed ? a.length - 1 - tau : tau;
        data[a.out.offset(b, c, t)] = narrow<T>(out[j]);
      }
    }
  }
}

}  // namespace

void launch_synthesis(const SynthesisArgs& a, DType out_dtype, cudaStream_t stream) {
  // Short rows get smaller blocks (a warp at least) so few threads idle past the end.
  int threads = kSynthesisThreads;
  while (threads > 32 && int64_t(threads / 2) * kSteps >= a.length) threads /= 2;
  const int64_t chunks = ceil_div(a.length, int64_t(threads) * kSteps);
  const unsigned grid = grid_for(a.batch * a.channels * chunks);
  with_storage_type(out_dtype, [&](auto type_tag) {
    using T = decltype(type_tag);
    SG_LAUNCH(synthesis_kernel<T>, grid, threads, 0, stream)(a);
    check_launch("modal", "synthesis_kernel");
  });
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
