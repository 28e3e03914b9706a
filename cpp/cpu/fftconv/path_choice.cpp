#include "cpu/fftconv/path_choice.h"

#include <cstdlib>
#include <cstring>

namespace serengeti::cpu::fftconv {
namespace {

// Direct when Lk_eff <= kDirectCostRatio * log2(N). Measured on Zen 3 (AVX2, one thread, H = 64,
// forward and backward): the direct kernels run at ~90 GFLOP/s and the two paths break even near
// Lk = 96 at L = 256 (log2 N = 9), Lk = 100-150 at L = 4096 (13) and Lk = 170 at L = 32768 (16),
// i.e. ratios of 8-11. 8 keeps the FFT path (better worst case) near the boundary.
constexpr double kDirectCostRatio = 8.0;

int log2_of(int64_t power_of_two) {
  int bits = 0;
  while ((int64_t(1) << bits) < power_of_two) ++bits;
  return bits;
}

}  // namespace

ConvPath choose_conv_path(const ConvShape& shape, bool have_taps) {
  if (!have_taps || shape.bidirectional) return ConvPath::kFft;
  if (const char* forced = std::getenv("SERENGETI_FFTCONV_PATH")) {
    if (std::strcmp(forced, "direct") == 0) return ConvPath::kDirect;
    if (std::strcmp(forced, "fft") == 0) return ConvPath::kFft;
  }
  const double budget = kDirectCostRatio * log2_of(shape.fft_size);
  return double(shape.causal_taps()) <= budget ? ConvPath::kDirect : ConvPath::kFft;
}

}  // namespace serengeti::cpu::fftconv
