// Warp shuffles, votes, matches, reductions; atomics under contention; __half/__nv_bfloat16.
#include <cmath>
#include <cstring>
#include <vector>

#include "cuda/emu/emu_api.h"
#include "emu_test.h"
#include "kernels/test_kernels.h"

using emu_test::check;
namespace k = serengeti::emu;

namespace {

void test_warp_ops() {
  const int threads = 64;
  std::vector<int> out(16 * threads, -12345);
  k::launch_warp_ops(out.data(), threads);
  bool ok[16];
  for (bool& b : ok) b = true;
  for (int t = 0; t < threads; ++t) {
    const int lane = t % 32;
    const int* r = &out[16 * t];
    ok[0] &= r[0] == 50;
    ok[1] &= r[1] == (lane >= 3 ? (lane - 3) * 10 : lane * 10);
    ok[2] &= r[2] == (lane + 3 < 32 ? (lane + 3) * 10 : lane * 10);
    ok[3] &= r[3] == (lane ^ 7) * 10;
    ok[4] &= r[4] == ((lane & ~7) + 2) * 10;
    ok[5] &= r[5] == ((lane % 8) + 5 < 8 ? (lane + 5) * 10 : lane * 10);
    ok[6] &= unsigned(r[6]) == 0xaaaaaaaau;
    ok[7] &= r[7] == 1;
    ok[8] &= r[8] == 1;
    ok[9] &= r[9] == 0;
    ok[10] &= unsigned(r[10]) == (0xfu << (4 * (lane / 4)));
    ok[11] &= r[11] == 496;
    ok[12] &= r[12] == 31;
    ok[13] &= r[13] == 496;
    ok[14] &= r[14] == 90;
    ok[15] &= r[15] == (lane < 31 ? (lane + 1) * 10 : lane * 10);
  }
  const char* names[16] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                           "__shfl_sync width 8", "__shfl_down_sync width 8", "__ballot_sync",
                           "__any_sync", "__all_sync true", "__all_sync false", "__match_any_sync",
                           "__reduce_add_sync", "__reduce_max_sync", "float butterfly reduction",
                           "__half shuffle", "double shuffle"};
  for (int i = 0; i < 16; ++i) check(ok[i], names[i]);
}

void test_atomics() {
  const int blocks = 6, threads = 256;
  int counters[6] = {0, 0, -1, 0, 0, 0};
  float float_sum = 0;
  unsigned long long ull_max = 0;
  int lock_sum = 0;
  for (int workers : {1, 2}) {
    sg_emu::set_worker_threads(workers);
    int c[6] = {0, 0, -1, 0, 0, 0};
    float fs = 0;
    unsigned long long um = 0;
    int ls = 0;
    k::launch_atomics(c, &fs, &um, &ls, blocks, threads);
    std::memcpy(counters, c, sizeof(c));
    float_sum = fs;
    ull_max = um;
    lock_sum = ls;
    const std::string w = " (" + std::to_string(workers) + " worker threads)";
    check(counters[0] == blocks * threads, "atomicAdd int under contention" + w);
    check(counters[1] == -2 * blocks * threads, "atomicSub" + w);
    check(counters[2] == blocks * threads - 1, "atomicMax" + w);
    check(counters[3] == -(threads - 1), "atomicMin" + w);
    check(counters[4] == 0x7fffffff, "atomicOr" + w);
    check(counters[5] == blocks * threads, "shared-memory atomicAdd per block" + w);
    check(float_sum == 0.5f * blocks * threads, "atomicAdd float" + w);
    check(ull_max == 1000ull * (blocks - 1) + threads - 1, "atomicMax unsigned long long" + w);
    // With 2 workers the lock is per block but lock_sum is shared: only check the 1-worker case.
    if (workers == 1) check(lock_sum == blocks * threads, "atomicCAS/atomicExch spin lock in shared memory");
  }
  sg_emu::set_worker_threads(1);
}

void test_half() {
  const int n = 300;
  std::vector<float> in(n), hr(n), br(n), ops(4 * n);
  for (int i = 0; i < n; ++i) in[i] = std::ldexp(float(i) - 150.3f, (i % 9) - 4);
  k::launch_half_conversions(in.data(), hr.data(), br.data(), ops.data(), n);
  bool half_ok = true, bf16_ok = true, ops_ok = true;
  for (int i = 0; i < n; ++i) {
    const float x = in[i];
    half_ok &= std::fabs(hr[i] - x) <= std::fabs(x) * (1.0f / 2048) + 6e-8f;  // 11-bit mantissa
    bf16_ok &= std::fabs(br[i] - x) <= std::fabs(x) * (1.0f / 256);          // 8-bit mantissa
    ops_ok &= std::fabs(ops[4 * i] - 3 * hr[i]) <= std::fabs(3 * hr[i]) / 512 + 1e-6f;
    ops_ok &= std::fabs(ops[4 * i + 1] - 3 * hr[i]) <= std::fabs(3 * hr[i]) / 1024 + 1e-6f;
    ops_ok &= ops[4 * i + 2] == 2 * br[i];
    ops_ok &= ops[4 * i + 3] == hr[i] + 1.0f;
  }
  check(half_ok, "__float2half/__half2float round trip within half precision");
  check(bf16_ok, "__float2bfloat16/__bfloat162float round trip within bf16 precision");
  check(ops_ok, "__half arithmetic, __hfma, bf16 multiply, __half2 packing");
}

}  // namespace

int main() {
  test_warp_ops();
  test_atomics();
  test_half();
  return emu_test::finish();
}
