// The two inner loops behind modal_kernel and modal_state (forward and backward), on blocks of
// kBlock consecutive samples of one channel, vectorised over the samples of the block.
//
// With a table P_n[tau] = p_n^tau (tau < kBlock) per mode, a block starting at t0 needs only the
// anchor p_n^t0 (formed in double, see block_sweep.h):
//   synthesize:  out[tau] = sum_n Re(A_n P_n[tau])              A_n = a_n p_n^t0
//   analyze:     SP_n = sum_tau x[tau] P_n[tau],  SQ_n = sum_tau x[tau] Q_n[tau],  Q_n[tau] = tau p^(tau-1)
// No long multiplication chains appear in float: every output is one product of an anchor (exact
// to rounding) and a table entry (exact to rounding), so the error does not grow with t.
//
// Built twice from block_kernels_impl.h: portable (float, double) and AVX2 (float).
#pragma once

#include <cstdint>

#include "cpu/modal/complex_math.h"

namespace serengeti::cpu::modal {

constexpr int64_t kBlock = 64;

// Tables of S modes, each kBlock entries (mode n at [n * kBlock]). qr/qi are only needed by
// analyze (the tau-weighted sums of the gradients with respect to the poles).
template <class T>
struct BlockTables {
  const T* pr;
  const T* pi;
  const T* qr;
  const T* qi;
  int64_t S;
};

template <class T>
struct BlockKernels {
  // out[tau] = sum_n Re(anchors[n] * P_n[tau]), tau < kBlock.
  void (*synthesize)(const BlockTables<T>& tables, const Complex* anchors, T* out);
  // The same for `count` consecutive samples, block after block, straight into a dense output;
  // after each block anchors[n] *= steps[n] (= p_n^kBlock, in double). The caller re-anchors.
  void (*synthesize_run)(const BlockTables<T>& tables, Complex* anchors, const Complex* steps, T* out,
                         int64_t count);
  // sum_p[n] = sum_tau x[tau] P_n[tau], sum_q[n] = sum_tau x[tau] Q_n[tau] (x has kBlock samples).
  void (*analyze)(const BlockTables<T>& tables, const T* x, Complex* sum_p, Complex* sum_q);
};

// The fastest build the CPU runs (AVX2 for float when enabled), chosen on every call.
template <class T>
const BlockKernels<T>& block_kernels();

namespace portable {
template <class T> void synthesize_block(const BlockTables<T>&, const Complex*, T*);
template <class T> void synthesize_run(const BlockTables<T>&, Complex*, const Complex*, T*, int64_t);
template <class T> void analyze_block(const BlockTables<T>&, const T*, Complex*, Complex*);
}  // namespace portable
namespace avx2 {
template <class T> void synthesize_block(const BlockTables<T>&, const Complex*, T*);
template <class T> void synthesize_run(const BlockTables<T>&, Complex*, const Complex*, T*, int64_t);
template <class T> void analyze_block(const BlockTables<T>&, const T*, Complex*, Complex*);
}  // namespace avx2

}  // namespace serengeti::cpu::modal
