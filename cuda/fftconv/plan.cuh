// The radix plan of the complex FFTs of Serengeti's CUDA fftconv, and where each frequency bin
// ends up. Plain host/device arithmetic (no CUDA syntax beyond the qualifiers).
//
// A complex DFT of size M = 2^m (m >= 3) is computed by decimation in frequency (DIF), in place:
//
//   stage j: radix R_j, stride s_j = M / (R_0 R_1 ... R_j);  for every block of R_j * s_j points
//            and every inner index i < s_j, the R_j points x_d = a[o R_j s_j + d s_j + i] become
//            y_c = sum_d x_d W_{R_j}^{d c}, multiplied by the twiddle W_{R_j s_j}^{i c}, stored
//            back at a[o R_j s_j + c s_j + i]            (W_n = exp(-2 pi i / n))
//
// with R_0 = 2^(m mod 4) when m is not a multiple of 4 (a small first stage done in float32 on CUDA
// cores) and R_j = 16 otherwise (16-point DFTs as tensor-core matrix products). Every radix-16
// stage then has stride >= 16 (a 16 x 16 tile has 16 consecutive columns) or 1 (rows of 16
// contiguous points), which is what the wmma tiles need.
//
// After all stages, position p = sum_j c_j s_j holds bin k = sum_j c_j P_j with P_j = R_0 ... R_{j-1}
// (mixed-radix digit reversal). Nothing ever reorders: the filter spectrum is stored in the same
// position order (k_f is opaque), the pointwise product does not care, and the inverse runs the
// stages backwards (conjugate twiddle first, then the conjugate DFT), which maps positions back
// to natural time order.
//
// Splitting: the first o stages of plan(M) can run as separate passes over global memory; what
// remains is plan(S) with S = M / (R_0 ... R_{o-1}) applied to each of the M / S rows of S points,
// and bin(row * S + q) = low(row) + (M / S) * bin_S(q). So the position order, and with it the k_f
// layout, depends on M only, never on how the work is split between kernels.
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

constexpr int kMaxStages = 6;          // M up to 2^22 = 4 * 16^5
constexpr int kMinLog2Size = 3;        // N = 16 -> M = 8
constexpr int kMaxLog2Size = 22;       // N = 2^23 (L up to 2^22)

// The plan is arithmetic (no arrays), so kernels keep it in registers: with f = log2 M mod 4,
// stage 0 has radix 2^f when f != 0, every other stage radix 16; the bin weight of stage j is the
// product of the earlier radices and its stride what is left.
struct Plan {
  int log2_size = 0;
  int first = 0;   // log2 of the small first radix, 0 when there is none
  int stages = 0;
  __host__ __device__ int log2_radix(int j) const { return (first != 0 && j == 0) ? first : 4; }
  __host__ __device__ int log2_bin_weight(int j) const {
    return first == 0 ? 4 * j : (j == 0 ? 0 : first + 4 * (j - 1));
  }
  __host__ __device__ int log2_stride(int j) const { return log2_size - log2_bin_weight(j) - log2_radix(j); }
};

__host__ __device__ inline Plan make_plan(int log2_size) {
  Plan p;
  p.log2_size = log2_size;
  p.first = log2_size % 4;
  p.stages = log2_size / 4 + (p.first != 0 ? 1 : 0);
  return p;
}

// The bin stored at position q (0 <= q < 2^log2_size).
__host__ __device__ inline int bin_of_position(const Plan& p, int q) {
  int k = 0;
  for (int j = 0; j < p.stages; ++j) {
    const int digit = (q >> p.log2_stride(j)) & ((1 << p.log2_radix(j)) - 1);
    k |= digit << p.log2_bin_weight(j);
  }
  return k;
}

// The position holding bin k.
__host__ __device__ inline int position_of_bin(const Plan& p, int k) {
  int q = 0;
  for (int j = 0; j < p.stages; ++j) {
    const int digit = (k >> p.log2_bin_weight(j)) & ((1 << p.log2_radix(j)) - 1);
    q |= digit << p.log2_stride(j);
  }
  return q;
}

// Number of leading stages of plan(M) that leave rows of at most 2^max_log2_row points, i.e. the
// global passes needed before a block can hold a row. 0 when M itself fits.
__host__ __device__ inline int outer_stages_for(int log2_size, int max_log2_row) {
  const Plan p = make_plan(log2_size);
  int o = 0;
  while (o < p.stages && (o == 0 ? log2_size : p.log2_stride(o - 1)) > max_log2_row) ++o;
  return o;
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
