// Runs one block of a grid: one fiber per CUDA thread, switched by a seeded random scheduler that
// enforces __syncthreads (every thread must arrive, at the same call site) and warp collectives.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "emu_device_state.h"
#include "fiber_switch.h"

namespace sg_emu {
namespace detail {

class BlockRunner;

// Everything a worker needs to run the blocks of one launch (read-only during the launch).
struct LaunchPlan {
  const void* kernel = nullptr;
  std::string name;
  dim3 grid;
  dim3 block;
  std::size_t dynamic_shared_bytes = 0;
  void (*invoke)(const void* kernel, void* arguments) = nullptr;  // calls kernel(arguments...)
  void* arguments = nullptr;
  std::uint64_t seed = 1;
};

enum class ThreadStatus : std::uint8_t { runnable, at_barrier, at_warp_op, exited };

struct EmuThread {
  DeviceThread device;  // first member: current_thread() hands out its address
  ThreadStatus status = ThreadStatus::runnable;
  FiberContext context;
  BlockRunner* runner = nullptr;
  const char* barrier_file = nullptr;
  int barrier_line = 0;
  int barrier_predicate = 0;
  int barrier_result = 0;
  WarpArrival* arrival = nullptr;
  std::exception_ptr error;
};

class BlockRunner {
 public:
  BlockRunner() = default;
  ~BlockRunner();
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  // Runs block `block_index` (linear, blockIdx.x fastest) of `plan`. Throws EmuError subclasses.
  void run(const LaunchPlan& plan, std::uint64_t block_index);

  // Called from the running fiber.
  void suspend_current(EmuThread* thread);  // back to the scheduler until made runnable again
  void try_complete_warp_group(EmuThread* arriving, bool arriving_continues);
  void make_runnable(EmuThread* thread);
  std::string where() const;  // "kernel 'k' block (x,y,z)"
  std::string describe_thread(const EmuThread* thread) const;

  std::uint64_t switches() const { return switches_; }

 private:
  void ensure_fibers(unsigned count);
  void schedule();
  void on_barrier_deadlock();
  void on_warp_deadlock();
  void after_exit(EmuThread* thread);
  std::uint64_t next_random();
  static void fiber_main(void* thread);

  const LaunchPlan* plan_ = nullptr;
  uint3 block_idx_{};
  unsigned thread_count_ = 0;
  std::vector<std::unique_ptr<EmuThread>> threads_;
  std::vector<void*> stacks_;
  std::size_t stack_bytes_ = 0;
  std::vector<EmuThread*> ready_;
  FiberContext scheduler_;
  std::uint64_t rng_state_ = 0;
  std::uint64_t switches_ = 0;
};

// The thread whose fiber runs on this host thread (null between switches).
EmuThread* running_thread() noexcept;
void set_running_thread(EmuThread* thread) noexcept;

// Formats a list of thread indices compactly: "(0,0,0) (1,0,0) ... and 12 more".
std::string format_threads(const std::vector<const EmuThread*>& threads);

}  // namespace detail
}  // namespace sg_emu
