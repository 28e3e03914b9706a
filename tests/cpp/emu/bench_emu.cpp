// Speed of the emulator itself: empty launches per second, the cost of one __syncthreads per
// thread, and of one 5-step warp shuffle reduction per thread, for blocks of 32, 256, 1024 threads.
#include <time.h>

#include <cstdio>
#include <vector>

#include "cuda/emu/emu_api.h"
#include "kernels/test_kernels.h"

namespace k = serengeti::emu;

namespace {

// Process CPU time, not wall time: on a shared, loaded machine wall time measures the neighbours.
// (The launching thread sleeps while a worker runs the blocks, so this is the emulator's work.)
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

template <class F>
double seconds(F&& f) {
  const double start = cpu_now();
  f();
  return cpu_now() - start;
}

}  // namespace

int main() {
  std::printf("| block | empty launches/s | ns per thread per __syncthreads | ns per thread per shuffle reduction (5 shfl) |\n");
  std::printf("|---|---|---|---|\n");
  std::vector<float> out(64);
  for (int threads : {32, 256, 1024}) {
    k::launch_empty(1, threads);  // warm up: fibers allocated
    const int launches = threads == 1024 ? 300 : 2000;
    const double t_empty = seconds([&] {
      for (int i = 0; i < launches; ++i) k::launch_empty(1, threads);
    });
    const int iterations = threads == 1024 ? 100 : 400;
    k::launch_barrier_loop(1, threads, 1);
    const double t_base = seconds([&] { k::launch_barrier_loop(4, threads, 0); });
    const double t_barrier = seconds([&] { k::launch_barrier_loop(4, threads, iterations); });
    const double barrier_ns = (t_barrier - t_base) * 1e9 / (4.0 * threads * iterations);
    k::launch_shuffle_reduce_loop(out.data(), 1, threads, 1);
    const double t_shuffle = seconds([&] { k::launch_shuffle_reduce_loop(out.data(), 4, threads, iterations); });
    const double shuffle_ns = (t_shuffle - t_base) * 1e9 / (4.0 * threads * iterations);
    std::printf("| %d | %.0f | %.1f | %.1f |\n", threads, launches / t_empty, barrier_ns, shuffle_ns);
  }
  const auto s = sg_emu::stats();
  std::printf("total: %llu launches, %llu blocks, %llu fiber switches\n", (unsigned long long)s.launches,
              (unsigned long long)s.blocks, (unsigned long long)s.fiber_switches);
  std::printf("1 passed, 0 failed\n");
  return 0;
}
