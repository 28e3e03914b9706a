// The arithmetic of one gated-conv decode step (gated_step_cpu.cpp) on dense buffers, for a run of
// whole heads. Every layout is column_split with some head count (thirds: 1 head; interleave: D
// heads of one channel), so a run of heads [h0, h1) reads the contiguous z channels
// [3 P h0, 3 P h1) (P = D / heads channels per head) and writes output channels [P h0, P h1).
//
//   fir[c]  = bias[c] + taps[c][K-1] z[c] + sum_{i<K-1} taps[c][i] hist[c][i]     (every z channel)
//   hist[c] <- (hist[c][1..K-2], z[c])                                           (in place)
//   x2[d] = fir[3Ph + j],  w[d] = fir[3Ph + P + j] fir[3Ph + 2P + j]               (d = Ph + j)
//   s[d][n] <- p[d][n] s[d][n] + w[d];   y[d] = x2[d] (Re sum_n R[d][n] s[d][n] + Dskip[d] w[d])
//
// Complex arrays (p, R, s) are interleaved (re, im), mode-minor: element (d, n) at 2 (d S + n).
// The loops run over channels with the tap count K and mode count S as compile-time constants for
// the common small values, so the compiler vectorises across channels (8 float lanes with AVX2,
// de-interleaving the (re, im) and tap groups with shuffles). Built twice: portable (float,
// double) and AVX2 (float).
#pragma once

#include <cstdint>

namespace serengeti::cpu::modal {

template <class T>
struct StepRun {
  // Inputs for the run (already offset to its first z channel / first output channel).
  const T* z;          // [3 P heads]
  const T* taps;       // [3 P heads][K]
  const T* bias;       // [3 P heads] or null
  const T* poles;      // [P heads][S][2]
  const T* residues;   // [P heads][S][2]
  const T* skip;       // [P heads] or null
  T* hist;             // [3 P heads][K-1], updated in place
  T* state;            // [P heads][S][2], updated in place
  T* y;                // [P heads]
  T* fir;              // scratch [3 P heads]
  T* x2;               // scratch [P heads]
  T* w;                // scratch [P heads]
  int64_t heads;       // heads in the run
  int64_t per_head;    // P
  int64_t K, S;
};

template <class T>
using StepKernel = void (*)(const StepRun<T>& run);

// The fastest build the CPU runs (AVX2 for float when enabled), looked up once per call.
template <class T>
StepKernel<T> step_kernel();

namespace portable {
template <class T> void step_run(const StepRun<T>&);
}
namespace avx2 {
template <class T> void step_run(const StepRun<T>&);
}

}  // namespace serengeti::cpu::modal
