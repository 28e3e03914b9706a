// The emulated sincospif / sinpif / cospif: within 1 ulp of the exact value (CUDA documents 1-2
// ulp), exact at integers and half-integers, and odd/even symmetric. A naive sin(float(pi) * x)
// misses the first bound by far near x = 1 (its error is absolute, ~1e-7), which would make twiddle
// factors in emulated FFT kernels less accurate than on the GPU.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "emu_test.h"
#include "kernels/test_kernels.h"

using emu_test::check;
namespace k = serengeti::emu;

namespace {

// Distance in units in the last place of `expected` (rounded to float). The spacing is at least
// 2^-50: near the exact zeros of sin(pi x) (x an integer) the long double reference itself is only
// ~1e-19 from zero (test_exact_points checks the zeros exactly).
double ulps(float got, long double expected) {
  const float rounded = float(expected);
  const double spacing = std::max(std::ldexp(1.0, -50),
                                  double(std::nextafter(std::fabs(rounded), INFINITY)) - std::fabs(rounded));
  return double(std::fabs(static_cast<long double>(got) - expected)) / spacing;
}

void test_accuracy() {
  std::vector<float> x;
  for (int i = -4096; i <= 4096; ++i) x.push_back(float(i) / 1024.0f);  // twiddle angles 2t/N
  for (int i = 1; i < 2000; ++i) x.push_back(std::nextafter(1.0f, 0.0f) * float(i) / 999.0f);
  x.push_back(12345.5f);
  x.push_back(-3.25f);
  x.push_back(1e-30f);
  std::vector<float> out(4 * x.size(), -7.0f);
  k::launch_pi_trig(x.data(), out.data(), int(x.size()));
  constexpr long double kPi = 3.141592653589793238462643383279502884L;
  double worst = 0;
  std::string where;
  for (size_t i = 0; i < x.size(); ++i) {
    // Reference: reduce x modulo 2 exactly, then sin/cos in long double.
    const long double r = std::fmod(static_cast<long double>(x[i]), 2.0L);
    const long double s = std::sin(kPi * r), c = std::cos(kPi * r);
    for (int j = 0; j < 4; ++j) {
      const double e = ulps(out[4 * i + j], (j % 2 == 0) ? s : c);
      if (e > worst) {
        worst = e;
        where = "x=" + std::to_string(x[i]) + " output " + std::to_string(j);
      }
    }
  }
  check(worst <= 1.0, "sincospif/sinpif/cospif within 1 ulp (worst " + std::to_string(worst) +
                          " ulp at " + where + ")");
}

void test_exact_points() {
  const std::vector<float> x = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, -0.5f, -1.0f, 0.25f, 1000.0f, -7.5f};
  std::vector<float> out(4 * x.size());
  k::launch_pi_trig(x.data(), out.data(), int(x.size()));
  bool ok = true;
  for (size_t i = 0; i < x.size(); ++i) {
    const long double r = std::fmod(static_cast<long double>(x[i]), 2.0L);
    const bool quarter = x[i] == 0.25f;
    float s = 0, c = 0;
    if (!quarter) {
      const int h = int(std::lround(2 * r));  // r in half-units
      const int q = ((h % 4) + 4) % 4;
      s = q == 1 ? 1.0f : q == 3 ? -1.0f : 0.0f;
      c = q == 0 ? 1.0f : q == 2 ? -1.0f : 0.0f;
      ok &= out[4 * i] == s && out[4 * i + 1] == c && out[4 * i + 2] == s && out[4 * i + 3] == c;
    } else {
      ok &= out[4 * i] == out[4 * i + 1];  // sin(pi/4) == cos(pi/4) bit for bit
    }
  }
  check(ok, "exact sin/cos at integers and half-integers; sin == cos at 1/4");
}

}  // namespace

int main() {
  test_accuracy();
  test_exact_points();
  return emu_test::finish();
}
