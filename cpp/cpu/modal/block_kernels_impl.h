// Body of the block kernels (block_kernels.h), included once per ISA with SERENGETI_MODAL_ISA set
// to the namespace (portable / avx2). Plain loops over the kBlock samples with fixed trip counts:
// the compiler vectorises them with the ISA of the including file (SSE2 or AVX2 + FMA).
#include "cpu/modal/block_kernels.h"

namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA {

template <class T>
void synthesize_block(const BlockTables<T>& tables, const Complex* anchors, T* out) {
  T acc[kBlock];
  for (int64_t tau = 0; tau < kBlock; ++tau) acc[tau] = T(0);
  for (int64_t n = 0; n < tables.S; ++n) {
    // Re(A P) = Ar Pr - Ai Pi; the anchor is rounded once to T.
    const T ar = T(anchors[n].re), ai = T(anchors[n].im);
    const T* __restrict pr = tables.pr + n * kBlock;
    const T* __restrict pi = tables.pi + n * kBlock;
    for (int64_t tau = 0; tau < kBlock; ++tau) acc[tau] += ar * pr[tau] - ai * pi[tau];
  }
  for (int64_t tau = 0; tau < kBlock; ++tau) out[tau] = acc[tau];
}

template <class T>
void analyze_block(const BlockTables<T>& tables, const T* x, Complex* sum_p, Complex* sum_q) {
  // Eight partial sums per quantity (one per lane), reduced in a fixed order: deterministic.
  constexpr int kLanes = 8;
  for (int64_t n = 0; n < tables.S; ++n) {
    const T* __restrict pr = tables.pr + n * kBlock;
    const T* __restrict pi = tables.pi + n * kBlock;
    const T* __restrict qr = tables.qr ? tables.qr + n * kBlock : nullptr;
    const T* __restrict qi = tables.qi ? tables.qi + n * kBlock : nullptr;
    T spr[kLanes] = {}, spi[kLanes] = {}, sqr[kLanes] = {}, sqi[kLanes] = {};
    if (tables.qr == nullptr) {  // G1 not needed (modal_state forward): half the work
      for (int64_t tau0 = 0; tau0 < kBlock; tau0 += kLanes)
        for (int l = 0; l < kLanes; ++l) {
          spr[l] += x[tau0 + l] * pr[tau0 + l];
          spi[l] += x[tau0 + l] * pi[tau0 + l];
        }
    } else {
    for (int64_t tau0 = 0; tau0 < kBlock; tau0 += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const T xv = x[tau0 + l];
        spr[l] += xv * pr[tau0 + l];
        spi[l] += xv * pi[tau0 + l];
        sqr[l] += xv * qr[tau0 + l];
        sqi[l] += xv * qi[tau0 + l];
      }
    }
    double a = 0, b = 0, c = 0, d = 0;
    for (int l = 0; l < kLanes; ++l) {
      a += double(spr[l]);
      b += double(spi[l]);
      c += double(sqr[l]);
      d += double(sqi[l]);
    }
    sum_p[n] = {a, b};
    sum_q[n] = {c, d};
  }
}

}  // namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA
