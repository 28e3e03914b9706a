// modal_kernel forward and backward on the CPU (math: serengeti/modal.h):
//   h[c, t] = Re sum_n R[c,n] p[c,n]^t
//   dR[c,n] = sum_t dh[c,t] conj(p^t)               = conj(G0)
//   dp[c,n] = sum_t dh[c,t] conj(R t p^(t-1))       = conj(R G1)
// with G0 = sum_t dh p^t and G1 = sum_t dh t p^(t-1) from analyze_range (block_sweep.h).
#include <vector>

#include "cpu/modal/block_sweep.h"
#include "cpu/modal/complex_views.h"
#include "cpu/modal/modal_cpu.h"
#include "cpu/memory/output_pages.h"
#include "cpu/modal/time_split.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace modal {
namespace {

void load_channel(const TensorView& v, int64_t c, int64_t S, Complex* out) {
  for (int64_t n = 0; n < S; ++n) out[n] = load_complex2(v, c, n);
}

template <class T>
void kernel_forward(const ModalKernelParams& p) {
  const int64_t D = p.poles.sizes[0], S = p.poles.sizes[1], L = p.h.sizes[1];
  const TimeSplit split = split_time(D, L, p.launch.num_threads);
  advise_huge_pages(p.h);
  parallel_for(D * split.ranges, p.launch.num_threads, [&](int64_t task, int) {
    const int64_t c = task / split.ranges, r = task % split.ranges;
    thread_local ChannelTables<T> tables;
    thread_local std::vector<Complex> poles, residues;
    poles.resize(S);
    residues.resize(S);
    load_channel(p.poles, c, S, poles.data());
    load_channel(p.residues, c, S, residues.data());
    tables.build(poles.data(), S, /*with_q=*/false);
    Signal out{static_cast<char*>(p.h.data) + c * p.h.strides[0] * int64_t(dtype_size(p.h.dtype)),
               p.h.dtype, p.h.strides[1], L, false};
    synthesize_range(tables, residues.data(), split.begin(r), split.end(r, L), out);
  });
}

template <class T>
void kernel_backward(const ModalKernelBackwardParams& p) {
  const int64_t D = p.poles.sizes[0], S = p.poles.sizes[1], L = p.dh.sizes[1];
  const TimeSplit split = split_time(D, L, p.launch.num_threads);
  // Partial sums per (channel, range, mode), combined in range order below: deterministic.
  std::vector<Complex> g0(D * split.ranges * S), g1(D * split.ranges * S);
  parallel_for(D * split.ranges, p.launch.num_threads, [&](int64_t task, int) {
    const int64_t c = task / split.ranges, r = task % split.ranges;
    thread_local ChannelTables<T> tables;
    thread_local std::vector<Complex> poles;
    poles.resize(S);
    load_channel(p.poles, c, S, poles.data());
    tables.build(poles.data(), S, /*with_q=*/p.dpoles.present());
    Signal in{static_cast<char*>(p.dh.data) + c * p.dh.strides[0] * int64_t(dtype_size(p.dh.dtype)),
              p.dh.dtype, p.dh.strides[1], L, false};
    analyze_range(tables, in, split.begin(r), split.end(r, L), &g0[task * S],
                  p.dpoles.present() ? &g1[task * S] : nullptr);
  });
  for (int64_t c = 0; c < D; ++c)
    for (int64_t n = 0; n < S; ++n) {
      Complex sum0, sum1;
      for (int64_t r = 0; r < split.ranges; ++r) {
        sum0 = cadd(sum0, g0[(c * split.ranges + r) * S + n]);
        sum1 = cadd(sum1, g1[(c * split.ranges + r) * S + n]);
      }
      if (p.dresidues.present()) store_complex2(p.dresidues, c, n, cconj(sum0));
      if (p.dpoles.present())
        store_complex2(p.dpoles, c, n, cconj(cmul(load_complex2(p.residues, c, n), sum1)));
    }
}

}  // namespace
}  // namespace modal

void modal_kernel(const ModalKernelParams& p) {
  if (p.poles.sizes[0] == 0 || p.h.sizes[1] == 0) return;
  if (p.h.dtype == DType::kFloat64)
    modal::kernel_forward<double>(p);
  else
    modal::kernel_forward<float>(p);
}

void modal_kernel_backward(const ModalKernelBackwardParams& p) {
  if (p.poles.sizes[0] == 0) return;
  if (p.dh.dtype == DType::kFloat64)
    modal::kernel_backward<double>(p);
  else
    modal::kernel_backward<float>(p);
}

}  // namespace serengeti::cpu
