// The emulator's core: indices, barrier semantics (block reductions through static and dynamic
// shared memory), the randomised schedule catching a missing __syncthreads, shared memory poison.
#include <cmath>
#include <cstdint>
#include <vector>

#include "cuda/emu/emu_api.h"
#include "emu_test.h"
#include "kernels/test_kernels.h"

using emu_test::check;
namespace k = serengeti::emu;

namespace {

void test_indices() {
  const unsigned gx = 3, gy = 2, gz = 2, bx = 5, by = 3, bz = 2;
  const unsigned blocks = gx * gy * gz, threads = bx * by * bz;
  std::vector<unsigned> out(8 * blocks * threads, 0xdeadbeef);
  k::launch_write_indices(out.data(), gx, gy, gz, bx, by, bz);
  bool ok = true;
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < threads; ++t) {
      const unsigned* s = &out[8 * (b * threads + t)];
      ok &= s[0] == t % bx && s[1] == (t / bx) % by && s[2] == t / (bx * by);
      ok &= s[3] == b % gx && s[4] == (b / gx) % gy && s[5] == b / (gx * gy);
      ok &= s[6] == bx * 1000 + by * 100 + bz && s[7] == gx * 1000 + gy * 100 + gz;
    }
  check(ok, "threadIdx/blockIdx/blockDim/gridDim for a 3-D grid of 3-D blocks");
}

std::vector<float> ramp(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = float(i % 7) + 0.5f;  // sums stay exact in float
  return v;
}

float expected_sum(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return float(s);
}

void test_block_reductions() {
  for (int threads : {32, 64, 256, 1024}) {
    const int n = 3000;
    const auto in = ramp(n);
    float out_static = -1, out_dynamic = -1;
    k::launch_block_sum_static(in.data(), &out_static, n, threads);
    k::launch_block_sum_dynamic(in.data(), &out_dynamic, n, threads);
    check(out_static == expected_sum(in), "static shared block sum, " + std::to_string(threads) + " threads");
    check(out_dynamic == expected_sum(in), "dynamic shared block sum, " + std::to_string(threads) + " threads");
  }
}

// The racy kernel must give a wrong result for at least one seed; the correct one for none.
void test_race_detection() {
  const int n = 256, threads = 256, seeds = 20;
  const auto in = ramp(n);
  int racy_wrong = 0, correct_wrong = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    sg_emu::set_seed(std::uint64_t(seed));
    float racy = 0, correct = 0;
    k::launch_block_sum_racy(in.data(), &racy, n, threads);
    k::launch_block_sum_static(in.data(), &correct, n, threads);
    racy_wrong += !(racy == expected_sum(in));
    correct_wrong += !(correct == expected_sum(in));
  }
  sg_emu::set_seed(1);
  check(racy_wrong > 0, "missing __syncthreads caught by at least one of 20 seeds (wrong in " +
                            std::to_string(racy_wrong) + ")");
  check(correct_wrong == 0, "correct reduction right for every seed");
}

void test_shared_poison() {
  std::vector<std::uint32_t> out(256, 0);
  // The first block of a kernel's first launch gets seeded random bytes (the emulator measures the
  // kernel's static shared memory with them), every later block 0xFF bytes.
  k::launch_read_static_shared_first(out.data(), 256);
  int zeros = 0;
  for (auto v : out) zeros += v == 0;
  check(zeros < 4, "static __shared__ read before write sees random garbage on the first launch");
  k::launch_read_static_shared_first(out.data(), 256);
  bool garbage = true;
  for (auto v : out) garbage &= v == 0xFFFFFFFFu;
  check(garbage, "static __shared__ read before write sees 0xFF garbage");

  // Again after a kernel that wrote shared memory: each block starts poisoned, not with leftovers.
  const auto in = ramp(256);
  float sum;
  k::launch_block_sum_static(in.data(), &sum, 256, 256);
  k::launch_read_static_shared_first(out.data(), 256);
  garbage = true;
  for (auto v : out) garbage &= v == 0xFFFFFFFFu;
  check(garbage, "static __shared__ poisoned again at the next block start");

  k::launch_block_sum_dynamic(in.data(), &sum, 256, 256);
  k::launch_read_dynamic_shared_first(out.data(), 256, 1024);
  garbage = true;
  for (auto v : out) garbage &= v == 0xFFFFFFFFu;
  check(garbage, "extern __shared__ read before write sees 0xFF garbage");
}

void test_syncthreads_reductions() {
  int out[3] = {-1, -1, -1};
  k::launch_syncthreads_count(out, 100, 3);
  check(out[0] == 34 && out[1] == 1 && out[2] == 1, "__syncthreads_count/_and/_or");
}

}  // namespace

int main() {
  test_indices();
  test_block_reductions();
  test_race_detection();
  test_shared_poison();
  test_syncthreads_reductions();
  return emu_test::finish();
}
