// Tests for cpu/fft/real_fft8.h: the 8-lane real FFT against double-precision references, on both
// the portable and the AVX2 path, in float and double. Standalone: prints "<p> passed, <f> failed"
// last and returns nonzero on any failure. Ends with timings (information, not a test).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cpu/fft/real_fft8.h"
#include "cpu/simd/cpu_features.h"

namespace {

using serengeti::cpu::fft::RealFft8;
using cd = std::complex<double>;
constexpr int L = 8;

int g_passed = 0, g_failed = 0;

// One named test: passes when every check inside it held.
void run_test(const std::string& name, const std::function<bool()>& body) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool ok = body();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[%s] %s (%.1f s)\n", ok ? "PASS" : "FAIL", name.c_str(), s);
  std::fflush(stdout);
  (ok ? g_passed : g_failed)++;
}

bool expect(bool cond, const std::string& what) {
  if (!cond) std::printf("    failed: %s\n", what.c_str());
  return cond;
}

std::string sci(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

int log2i(int64_t v) {
  int l = 0;
  while ((int64_t{1} << l) < v) ++l;
  return l;
}

// Documented packed order: bin k (1 <= k < n/2) at element bitreverse(k); 0 and n/2 in element 0.
int64_t position_of_bin(int64_t k, int64_t m) {
  const int bits = log2i(m);
  int64_t r = 0;
  for (int i = 0; i < bits; ++i) r |= ((k >> i) & 1) << (bits - 1 - i);
  return r;
}

// Bin k (0..n/2) of lane `lane` read from a packed spectrum.
template <class T>
cd spectrum_bin(const T* spec, int64_t n, int64_t k, int lane) {
  const int64_t m = n / 2;
  if (k == 0) return cd(spec[lane], 0.0);
  if (k == m) return cd(spec[8 + lane], 0.0);
  const T* e = spec + position_of_bin(k, m) * 16;
  return cd(e[lane], e[8 + lane]);
}
template <class T>
void set_spectrum_bin(T* spec, int64_t n, int64_t k, int lane, cd v) {
  const int64_t m = n / 2;
  if (k == 0) { spec[lane] = static_cast<T>(v.real()); return; }
  if (k == m) { spec[8 + lane] = static_cast<T>(v.real()); return; }
  T* e = spec + position_of_bin(k, m) * 16;
  e[lane] = static_cast<T>(v.real());
  e[8 + lane] = static_cast<T>(v.imag());
}

// exp(-2 pi i r / n) for integer r, via an exact two-level table (independent of the engine).
struct RootTable {
  int64_t n;
  int fine_bits;
  std::vector<cd> coarse, fine;
  explicit RootTable(int64_t n_) : n(n_) {
    fine_bits = (log2i(n) + 1) / 2;
    fine.resize(size_t{1} << fine_bits);
    coarse.resize(static_cast<size_t>(n >> fine_bits));
    for (size_t e = 0; e < fine.size(); ++e) fine[e] = std::polar(1.0, -2 * M_PI * double(e) / double(n));
    for (size_t h = 0; h < coarse.size(); ++h)
      coarse[h] = std::polar(1.0, -2 * M_PI * double(h << fine_bits) / double(n));
  }
  cd operator()(int64_t r) const {
    r &= (n - 1);
    return coarse[r >> fine_bits] * fine[r & ((int64_t{1} << fine_bits) - 1)];
  }
};

std::vector<double> random_signal(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> x(static_cast<size_t>(n) * L);
  for (auto& v : x) v = nd(rng);
  return x;
}

// X[k] for lane l of signal x (layout t*8+lane) restricted to t < len.
cd dft_bin(const std::vector<double>& x, int64_t len, int64_t k, int lane, const RootTable& w) {
  // long double accumulation keeps the reference's own rounding well below double's eps*log n
  long double re = 0, im = 0;
  for (int64_t t = 0; t < len; ++t) {
    const cd p = x[t * L + lane] * w(k * t);
    re += p.real();
    im += p.imag();
  }
  return cd(static_cast<double>(re), static_cast<double>(im));
}

// Relative error of the engine's spectrum vs the reference on bins `bins` (all lanes).
template <class T>
double spectrum_rel_error(const T* spec, const std::vector<double>& x, int64_t n, int64_t len,
                          const std::vector<int64_t>& bins, const RootTable& w) {
  double err = 0, ref = 0;
  for (int64_t k : bins)
    for (int l = 0; l < L; ++l) {
      const cd r = dft_bin(x, len, k, l, w);
      err += std::norm(spectrum_bin(spec, n, k, l) - r);
      ref += std::norm(r);
    }
  return std::sqrt(err / std::max(ref, 1e-300));
}

template <class T>
double eps_of() { return std::is_same<T, float>::value ? 6e-8 : 1.1e-16; }

// Accuracy bound: relative RMS error ~ eps * log2 n; the factor 3 leaves room for unlucky bins.
template <class T>
double tolerance(int64_t n) { return 3.0 * eps_of<T>() * log2i(n) + 4 * eps_of<T>(); }

std::vector<int64_t> sample_bins(int64_t n, int count, uint64_t seed) {
  std::vector<int64_t> bins = {0, 1, 2, n / 4, n / 2 - 1, n / 2};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> d(0, n / 2);
  while (static_cast<int>(bins.size()) < count) bins.push_back(d(rng));
  return bins;
}

template <class T>
std::vector<T> to_buffer(const std::vector<double>& x, int64_t len, int64_t n, T garbage) {
  std::vector<T> b(static_cast<size_t>(n) * L, garbage);  // samples >= len are garbage on purpose
  for (int64_t i = 0; i < len * L; ++i) b[i] = static_cast<T>(x[i]);
  return b;
}

std::vector<int64_t> in_len_cases(int64_t n) {
  std::vector<int64_t> c = {1, 2, 3, n / 4, n / 4 + 1, n / 2 - 1, n / 2, n / 2 + 1, 3 * n / 4 + 3, n};
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;
}

const char* path_name(bool portable) { return portable ? "portable" : "avx2"; }

// Forward vs reference for all in_len cases; full naive DFT for n <= 2^12, sampled bins beyond.
template <class T>
bool test_forward(bool portable, int64_t n_max_full, const std::vector<int>& extra_log2) {
  serengeti::cpu::set_force_portable(portable);
  bool ok = true;
  std::vector<int64_t> sizes;
  for (int64_t n = 16; n <= (int64_t{1} << 16); n *= 2) sizes.push_back(n);
  for (int l : extra_log2) sizes.push_back(int64_t{1} << l);
  std::string summary;
  for (int64_t n : sizes) {
    const auto& plan = RealFft8<T>::get(n);
    const RootTable w(n);
    const auto x = random_signal(n, 1000 + n);
    double worst = 0;
    const bool huge = n > (int64_t{1} << 16);
    std::vector<int64_t> bins;
    if (n <= n_max_full) {
      for (int64_t k = 0; k <= n / 2; ++k) bins.push_back(k);
    } else {
      bins = sample_bins(n, huge ? 8 : 24, n);
    }
    auto lens = !huge ? in_len_cases(n)
                     : n > (int64_t{1} << 22) ? std::vector<int64_t>{1, n / 2 + 1, n}
                                              : std::vector<int64_t>{1, n / 4, n / 2, n / 2 + 1, n};
    for (int64_t len : lens) {
      auto buf = to_buffer<T>(x, len, n, T(std::nan("")));
      plan.forward(buf.data(), len);
      const double e = spectrum_rel_error(buf.data(), x, n, len, bins, w);
      worst = std::max(worst, e);
      ok &= expect(e <= tolerance<T>(n), "n=" + std::to_string(n) + " in_len=" + std::to_string(len) +
                                             " rel err " + sci(e));
    }
    if (log2i(n) % 4 == 0 || log2i(n) >= 20) summary += " 2^" + std::to_string(log2i(n)) + ":" + sci(worst);
  }
  std::printf("    forward rel RMS error vs double reference, worst over in_len (%s, %s):%s\n",
              sizeof(T) == 4 ? "float" : "double", path_name(portable), summary.c_str());
  return ok;
}

// Inverse of a random Hermitian spectrum vs the direct sum, for several out_len.
template <class T>
bool test_inverse(bool portable, const std::vector<int>& extra_log2) {
  serengeti::cpu::set_force_portable(portable);
  bool ok = true;
  std::vector<int64_t> sizes;
  for (int64_t n = 16; n <= (int64_t{1} << 16); n *= 2) sizes.push_back(n);
  for (int l : extra_log2) sizes.push_back(int64_t{1} << l);
  for (int64_t n : sizes) {
    const auto& plan = RealFft8<T>::get(n);
    const RootTable w(n);
    const int64_t m = n / 2;
    // Random spectrum: bins 0 and m real.
    auto r = random_signal(n, 7 + n);  // n*8 values: plenty
    std::vector<T> spec(static_cast<size_t>(m) * 16);
    std::vector<cd> X(static_cast<size_t>(m + 1) * L);
    for (int64_t k = 0; k <= m; ++k)
      for (int l = 0; l < L; ++l) {
        cd v(r[(2 * k) % n * L + l], (k == 0 || k == m) ? 0.0 : r[(2 * k + 1) % n * L + l]);
        X[k * L + l] = cd(static_cast<T>(v.real()), static_cast<T>(v.imag()));
        set_spectrum_bin(spec.data(), n, k, l, v);
      }
    // Direct inverse at sampled (or all) t.
    std::vector<int64_t> ts;
    if (n <= 4096) {
      for (int64_t t = 0; t < n; ++t) ts.push_back(t);
    } else {
      ts = {0, 1, 2, 3, n / 4 - 1, n / 4, n / 2 - 1, n / 2, n - 1};
      std::mt19937_64 rng(n);
      for (int i = 0; i < 8; ++i) ts.push_back(std::uniform_int_distribution<int64_t>(0, n - 1)(rng));
    }
    auto direct = [&](int64_t t, int l) {
      long double s = X[l].real() + X[m * L + l].real() * ((t & 1) ? -1.0 : 1.0);
      for (int64_t k = 1; k < m; ++k) s += 2.0 * (X[k * L + l] * std::conj(w(k * t))).real();
      return static_cast<double>(s / n);
    };
    std::vector<std::vector<double>> ref(ts.size(), std::vector<double>(L));
    double ref_rms = 0;
    for (size_t i = 0; i < ts.size(); ++i)
      for (int l = 0; l < L; ++l) {
        ref[i][l] = direct(ts[i], l);
        ref_rms += ref[i][l] * ref[i][l];
      }
    const bool huge = n > (int64_t{1} << 16);
    const auto lens = huge ? std::vector<int64_t>{1, n / 2, n} : in_len_cases(n);
    for (int64_t olen : lens) {
      auto buf = spec;
      plan.inverse(buf.data(), olen);
      double err = 0, rr = 0;
      for (size_t i = 0; i < ts.size(); ++i) {
        if (ts[i] >= olen) continue;
        for (int l = 0; l < L; ++l) {
          const double d = buf[ts[i] * L + l] - ref[i][l];
          err += d * d;
          rr += ref[i][l] * ref[i][l];
        }
      }
      if (rr == 0) continue;
      const double e = std::sqrt(err / rr);
      ok &= expect(e <= tolerance<T>(n) * 2, "n=" + std::to_string(n) + " out_len=" + std::to_string(olen) +
                                                 " rel err " + sci(e));
    }
  }
  return ok;
}

// inverse(forward(x)) == x; returns worst relative RMS error, printed per n.
template <class T>
bool test_roundtrip(bool portable) {
  serengeti::cpu::set_force_portable(portable);
  bool ok = true;
  std::printf("    roundtrip rel RMS (%s, %s):", sizeof(T) == 4 ? "float" : "double", path_name(portable));
  for (int64_t n = 16; n <= (int64_t{1} << 20); n *= 2) {
    const auto& plan = RealFft8<T>::get(n);
    const auto x = random_signal(n, 99 + n);
    for (int64_t len : {n / 2, n}) {
      auto buf = to_buffer<T>(x, len, n, T(1e30));
      plan.forward(buf.data(), len);
      plan.inverse(buf.data(), n);
      double err = 0, ref = 0;
      for (int64_t i = 0; i < n * L; ++i) {
        const double r = i < len * L ? x[i] : 0.0;
        err += (buf[i] - r) * (buf[i] - r);
        ref += r * r;
      }
      const double e = std::sqrt(err / ref);
      if (len == n && (log2i(n) % 4 == 0)) std::printf(" 2^%d:%.2g", log2i(n), e);
      ok &= expect(e <= tolerance<T>(n), "n=" + std::to_string(n) + " len=" + std::to_string(len) +
                                             " roundtrip " + sci(e));
    }
  }
  std::printf("\n");
  return ok;
}

// Circular convolution / correlation / accumulation through multiply() vs direct sums.
template <class T>
bool test_multiply(bool portable) {
  serengeti::cpu::set_force_portable(portable);
  bool ok = true;
  for (int64_t n : {16, 32, 64, 256, 1024, 8192, 32768}) {
    const auto& plan = RealFft8<T>::get(n);
    const auto a = random_signal(n, 5 + n), b = random_signal(n, 6 + n), c = random_signal(n, 8 + n);
    auto fa = to_buffer<T>(a, n, n, T(0)), fb = to_buffer<T>(b, n, n, T(0)), fc = to_buffer<T>(c, n, n, T(0));
    plan.forward(fa.data(), n);
    plan.forward(fb.data(), n);
    plan.forward(fc.data(), n);
    std::vector<T> conv(fa.size()), corr(fa.size()), acc = fc;
    plan.multiply(conv.data(), fa.data(), fb.data(), false, false);
    plan.multiply(corr.data(), fa.data(), fb.data(), true, false);
    plan.multiply(acc.data(), fa.data(), fb.data(), false, true);  // acc = fc + fa*fb
    plan.inverse(conv.data(), n);
    plan.inverse(corr.data(), n);
    plan.inverse(acc.data(), n);
    std::vector<int64_t> ts;
    for (int64_t t = 0; t < n; t += std::max<int64_t>(1, n / 64)) ts.push_back(t);
    ts.push_back(n - 1);
    double e1 = 0, e2 = 0, e3 = 0, r1 = 0, r2 = 0;
    for (int64_t t : ts)
      for (int l = 0; l < L; ++l) {
        double s_conv = 0, s_corr = 0;
        for (int64_t u = 0; u < n; ++u) {
          s_conv += a[u * L + l] * b[((t - u) & (n - 1)) * L + l];
          s_corr += a[((t + u) & (n - 1)) * L + l] * b[u * L + l];  // sum_u a[t+u] b[u]
        }
        e1 += std::pow(conv[t * L + l] - s_conv, 2);
        e2 += std::pow(corr[t * L + l] - s_corr, 2);
        e3 += std::pow(acc[t * L + l] - (s_conv + c[t * L + l]), 2);
        r1 += s_conv * s_conv;
        r2 += s_corr * s_corr;
      }
    const double tol = 3 * tolerance<T>(n);
    ok &= expect(std::sqrt(e1 / r1) <= tol, "conv n=" + std::to_string(n) + " " + std::to_string(std::sqrt(e1 / r1)));
    ok &= expect(std::sqrt(e2 / r2) <= tol, "corr n=" + std::to_string(n) + " " + std::to_string(std::sqrt(e2 / r2)));
    ok &= expect(std::sqrt(e3 / r1) <= tol, "accumulate n=" + std::to_string(n) + " " + std::to_string(std::sqrt(e3 / r1)));
    // Aliasing: dst == a.
    auto alias = fa;
    plan.multiply(alias.data(), alias.data(), fb.data(), false, false);
    std::vector<T> fresh(fa.size());
    plan.multiply(fresh.data(), fa.data(), fb.data(), false, false);
    ok &= expect(alias == fresh, "multiply with dst aliasing a");
  }
  return ok;
}

// convolve() == inverse(multiply(forward(x), K)) on outputs < out_len, for plain and four-step sizes.
template <class T>
bool test_convolve(bool portable) {
  serengeti::cpu::set_force_portable(portable);
  bool ok = true;
  std::vector<int64_t> sizes;
  for (int64_t n = 16; n <= (int64_t{1} << 17); n *= 2) sizes.push_back(n);
  sizes.push_back(int64_t{1} << 20);
  for (int64_t n : sizes) {
    const auto& plan = RealFft8<T>::get(n);
    const auto x = random_signal(n, 51 + n), k = random_signal(n, 52 + n);
    auto kf = to_buffer<T>(k, n, n, T(0));
    plan.forward(kf.data(), n);
    for (bool conj : {false, true})
      for (auto lens : {std::make_pair(n, n), std::make_pair(n / 2, n / 2), std::make_pair(n / 2 + 1, n / 4 + 3)}) {
        auto ref = to_buffer<T>(x, lens.first, n, T(0));
        plan.forward(ref.data(), lens.first);
        plan.multiply(ref.data(), ref.data(), kf.data(), conj, false);
        plan.inverse(ref.data(), lens.second);
        auto got = to_buffer<T>(x, lens.first, n, T(std::nan("")));
        plan.convolve(got.data(), kf.data(), lens.first, lens.second, conj);
        double err = 0, rr = 0;
        for (int64_t i = 0; i < lens.second * L; ++i) {
          err += std::pow(double(got[i]) - double(ref[i]), 2);
          rr += double(ref[i]) * double(ref[i]);
        }
        const double e = std::sqrt(err / rr);
        ok &= expect(e <= tolerance<T>(n), "convolve n=" + std::to_string(n) + " conj=" + std::to_string(conj) +
                                               " in_len=" + std::to_string(lens.first) + " out_len=" +
                                               std::to_string(lens.second) + " rel err " + sci(e));
      }
  }
  return ok;
}

// dL/dK via to_gradient vs finite differences, L(K) = <g, inverse(K*W)>; and the adjoint identity
// <forward(x), dK> = <x, inverse(from_gradient(dK))> (dot over the stored values).
bool test_gradient_identities(bool portable) {
  serengeti::cpu::set_force_portable(portable);
  bool ok = true;
  for (int64_t n : {16, 32, 128}) {
    const auto& plan = RealFft8<double>::get(n);
    const int64_t vals = n * L;  // spectrum values = m * 16 = n * 8
    const auto kx = random_signal(n, 1), wx = random_signal(n, 2), g = random_signal(n, 3);
    auto K = to_buffer<double>(kx, n, n, 0.0), W = to_buffer<double>(wx, n, n, 0.0);
    plan.forward(K.data(), n);
    plan.forward(W.data(), n);
    auto loss = [&](const std::vector<double>& kk) {
      std::vector<double> y(static_cast<size_t>(vals));
      plan.multiply(y.data(), kk.data(), W.data(), false, false);
      plan.inverse(y.data(), n);
      double s = 0;
      for (int64_t i = 0; i < vals; ++i) s += g[i] * y[i];
      return s;
    };
    auto G = g;
    plan.forward(G.data(), n);
    std::vector<double> dK(static_cast<size_t>(vals));
    plan.multiply(dK.data(), G.data(), W.data(), true, false);
    plan.to_gradient(dK.data());
    double max_err = 0, max_ref = 0;
    const double h = 1e-4;  // L is linear in K, so central differences are exact up to rounding
    for (int64_t i = 0; i < vals; ++i) {
      auto kp = K, km = K;
      kp[i] += h;
      km[i] -= h;
      const double fd = (loss(kp) - loss(km)) / (2 * h);
      max_err = std::max(max_err, std::fabs(fd - dK[i]));
      max_ref = std::max(max_ref, std::fabs(fd));
    }
    ok &= expect(max_err <= 1e-8 * max_ref, "to_gradient n=" + std::to_string(n) + " err " + std::to_string(max_err));

    // Adjoint of forward.
    const auto x = random_signal(n, 4), dk = random_signal(n, 5);
    auto fx = x;
    plan.forward(fx.data(), n);
    double lhs = 0;
    for (int64_t i = 0; i < vals; ++i) lhs += fx[i] * dk[i];
    auto adj = dk;
    plan.from_gradient(adj.data());
    plan.inverse(adj.data(), n);
    double rhs = 0;
    for (int64_t i = 0; i < vals; ++i) rhs += x[i] * adj[i];
    ok &= expect(std::fabs(lhs - rhs) <= 1e-10 * (std::fabs(lhs) + 1), "adjoint forward n=" + std::to_string(n));
    // from_gradient undoes to_gradient.
    auto s = dk;
    plan.to_gradient(s.data());
    plan.from_gradient(s.data());
    double d = 0;
    for (int64_t i = 0; i < vals; ++i) d = std::max(d, std::fabs(s[i] - dk[i]));
    ok &= expect(d <= 1e-13, "from_gradient(to_gradient(x)) == x");
  }
  return ok;
}

// The two paths agree to within float rounding (and the plan is shared between them).
template <class T>
bool test_paths_agree() {
  if (!serengeti::cpu::cpu_supports_avx2_fma()) return true;
  bool ok = true;
  for (int64_t n : {16, 64, 8192, 65536}) {
    const auto& plan = RealFft8<T>::get(n);
    const auto x = random_signal(n, 31 + n);
    for (int64_t len : {n / 2, n}) {
      auto a = to_buffer<T>(x, len, n, T(0)), b = a;
      serengeti::cpu::set_force_portable(true);
      plan.forward(a.data(), len);
      serengeti::cpu::set_force_portable(false);
      plan.forward(b.data(), len);
      double err = 0, ref = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        err += std::pow(double(a[i]) - double(b[i]), 2);
        ref += double(a[i]) * double(a[i]);
      }
      ok &= expect(std::sqrt(err / ref) <= tolerance<T>(n), "paths differ n=" + std::to_string(n));
    }
  }
  return ok;
}

bool test_plan_cache_and_errors() {
  bool ok = true;
  std::vector<const void*> seen(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&, i] { seen[i] = &RealFft8<float>::get(1 << 14); });
  for (auto& t : threads) t.join();
  for (int i = 1; i < 4; ++i) ok &= expect(seen[i] == seen[0], "one plan per n across threads");
  ok &= expect(RealFft8<float>::get(4096).size() == 4096, "size()");
  ok &= expect(RealFft8<float>::get(4096).spectrum_elems() == 2048, "spectrum_elems()");
  for (int64_t bad : std::initializer_list<int64_t>{0, 8, 100, int64_t{1} << 25}) {
    bool threw = false;
    try {
      RealFft8<double>::get(bad);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    ok &= expect(threw, "get(" + std::to_string(bad) + ") throws");
  }
  return ok;
}

// ---- timing (information only) ----
// Forward and inverse alternate on one buffer (values stay bounded); min and median of wall time.
// The machine is shared and noisy: the min is the better estimate of the code's speed.
struct Timing {
  double min_us, median_us;
};

Timing summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2]};
}

template <class T>
void print_timings(int64_t n, bool portable, int reps) {
  serengeti::cpu::set_force_portable(portable);
  const auto& plan = RealFft8<T>::get(n);
  auto buf = to_buffer<T>(random_signal(n, 3), n, n, T(0));
  auto run = [&](int64_t in_len, int64_t out_len) {
    std::vector<double> f, i;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      plan.forward(buf.data(), in_len);
      const auto t1 = std::chrono::steady_clock::now();
      plan.inverse(buf.data(), out_len);
      const auto t2 = std::chrono::steady_clock::now();
      f.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      i.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
    return std::make_pair(summarize(f), summarize(i));
  };
  const auto full = run(n, n), pruned = run(n / 2, n / 2);
  // The causal-convolution pattern: pruned forward, product, pruned inverse; separately vs fused.
  auto kf = to_buffer<T>(random_signal(n, 4), n, n, T(0));
  plan.forward(kf.data(), n);
  auto x = to_buffer<T>(random_signal(n, 5), n, n, T(0));
  std::vector<double> separate, fused;
  for (int r = 0; r < reps; ++r) {
    std::copy(x.begin(), x.begin() + n / 2 * L, buf.begin());
    auto t0 = std::chrono::steady_clock::now();
    plan.forward(buf.data(), n / 2);
    plan.multiply(buf.data(), buf.data(), kf.data(), false, false);
    plan.inverse(buf.data(), n / 2);
    auto t1 = std::chrono::steady_clock::now();
    std::copy(x.begin(), x.begin() + n / 2 * L, buf.begin());
    auto t2 = std::chrono::steady_clock::now();
    plan.convolve(buf.data(), kf.data(), n / 2, n / 2);
    auto t3 = std::chrono::steady_clock::now();
    separate.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    fused.push_back(std::chrono::duration<double, std::micro>(t3 - t2).count());
  }
  const Timing sep = summarize(separate), fus = summarize(fused);
  std::printf("  %-6s n=%-8lld %-8s forward %8.1f us (median %8.1f)  in_len n/2 %8.1f (%8.1f) | "
              "inverse %8.1f (%8.1f)  out_len n/2 %8.1f (%8.1f)\n",
              sizeof(T) == 4 ? "float" : "double", static_cast<long long>(n), path_name(portable),
              full.first.min_us, full.first.median_us, pruned.first.min_us, pruned.first.median_us,
              full.second.min_us, full.second.median_us, pruned.second.min_us, pruned.second.median_us);
  std::printf("  %-6s n=%-8lld %-8s causal conv (in/out n/2): forward+multiply+inverse %8.1f us (%8.1f)  "
              "convolve() %8.1f us (%8.1f)\n",
              sizeof(T) == 4 ? "float" : "double", static_cast<long long>(n), path_name(portable),
              sep.min_us, sep.median_us, fus.min_us, fus.median_us);
}

}  // namespace

int main(int argc, char** argv) {
  // --quick (or SERENGETI_TEST_QUICK=1) skips the transforms above 2^20; the 2^22..2^24 checks
  // take most of the ~3 minute run time.
  const char* quick_env = std::getenv("SERENGETI_TEST_QUICK");
  const bool quick = (argc > 1 && std::string(argv[1]) == "--quick") ||
                     (quick_env != nullptr && std::string(quick_env) == "1");
  const bool has_avx2 = serengeti::cpu::cpu_supports_avx2_fma();
  const bool initial_force = serengeti::cpu::force_portable();
  std::printf("AVX2+FMA supported: %s\n", has_avx2 ? "yes" : "no");
  std::vector<bool> paths = {true};
  if (has_avx2) paths.push_back(false);

  for (bool portable : paths) {
    const std::string p = path_name(portable);
    run_test("forward float " + p, [&] { return test_forward<float>(portable, 4096, quick ? std::vector<int>{20} : portable ? std::vector<int>{20, 22} : std::vector<int>{20, 22, 23, 24}); });
    run_test("forward double " + p, [&] { return test_forward<double>(portable, 2048, quick || portable ? std::vector<int>{} : std::vector<int>{22}); });
    run_test("inverse float " + p, [&] { return test_inverse<float>(portable, quick || portable ? std::vector<int>{} : std::vector<int>{20, 22}); });
    run_test("inverse double " + p, [&] { return test_inverse<double>(portable, {}); });
    run_test("roundtrip float " + p, [&] { return test_roundtrip<float>(portable); });
    run_test("roundtrip double " + p, [&] { return test_roundtrip<double>(portable); });
    run_test("multiply float " + p, [&] { return test_multiply<float>(portable); });
    run_test("convolve float " + p, [&] { return test_convolve<float>(portable); });
    run_test("convolve double " + p, [&] { return test_convolve<double>(portable); });
    run_test("gradient identities double " + p, [&] { return test_gradient_identities(portable); });
  }
  run_test("portable and avx2 agree (float)", [] { return test_paths_agree<float>(); });
  run_test("portable and avx2 agree (double)", [] { return test_paths_agree<double>(); });
  run_test("plan cache and argument errors", [] { return test_plan_cache_and_errors(); });

  std::printf("\nTimings, one 8-lane transform, min (median) of repeats; PERF_NOTES: MKL rfft of 8192\n"
              "takes ~17 us per signal single-core, i.e. ~136 us for 8 signals:\n");
  for (bool portable : paths) print_timings<float>(8192, portable, 301);
  for (bool portable : paths) print_timings<float>(int64_t{1} << 20, portable, 9);
  for (bool portable : paths) print_timings<double>(8192, portable, 101);
  serengeti::cpu::set_force_portable(initial_force);

  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
