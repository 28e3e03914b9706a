// Every misuse the emulator promises to report surfaces as the right exception from the launch,
// with a message that names the kernel and what went wrong, and the process stays usable.
#include <vector>

#include "cuda/emu/emu_api.h"
#include "emu_test.h"
#include "kernels/test_kernels.h"

using emu_test::check;
using emu_test::expect_throw;
namespace k = serengeti::emu;

namespace {

void test_barriers() {
  expect_throw<sg_emu::BarrierError>([] { k::launch_divergent_barrier(64); }, "divergent __syncthreads",
                                     {"divergent __syncthreads", "divergent_barrier", "block (0,0,0)",
                                      "error_kernels.cu:16", "error_kernels.cu:18", "(0,0,0)", "(16,0,0)"});
  expect_throw<sg_emu::BarrierError>([] { k::launch_barrier_after_exit(64, 3); },
                                     "__syncthreads after some threads exited",
                                     {"barrier_after_exit", "reached by 61 of 64",
                                      "exited without arriving: (0,0,0) (1,0,0) (2,0,0)"});
}

void test_guard_bands() {
  sg_emu::GuardedBuffer out(100 * sizeof(float), "y");
  k::launch_write_past_end(out.as<float>(), 100, 0);
  check(true, "in-bounds writes pass the guard band check");
  expect_throw<sg_emu::GuardBandError>([&] { k::launch_write_past_end(out.as<float>(), 100, 1); },
                                       "write one element past the end",
                                       {"guard band of buffer 'y'", "write_past_end", "past its end"});
}

void test_launch_config() {
  using sg_emu::LaunchConfigError;
  expect_throw<LaunchConfigError>([] { k::launch_with_config(1, 1, 1, 2048, 1, 1, 0); },
                                  "block of 2048 threads", {"config_kernel", "invalid block dimensions (2048,1,1)"});
  expect_throw<LaunchConfigError>([] { k::launch_with_config(1, 1, 1, 32, 32, 2, 0); },
                                  "block of 32x32x2 threads", {"invalid block dimensions"});
  expect_throw<LaunchConfigError>([] { k::launch_with_config(1, 1, 1, 1, 1, 65, 0); },
                                  "block z = 65", {"invalid block dimensions (1,1,65)"});
  expect_throw<LaunchConfigError>([] { k::launch_with_config(1, 65536, 1, 32, 1, 1, 0); },
                                  "grid y = 65536", {"invalid grid dimensions (1,65536,1)"});
  expect_throw<LaunchConfigError>([] { k::launch_with_config(0, 1, 1, 32, 1, 1, 0); },
                                  "empty grid", {"invalid grid dimensions (0,1,1)"});
  k::launch_with_config(2, 1, 1, 32, 1, 1, 48 * 1024);
  check(true, "48 KiB of dynamic shared memory without opt-in");
  expect_throw<LaunchConfigError>([] { k::launch_with_config(1, 1, 1, 32, 1, 1, 48 * 1024 + 16); },
                                  "dynamic shared above 48 KiB without opt-in",
                                  {"49168 bytes of dynamic shared memory", "cudaFuncSetAttribute"});
  check(k::opt_in_dynamic_shared(64 * 1024) == 0, "opt in to 64 KiB");
  k::launch_with_config(1, 1, 1, 32, 1, 1, 64 * 1024);
  check(true, "64 KiB after opt-in");
  expect_throw<LaunchConfigError>([] { k::launch_with_config(1, 1, 1, 32, 1, 1, 64 * 1024 + 4); },
                                  "above the opted-in size", {"cudaFuncAttributeMaxDynamicSharedMemorySize"});
  check(k::opt_in_dynamic_shared(120 * 1024) != 0, "opt in to 120 KiB refused on the default sm_86 model");
  k::declare_config_kernel_sm(80);
  check(k::opt_in_dynamic_shared(120 * 1024) == 0, "opt in to 120 KiB accepted for an sm_80 kernel");
  k::launch_with_config(1, 1, 1, 32, 1, 1, 120 * 1024);
  check(true, "120 KiB launch for an sm_80 kernel");
  check(k::opt_in_dynamic_shared(200 * 1024) != 0, "200 KiB refused for sm_80");
  k::declare_config_kernel_sm(90);
  check(k::opt_in_dynamic_shared(200 * 1024) == 0, "200 KiB accepted for sm_90");
  k::launch_with_config(1, 1, 1, 32, 1, 1, 200 * 1024);
  check(true, "200 KiB launch for an sm_90 kernel");
}

void test_kernel_errors() {
  expect_throw<sg_emu::KernelError>([] { k::launch_throwing_kernel(); }, "__trap in a kernel",
                                    {"throwing_kernel", "thread (3,0,0)", "__trap"});
  expect_throw<sg_emu::WarpSyncError>([] { k::launch_shfl_mask_without_self(); },
                                      "shuffle mask without the calling lane",
                                      {"shfl_mask_without_self", "does not include itself"});
  expect_throw<sg_emu::WarpSyncError>([] { k::launch_shfl_read_outside_mask(); },
                                      "shuffle reading a lane outside the mask",
                                      {"shfl_read_outside_mask", "reads lane 20"});
  expect_throw<sg_emu::WarpSyncError>([] { k::launch_shfl_partial_participation(); },
                                      "shuffle executed by only some lanes of the mask",
                                      {"shfl_partial_participation", "__shfl_sync(mask 0xffffffff)",
                                       "not every lane of the mask arrives", "waits at __syncthreads"});
  expect_throw<sg_emu::WarpSyncError>([] { k::launch_wmma_partial_warp(); }, "wmma in a 16-thread block",
                                      {"wmma_partial_warp", "all 32 lanes"});
  // The emulator is still usable after all of the above.
  sg_emu::GuardedBuffer out(64 * sizeof(float), "after");
  k::launch_write_past_end(out.as<float>(), 64, 0);
  check(out.as<float>()[63] == 1.0f, "launches work after errors");
}

}  // namespace

int main() {
  test_barriers();
  test_guard_bands();
  test_launch_config();
  test_kernel_errors();
  return emu_test::finish();
}
