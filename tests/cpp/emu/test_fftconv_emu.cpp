// The CUDA fftconv kernels (cuda/fftconv/) on the host emulator, at the C++ level: the radix plan
// and its bin <-> position maps, the shared-memory budget of every block kernel against the 99 KB
// every supported GPU gives (sm_86/sm_89), forward results against a naive float64 convolution for
// the fused, unit-sweep and multi-kernel paths, bitwise identical results for any emulator schedule (seed)
// and worker count, and the launchers' argument errors. Standalone: prints "N passed, M failed".
// (The op's full test matrix runs from Python: tests/test_fftconv*.py on the emu backend.)
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/emu/emu_api.h"
#include "cuda/fftconv/fftconv_cuda.h"
#include "cuda/fftconv/plan.cuh"
#include "cuda/fftconv/shared_layout.cuh"
#include "cuda/fftconv/unit_sweep.cuh"
#include "emu_test.h"
#include "serengeti/error.h"

namespace {

using emu_test::check;
using serengeti::DType;
using serengeti::TensorView;
namespace fk = serengeti::emu::fftconv_kernels;

void test_plan() {
  bool inverse_ok = true, shape_ok = true;
  for (int log2m = fk::kMinLog2Size; log2m <= fk::kMaxLog2Size; ++log2m) {
    const fk::Plan p = fk::make_plan(log2m);
    int total = 0;
    for (int j = 0; j < p.stages; ++j) {
      total += p.log2_radix(j);
      // tensor-core stages need 16 consecutive columns (stride >= 16) or contiguous rows (1)
      if (p.log2_radix(j) == 4 && p.log2_stride(j) != 0 && p.log2_stride(j) < 4) shape_ok = false;
      if (p.log2_radix(j) < 4 && j != 0) shape_ok = false;
    }
    if (total != log2m || p.log2_stride(p.stages - 1) != 0) shape_ok = false;
    const int m = 1 << log2m;
    const int step = log2m <= 16 ? 1 : 9973;  // every position up to 2^16, a sample beyond
    for (int q = 0; q < m; q += step) {
      const int k = fk::bin_of_position(p, q);
      if (k < 0 || k >= m || fk::position_of_bin(p, k) != q) inverse_ok = false;
    }
  }
  check(shape_ok, "plan: radices multiply to M, radix-16 stages have stride 1 or >= 16");
  check(inverse_ok, "plan: position_of_bin inverts bin_of_position for M = 2^3 .. 2^22");
  // Splitting keeps the order: bin(row * S + q) = low(row) + (M / S) bin_S(q).
  bool split_ok = true;
  for (int log2m = 13; log2m <= 17; ++log2m) {
    const fk::Plan full = fk::make_plan(log2m);
    const int o = fk::outer_stages_for(log2m, 12);
    const int log2s = full.log2_stride(o - 1);
    const fk::Plan inner = fk::make_plan(log2s);
    for (int p = 0; p < (1 << log2m); p += 37) {
      const int row = p >> log2s, q = p & ((1 << log2s) - 1);
      const int low = fk::bin_of_position(full, row << log2s);
      if (fk::bin_of_position(full, p) != low + (fk::bin_of_position(inner, q) << (log2m - log2s)))
        split_ok = false;
    }
  }
  check(split_ok, "plan: the bins of a split transform are low(row) + (M/S) bin_S(q)");
}

void test_shared_budget() {
  // The largest configuration of each block kernel (execution.h): points per block, row size.
  struct Config {
    const char* kernel;
    int points, log2_row;
  };
  const Config configs[] = {
      {"fused_forward / filter (M = 8192, 1 row)", 1 << 13, 13},
      {"fused_forward (M = 256, 8 rows)", 1 << 11, 8},
      {"fused_backward (M = 4096, 2 buffers)", 2 << 12, 12},
      {"forward_inner / filter_inner (2 rows of 4096)", 2 << 12, 12},
      {"backward_inner (2 buffers x 8 units x 2 rows of 256)", 2 * 2 * 8 << 8, 8},
  };
  for (const Config& c : configs) {
    const std::size_t bytes = fk::make_shared_layout(c.points, c.log2_row, 0).total;
    check(bytes <= fk::kPortableSharedBytes,
          std::string("shared memory of ") + c.kernel + ": " + std::to_string(bytes) + " bytes <= 99 KB");
  }
  const std::size_t sweep = fk::unit_sweep_layout().total;
  check(sweep <= fk::kPortableSharedBytes,
        "shared memory of the unit sweep (M = 16384): " + std::to_string(sweep) + " bytes <= 99 KB");
}

struct Problem {
  int64_t B, H, L;
  std::vector<float> u, k, D;
};

Problem make_problem(int64_t B, int64_t H, int64_t L, unsigned seed) {
  Problem p{B, H, L, {}, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (int64_t i = 0; i < B * H * L; ++i) p.u.push_back(n(rng));
  for (int64_t i = 0; i < H * L; ++i) p.k.push_back(n(rng) / std::sqrt(float(L)));
  for (int64_t i = 0; i < H; ++i) p.D.push_back(n(rng));
  return p;
}

TensorView view3(const void* data, int64_t B, int64_t H, int64_t L) {
  TensorView v;
  v.data = const_cast<void*>(data);
  v.dtype = DType::kFloat32;
  v.ndim = 3;
  v.sizes[0] = B, v.sizes[1] = H, v.sizes[2] = L;
  v.strides[0] = H * L, v.strides[1] = L, v.strides[2] = 1;
  return v;
}

TensorView view2(const void* data, int64_t H, int64_t L) {
  TensorView v;
  v.data = const_cast<void*>(data);
  v.dtype = DType::kFloat32;
  v.ndim = 2;
  v.sizes[0] = H, v.sizes[1] = L;
  v.strides[0] = L, v.strides[1] = 1;
  return v;
}

TensorView view1(const void* data, int64_t H) {
  TensorView v;
  v.data = const_cast<void*>(data);
  v.dtype = DType::kFloat32;
  v.ndim = 1;
  v.sizes[0] = H;
  v.strides[0] = 1;
  return v;
}

// y = causal conv(k, u) + D u through serengeti::emu::fftconv_forward (output in a guarded buffer).
std::vector<float> run_forward(const Problem& pr) {
  serengeti::FftConvForwardParams p;
  p.u = view3(pr.u.data(), pr.B, pr.H, pr.L);
  p.k = view2(pr.k.data(), pr.H, pr.L);
  p.D = view1(pr.D.data(), pr.H);
  p.launch.backend = serengeti::Backend::kEmu;
  sg_emu::GuardedBuffer y(sizeof(float) * pr.B * pr.H * pr.L, "y");
  p.y = view3(y.data(), pr.B, pr.H, pr.L);
  const int64_t ws_bytes = serengeti::emu::fftconv_forward_workspace_bytes(p);
  sg_emu::GuardedBuffer ws(ws_bytes > 0 ? ws_bytes : 1, "workspace");
  p.workspace = ws.data();
  p.workspace_bytes = ws_bytes;
  serengeti::emu::fftconv_forward(p);
  return std::vector<float>(y.as<float>(), y.as<float>() + pr.B * pr.H * pr.L);
}

double relative_error(const Problem& pr, const std::vector<float>& y) {
  double num = 0, den = 0;
  for (int64_t r = 0; r < pr.B * pr.H; ++r) {
    const int64_t h = r % pr.H;
    const float* u = pr.u.data() + r * pr.L;
    const float* k = pr.k.data() + h * pr.L;
    for (int64_t t = 0; t < pr.L; ++t) {
      double ref = double(pr.D[h]) * u[t];
      for (int64_t s = 0; s <= t; ++s) ref += double(k[s]) * u[t - s];
      const double e = double(y[r * pr.L + t]) - ref;
      num += e * e;
      den += ref * ref;
    }
  }
  return std::sqrt(num / den);
}

void test_forward() {
  // fused (M = 8, 256), the unit sweep (L = 9000: M = 16384, on the default sm_86 device),
  // multi-kernel (L = 17000: M = 32768, one outer pass)
  const int64_t shapes[][3] = {{2, 3, 5}, {1, 5, 300}, {1, 2, 9000}, {1, 1, 17000}};
  for (const auto& s : shapes) {
    const Problem pr = make_problem(s[0], s[1], s[2], unsigned(s[2]));
    sg_emu::set_seed(1);
    sg_emu::set_worker_threads(1);
    const std::vector<float> y = run_forward(pr);
    const double e = relative_error(pr, y);
    // float32 FFT convolution accuracy: ~1e-7 (log2 N + 2), cf. tests/helpers.py
    const double bound = 1e-7 * (std::log2(2.0 * s[2]) + 3);
    check(e <= bound, "forward L=" + std::to_string(s[2]) + ": relative error " + std::to_string(e) +
                          " <= " + std::to_string(bound));
    sg_emu::set_seed(7);
    sg_emu::set_worker_threads(2);
    const std::vector<float> y2 = run_forward(pr);
    sg_emu::set_seed(1);
    sg_emu::set_worker_threads(1);
    check(std::memcmp(y.data(), y2.data(), y.size() * sizeof(float)) == 0,
          "forward L=" + std::to_string(s[2]) + ": same bits under another seed and 2 workers");
  }
}

void test_errors() {
  const Problem pr = make_problem(1, 2, 16, 3);
  std::vector<float> y(pr.u.size());
  serengeti::FftConvForwardParams p;
  p.u = view3(pr.u.data(), 1, 2, 16);
  p.k = view2(pr.k.data(), 2, 16);
  p.y = view3(y.data(), 1, 2, 16);
  p.launch.backend = serengeti::Backend::kEmu;
  emu_test::expect_throw<serengeti::InvalidArgument>(
      [&] { serengeti::emu::fftconv_forward(p); }, "no workspace for the spectrum of k", {"workspace"});
  std::vector<double> u64(pr.u.begin(), pr.u.end());
  serengeti::FftConvForwardParams q = p;
  q.u = view3(u64.data(), 1, 2, 16);
  q.u.dtype = DType::kFloat64;
  emu_test::expect_throw<serengeti::InvalidArgument>(
      [&] { serengeti::emu::fftconv_forward_workspace_bytes(q); }, "float64 activations", {"u:", "float64"});
  serengeti::FftConvForwardParams r = p;
  r.u.sizes[2] = r.y.sizes[2] = (int64_t(1) << 22) + 1;
  r.k.sizes[1] = 1;
  emu_test::expect_throw<serengeti::InvalidArgument>(
      [&] { serengeti::emu::fftconv_forward_workspace_bytes(r); }, "L above 2^22", {"u:", "4194304"});
}

}  // namespace

int main() {
  test_plan();
  test_shared_budget();
  test_forward();
  test_errors();
  return emu_test::finish();
}
