// wmma m16n16k16 against a naive float matmul, for half and bf16 inputs and every combination of
// row/col-major A, B, C and D.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "emu_test.h"
#include "kernels/test_kernels.h"

using emu_test::check;
namespace k = serengeti::emu;

namespace {

// Host-side rounding to half / bf16 bit patterns (round to nearest even), independent of CUDA.
std::uint16_t to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return std::uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}
float from_bf16(std::uint16_t b) {
  const std::uint32_t u = std::uint32_t(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
// The test values are small multiples of 1/8, exactly representable in half: convert exactly.
std::uint16_t to_half_exact(float x) {
  if (x == 0) return 0;
  const std::uint16_t sign = x < 0 ? 0x8000 : 0;
  x = std::fabs(x);
  int e;
  const float m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  const int exponent = e - 1 + 15;
  const auto mantissa = std::uint16_t(std::lround((m * 2 - 1) * 1024));
  return std::uint16_t(sign | (exponent << 10) | mantissa);
}

struct Case {
  bool a_col, b_col, c_col, d_col;
};

void run(bool bf16, const Case& cs) {
  float a[16][16], b[16][16], c[16][16];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      a[i][j] = float((i * 3 + j * 5) % 11 - 5) / 8;
      b[i][j] = float((i * 7 + j * 2) % 13 - 6) / 8;
      c[i][j] = float((i + 2 * j) % 5) - 2;
    }
  alignas(32) std::uint16_t am[256], bm[256];
  alignas(32) float cm[256], dm[256];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      const int ia = cs.a_col ? j * 16 + i : i * 16 + j;
      const int ib = cs.b_col ? j * 16 + i : i * 16 + j;
      const int ic = cs.c_col ? j * 16 + i : i * 16 + j;
      am[ia] = bf16 ? to_bf16(a[i][j]) : to_half_exact(a[i][j]);
      bm[ib] = bf16 ? to_bf16(b[i][j]) : to_half_exact(b[i][j]);
      cm[ic] = c[i][j];
    }
  if (bf16)
    k::launch_wmma_bf16(am, bm, cm, dm, cs.a_col, cs.b_col, cs.c_col, cs.d_col);
  else
    k::launch_wmma_half(am, bm, cm, dm, cs.a_col, cs.b_col, cs.c_col, cs.d_col);
  double worst = 0;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      double ref = c[i][j];
      for (int kk = 0; kk < 16; ++kk)
        ref += double(bf16 ? from_bf16(to_bf16(a[i][kk])) : a[i][kk]) *
               double(bf16 ? from_bf16(to_bf16(b[kk][j])) : b[kk][j]);
      const float got = dm[cs.d_col ? j * 16 + i : i * 16 + j];
      worst = std::fmax(worst, std::fabs(got - 2 * ref));
    }
  const std::string name = std::string(bf16 ? "bf16" : "half") + " A " + (cs.a_col ? "col" : "row") +
                           " B " + (cs.b_col ? "col" : "row") + " C " + (cs.c_col ? "col" : "row") +
                           " D " + (cs.d_col ? "col" : "row");
  check(worst < 1e-4, "wmma " + name + " (max error " + std::to_string(worst) + ")");
}

}  // namespace

int main() {
  for (bool bf16 : {false, true})
    for (int bits = 0; bits < 16; ++bits)
      run(bf16, Case{bool(bits & 1), bool(bits & 2), bool(bits & 4), bool(bits & 8)});
  return emu_test::finish();
}
