// Sweeps of one channel over a range of logical time [t_begin, t_end), block by block:
//
//   synthesize_range:  out[t] = Re sum_n a_n p_n^t
//   analyze_range:     G0_n = sum_t x[t] p_n^t,   G1_n = sum_t x[t] t p_n^(t-1)
//
// modal_kernel is synthesize (a = R), its backward analyze (dR = conj G0, dp = conj(R G1));
// modal_state is analyze of the reversed input, its backward synthesize in reversed time.
//
// Anchors p^t0 are carried in double from block to block (one multiplication by p^kBlock each) and
// replaced by the exact power every kReanchorBlocks blocks, so the double chain never exceeds
// kReanchorBlocks steps (relative drift < 1e-13) whatever L.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/modal/block_kernels.h"
#include "cpu/modal/complex_math.h"
#include "cpu/modal/signal_io.h"

namespace serengeti::cpu::modal {

constexpr int64_t kReanchorBlocks = 256;

// The block tables of one channel's S modes (P and, when asked, Q), built from exact powers.
template <class T>
class ChannelTables {
 public:
  void build(const Complex* poles, int64_t S, bool with_q);
  // Q pointers are null when built without Q (analyze then skips the tau-weighted sums).
  BlockTables<T> view() const {
    const bool q = !qr_.empty();
    return {pr_.data(), pi_.data(), q ? qr_.data() : nullptr, q ? qi_.data() : nullptr, S_};
  }
  const Complex* poles() const { return poles_.data(); }
  const Complex* block_steps() const { return steps_.data(); }  // p^kBlock per mode
  int64_t S() const { return S_; }

 private:
  std::vector<T> pr_, pi_, qr_, qi_;
  std::vector<Complex> poles_, steps_;
  int64_t S_ = 0;
};

template <class T>
void synthesize_range(const ChannelTables<T>& tables, const Complex* coefficients, int64_t t_begin,
                      int64_t t_end, const Signal& out);

// g1 may be null (then the tables may lack Q).
template <class T>
void analyze_range(const ChannelTables<T>& tables, const Signal& in, int64_t t_begin, int64_t t_end,
                   Complex* g0, Complex* g1);

}  // namespace serengeti::cpu::modal
