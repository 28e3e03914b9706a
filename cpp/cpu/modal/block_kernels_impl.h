// Body of the block kernels (block_kernels.h), included once per ISA with SERENGETI_MODAL_ISA set
// to the namespace (portable / avx2). Plain loops over the kBlock samples with fixed trip counts:
// the compiler vectorises them with the ISA of the including file (SSE2 or AVX2 + FMA).
#include "cpu/modal/block_kernels.h"

namespace serengeti::cpu::modal::SERENGETI_MODAL_ISA {

template <class T>
void synthesize_block(const BlockTables<T>& tables, const Complex* anchors, T* __restrict out) {
  // Eight samples (one AVX2 float register) at a time, all modes summed before the store, so the
  // accumulator stays in a register; the anchor is rounded once to T.
  constexpr int kVector = 8;
  for (int64_t tau0 = 0; tau0 < kBlock; tau0 += kVector) {
    T acc[kVector] = {};
    for (int64_t n = 0; n < tables.S; ++n) {
      // Re(A P) = Ar Pr - Ai Pi
      const T ar = T(anchors[n].re), ai = T(anchors[n].im);
      const T* __restrict pr = tables.pr + n * kBlock + tau0;
      const T* __restrict pi = tables.pi + n * kBlock + tau0;
      for (int l = 0; l < kVector; ++l) acc[l] += ar * pr[l] - ai * pi[l];
    }
    for (int l = 0; l < kVector; ++l) out[tau0 + l] = acc[l];
  }
}

template <class T>
void synthesize_run(const BlockTables<T>& tables, Complex* anchors, const Complex* steps, T* out,
                    int64_t count) {
  for (int64_t t0 = 0; t0 < count; t0 += kBlock) {
    if (count - t0 >= kBlock) {
      synthesize_block(tables, anchors, out + t0);
    } else {  // the ragged end: through a block buffer
      alignas(64) T block[kBlock];
      synthesize_block(tables, anchors, block);
      for (int64_t i = 0; i < count - t0; ++i) out[t0 + i] = block[i];
    }
    for (int64_t n = 0; n < tables.S; ++n) anchors[n] = cmul(anchors[n], steps[n]);
  }
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
