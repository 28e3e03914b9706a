// modal_state forward and backward on the CPU (math: serengeti/modal.h). Per (b, c, n):
//   s     = p^L s0 + sum_k p^(L-1-k) w[k]  = p^L s0 + G0        (G0 of w read back to front)
// and with g = dL/ds (torch's convention, dL/dRe + i dL/dIm):
//   dw[k] = Re sum_n conj(g_n) p_n^(L-1-k)                      (a modal kernel in reversed time)
//   ds0   = g conj(p^L)
//   dp    = sum_b conj(L p^(L-1) s0 + G1) g,   G1 = sum_j j w[L-1-j] p^(j-1)
// Extra memory O(B*D*S) (times the number of time ranges when rows are too few to occupy the threads).
#include <vector>

#include "cpu/modal/block_sweep.h"
#include "cpu/modal/complex_views.h"
#include "cpu/modal/modal_cpu.h"
#include "cpu/modal/time_split.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace modal {
namespace {

Signal row_signal(const TensorView& v, int64_t b, int64_t c, bool reversed) {
  char* base = static_cast<char*>(v.data) +
               (b * v.strides[0] + c * v.strides[1]) * int64_t(dtype_size(v.dtype));
  return {base, v.dtype, v.strides[2], v.sizes[2], reversed};
}

template <class T>
void state_forward(const ModalStateParams& p) {
  const int64_t B = p.w.sizes[0], D = p.w.sizes[1], L = p.w.sizes[2], S = p.poles.sizes[1];
  const TimeSplit split = split_time(B * D, L, p.launch.num_threads);
  std::vector<Complex> partial(B * D * split.ranges * S);
  parallel_for(B * D * split.ranges, p.launch.num_threads, [&](int64_t task, int) {
    const int64_t row = task / split.ranges, r = task % split.ranges;
    const int64_t b = row / D, c = row % D;
    thread_local ChannelTables<T> tables;
    thread_local std::vector<Complex> poles;
    poles.resize(S);
    for (int64_t n = 0; n < S; ++n) poles[n] = load_complex2(p.poles, c, n);
    tables.build(poles.data(), S, /*with_q=*/false);
    analyze_range(tables, row_signal(p.w, b, c, /*reversed=*/true), split.begin(r), split.end(r, L),
                  &partial[task * S], nullptr);
  });
  parallel_for(B * D, p.launch.num_threads, [&](int64_t row, int) {
    const int64_t b = row / D, c = row % D;
    for (int64_t n = 0; n < S; ++n) {
      Complex s;
      if (p.initial_state.present())
        s = cmul(exact_power(load_complex2(p.poles, c, n), L), load_complex3(p.initial_state, b, c, n));
      for (int64_t r = 0; r < split.ranges; ++r) s = cadd(s, partial[(row * split.ranges + r) * S + n]);
      store_complex3(p.state, b, c, n, s);
    }
  });
}

template <class T>
void state_backward(const ModalStateBackwardParams& p) {
  const int64_t B = p.w.sizes[0], D = p.w.sizes[1], L = p.w.sizes[2], S = p.poles.sizes[1];
  const bool need_dp = p.dpoles.present();
  const TimeSplit split = split_time(B * D, L, p.launch.num_threads);
  std::vector<Complex> g1_partial(need_dp ? B * D * split.ranges * S : 0);
  parallel_for(B * D * split.ranges, p.launch.num_threads, [&](int64_t task, int) {
    const int64_t row = task / split.ranges, r = task % split.ranges;
    const int64_t b = row / D, c = row % D;
    thread_local ChannelTables<T> tables;
    thread_local std::vector<Complex> poles, coefficients;
    poles.resize(S);
    coefficients.resize(S);
    for (int64_t n = 0; n < S; ++n) {
      poles[n] = load_complex2(p.poles, c, n);
      coefficients[n] = cconj(load_complex3(p.dstate, b, c, n));
    }
    tables.build(poles.data(), S, /*with_q=*/need_dp);
    if (p.dw.present())
      synthesize_range(tables, coefficients.data(), split.begin(r), split.end(r, L),
                       row_signal(p.dw, b, c, /*reversed=*/true));
    if (need_dp) {
      thread_local std::vector<Complex> g0;
      g0.resize(S);
      analyze_range(tables, row_signal(p.w, b, c, true), split.begin(r), split.end(r, L), g0.data(),
                    &g1_partial[task * S]);
    }
  });
  // ds0 per (b, c); dp reduced over b in increasing b (deterministic).
  for (int64_t c = 0; c < D; ++c)
    for (int64_t n = 0; n < S; ++n) {
      const Complex pole = load_complex2(p.poles, c, n);
      const Complex power_l = exact_power(pole, L);
      const Complex power_l1 = exact_power(pole, L - 1);
      Complex dp;
      for (int64_t b = 0; b < B; ++b) {
        const Complex g = load_complex3(p.dstate, b, c, n);
        if (p.dinitial_state.present()) store_complex3(p.dinitial_state, b, c, n, cmul(g, cconj(power_l)));
        if (!need_dp) continue;
        Complex derivative;  // d s / d p
        const int64_t row = b * D + c;
        for (int64_t r = 0; r < split.ranges; ++r)
          derivative = cadd(derivative, g1_partial[(row * split.ranges + r) * S + n]);
        if (p.initial_state.present())
          derivative = cadd(derivative, cscale(cmul(power_l1, load_complex3(p.initial_state, b, c, n)), double(L)));
        dp = cadd(dp, cmul(cconj(derivative), g));
      }
      if (need_dp) store_complex2(p.dpoles, c, n, dp);
    }
}

}  // namespace
}  // namespace modal

void modal_state(const ModalStateParams& p) {
  if (p.w.sizes[0] == 0 || p.w.sizes[1] == 0) return;
  if (p.w.dtype == DType::kFloat64)
    modal::state_forward<double>(p);
  else
    modal::state_forward<float>(p);
}

void modal_state_backward(const ModalStateBackwardParams& p) {
  if (p.w.sizes[1] == 0) return;
  if (p.w.dtype == DType::kFloat64)
    modal::state_backward<double>(p);
  else
    modal::state_backward<float>(p);
}

}  // namespace serengeti::cpu
