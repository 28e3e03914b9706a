// Block sweeps (block_sweep.h): tables, anchors and the loop over blocks; the per-block arithmetic
// runs in the ISA build chosen by block_kernels<T>().
#include "cpu/modal/block_sweep.h"

#include <algorithm>

namespace serengeti::cpu::modal {
namespace {

// True when `s` is forward, unit-stride storage of T itself (no conversion needed).
template <class T>
bool writes_dense(const Signal& s) {
  const DType want = sizeof(T) == sizeof(double) ? DType::kFloat64 : DType::kFloat32;
  return !s.reversed && s.stride == 1 && s.dtype == want;
}

}  // namespace

template <class T>
void ChannelTables<T>::build(const Complex* poles, int64_t S, bool with_q) {
  S_ = S;
  poles_.assign(poles, poles + S);
  steps_.resize(S);
  pr_.resize(S * kBlock);
  pi_.resize(S * kBlock);
  qr_.assign(with_q ? S * kBlock : 0, T(0));
  qi_.assign(with_q ? S * kBlock : 0, T(0));
  for (int64_t n = 0; n < S; ++n) {
    // p^tau by multiplication in double: a chain of at most kBlock steps, error ~ 64 * 2^-53.
    Complex power{1.0, 0.0}, previous{0.0, 0.0};  // p^tau and p^(tau-1) (zero for tau = 0)
    for (int64_t tau = 0; tau < kBlock; ++tau) {
      pr_[n * kBlock + tau] = T(power.re);
      pi_[n * kBlock + tau] = T(power.im);
      if (with_q) {  // Q[tau] = tau p^(tau-1)
        qr_[n * kBlock + tau] = T(double(tau) * previous.re);
        qi_[n * kBlock + tau] = T(double(tau) * previous.im);
      }
      previous = power;
      power = cmul(power, poles[n]);
    }
    // p^kBlock from the same chain (relative error ~kBlock 2^-53, ~1e-14): no transcendental calls
    // per channel, which at L = 1K cost as much as the samples themselves.
    steps_[n] = power;
  }
}

template <class T>
void synthesize_range(const ChannelTables<T>& tables, const Complex* coefficients, int64_t t_begin,
                      int64_t t_end, const Signal& out) {
  const int64_t S = tables.S();
  const Complex* poles = tables.poles();
  const Complex* steps = tables.block_steps();
  const BlockKernels<T>& kernels = block_kernels<T>();
  const BlockTables<T> view = tables.view();
  thread_local std::vector<Complex> anchors;
  anchors.resize(S);
  if (writes_dense<T>(out)) {
    // The common case (modal_kernel's fresh (D, L) output): segments of kReanchorBlocks blocks,
    // each from exact anchors, written straight into the output by the ISA kernel.
    T* data = static_cast<T*>(out.data);
    constexpr int64_t kSegment = kReanchorBlocks * kBlock;
    for (int64_t t0 = t_begin; t0 < t_end; t0 += kSegment) {
      for (int64_t n = 0; n < S; ++n) anchors[n] = cmul(coefficients[n], exact_power(poles[n], t0));
      kernels.synthesize_run(view, anchors.data(), steps, data + t0, std::min(kSegment, t_end - t0));
    }
    return;
  }
  alignas(64) T block[kBlock];
  int64_t blocks_done = 0;
  for (int64_t t0 = t_begin; t0 < t_end; t0 += kBlock, ++blocks_done) {
    if (blocks_done % kReanchorBlocks == 0)
      for (int64_t n = 0; n < S; ++n) anchors[n] = cmul(coefficients[n], exact_power(poles[n], t0));
    kernels.synthesize(view, anchors.data(), block);
    store_samples(out, t0, std::min(kBlock, t_end - t0), block);
    for (int64_t n = 0; n < S; ++n) anchors[n] = cmul(anchors[n], steps[n]);
  }
}

template <class T>
void analyze_range(const ChannelTables<T>& tables, const Signal& in, int64_t t_begin, int64_t t_end,
                   Complex* g0, Complex* g1) {
  const int64_t S = tables.S();
  const Complex* poles = tables.poles();
  const Complex* steps = tables.block_steps();
  const BlockKernels<T>& kernels = block_kernels<T>();
  const BlockTables<T> view = tables.view();
  // power[n] = p^t0 and before[n] = p^(t0-1) (unused while t0 = 0, where its weight t0 is zero).
  thread_local std::vector<Complex> power, before, sum_p, sum_q;
  power.resize(S);
  before.resize(S);
  sum_p.resize(S);
  sum_q.resize(S);
  for (int64_t n = 0; n < S; ++n) {
    g0[n] = Complex{};
    if (g1) g1[n] = Complex{};
  }
  alignas(64) T block[kBlock];
  int64_t blocks_done = 0;
  for (int64_t t0 = t_begin; t0 < t_end; t0 += kBlock, ++blocks_done) {
    // Exact anchors at the start, every kReanchorBlocks blocks, and right after t0 = 0 (where the
    // chain for p^(t0-1) has no starting value).
    if (blocks_done % kReanchorBlocks == 0 || t0 - kBlock == 0)
      for (int64_t n = 0; n < S; ++n) {
        power[n] = exact_power(poles[n], t0);
        before[n] = t0 > 0 ? exact_power(poles[n], t0 - 1) : Complex{};
      }
    const int64_t count = std::min(kBlock, t_end - t0);
    load_samples(in, t0, count, block);
    for (int64_t i = count; i < kBlock; ++i) block[i] = T(0);
    kernels.analyze(view, block, sum_p.data(), sum_q.data());
    for (int64_t n = 0; n < S; ++n) {
      // sum_tau x (t0+tau) p^(t0+tau-1) = t0 p^(t0-1) SP + p^t0 SQ
      g0[n] = cadd(g0[n], cmul(power[n], sum_p[n]));
      if (g1) g1[n] = cadd(g1[n], cadd(cscale(cmul(before[n], sum_p[n]), double(t0)), cmul(power[n], sum_q[n])));
      power[n] = cmul(power[n], steps[n]);
      before[n] = cmul(before[n], steps[n]);
    }
  }
}

template class ChannelTables<float>;
template class ChannelTables<double>;
template void synthesize_range<float>(const ChannelTables<float>&, const Complex*, int64_t, int64_t, const Signal&);
template void synthesize_range<double>(const ChannelTables<double>&, const Complex*, int64_t, int64_t, const Signal&);
template void analyze_range<float>(const ChannelTables<float>&, const Signal&, int64_t, int64_t, Complex*, Complex*);
template void analyze_range<double>(const ChannelTables<double>&, const Signal&, int64_t, int64_t, Complex*, Complex*);

}  // namespace serengeti::cpu::modal
