// The per-block scheduler. A fiber runs until it reaches a barrier, a warp collective or its end;
// the scheduler then picks the next runnable fiber at random (seeded), so any interleaving that
// respects the barriers can happen and a missing __syncthreads shows up as a wrong result.
#include "block_runner.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>
#include <utility>

#include "emu_errors.h"
#include "settings.h"

namespace sg_emu {
namespace detail {

namespace {

// Kept in .tdata, not .tbss: the emulator poisons its module's zero-initialised thread-locals
// (where static __shared__ variables live) at every block start.
__attribute__((section(".tdata.sg_emu_runtime"))) thread_local EmuThread* tl_running = nullptr;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string dims(unsigned x, unsigned y, unsigned z) {
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
}

std::string site(const char* file, int line) {
  return std::string(file ? file : "?") + ":" + std::to_string(line);
}

// Rethrows the exception a fiber stored, keeping the emulator's error type and adding the block.
[[noreturn]] void rethrow_with_context(std::exception_ptr error, const std::string& where,
                                       const std::string& thread) {
  const std::string prefix = where + " thread " + thread + ": ";
  try {
    std::rethrow_exception(error);
  } catch (const WarpSyncError& e) {
    throw WarpSyncError(prefix + e.what());
  } catch (const BarrierError& e) {
    throw BarrierError(prefix + e.what());
  } catch (const EmuError& e) {
    throw KernelError(prefix + e.what());
  } catch (const std::exception& e) {
    throw KernelError(prefix + "kernel code threw: " + e.what());
  } catch (...) {
    throw KernelError(prefix + "kernel code threw a non-std exception");
  }
}

}  // namespace

EmuThread* running_thread() noexcept { return tl_running; }
void set_running_thread(EmuThread* thread) noexcept { tl_running = thread; }

DeviceThread* current_thread() noexcept { return tl_running ? &tl_running->device : nullptr; }

std::string format_threads(const std::vector<const EmuThread*>& threads) {
  std::string out;
  const std::size_t shown = std::min<std::size_t>(threads.size(), 16);
  for (std::size_t i = 0; i < shown; ++i) {
    const uint3& t = threads[i]->device.thread_idx;
    if (i) out += ' ';
    out += dims(t.x, t.y, t.z);
  }
  if (threads.size() > shown) out += " and " + std::to_string(threads.size() - shown) + " more";
  return out;
}

BlockRunner::~BlockRunner() {
  for (void* stack : stacks_) munmap(stack, stack_bytes_);
}

std::string BlockRunner::where() const {
  return "kernel '" + plan_->name + "' block " + dims(block_idx_.x, block_idx_.y, block_idx_.z);
}

std::string BlockRunner::describe_thread(const EmuThread* thread) const {
  const uint3& t = thread->device.thread_idx;
  return dims(t.x, t.y, t.z);
}

void BlockRunner::ensure_fibers(unsigned count) {
  const std::size_t wanted_stack = fiber_stack_bytes();
  if (wanted_stack != stack_bytes_) {  // stack size changed: start over
    for (void* stack : stacks_) munmap(stack, stack_bytes_);
    stacks_.clear();
    stack_bytes_ = wanted_stack;
  }
  while (threads_.size() < count) {
    threads_.push_back(std::make_unique<EmuThread>());
    threads_.back()->runner = this;
  }
  while (stacks_.size() < count) {
    // Lazily committed; the lowest page is a guard so an overflow faults instead of corrupting
    // the neighbouring fiber's stack.
    void* stack = mmap(nullptr, stack_bytes_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED) throw EmuError("emulator: cannot allocate a fiber stack");
    mprotect(stack, 4096, PROT_NONE);
    stacks_.push_back(stack);
  }
}

std::uint64_t BlockRunner::next_random() {
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return rng_state_ * 0x2545F4914F6CDD1Dull;
}

void BlockRunner::fiber_main(void* argument) {
  auto* thread = static_cast<EmuThread*>(argument);
  BlockRunner* runner = thread->runner;
  try {
    runner->plan_->invoke(runner->plan_->kernel, runner->plan_->arguments);
  } catch (...) {
    thread->error = std::current_exception();
  }
  // Outside the catch block: the exception is no longer "being handled" when we switch away.
  thread->status = ThreadStatus::exited;
  fiber_switch(&thread->context, &runner->scheduler_);
  __builtin_trap();  // an exited fiber is never resumed
}

void BlockRunner::run(const LaunchPlan& plan, std::uint64_t block_index) {
  plan_ = &plan;
  const std::uint64_t gx = plan.grid.x, gy = plan.grid.y;
  block_idx_ = uint3{unsigned(block_index % gx), unsigned((block_index / gx) % gy),
                     unsigned(block_index / (gx * gy))};
  thread_count_ = plan.block.x * plan.block.y * plan.block.z;
  ensure_fibers(thread_count_);
  rng_state_ = splitmix64(plan.seed ^ splitmix64(block_index)) | 1;

  ready_.clear();
  for (unsigned i = 0; i < thread_count_; ++i) {
    EmuThread* t = threads_[i].get();
    DeviceThread& d = t->device;
    d.thread_idx = uint3{i % plan.block.x, (i / plan.block.x) % plan.block.y,
                         i / (plan.block.x * plan.block.y)};
    d.block_idx = block_idx_;
    d.block_dim = plan.block;
    d.grid_dim = plan.grid;
    d.linear = i;
    d.lane = i % 32;
    d.warp = i / 32;
    t->status = ThreadStatus::runnable;
    t->arrival = nullptr;
    t->error = nullptr;
    // Stagger the stack tops: stacks are equally spaced, so without an offset every fiber's hot
    // top-of-stack lines would map to the same cache sets and evict each other.
    const std::size_t colour = (i % 61) * 64;
    fiber_prepare(&t->context, stacks_[i], stack_bytes_ - colour, &BlockRunner::fiber_main, t);
    ready_.push_back(t);
  }
  schedule();
}

void BlockRunner::make_runnable(EmuThread* thread) {
  thread->status = ThreadStatus::runnable;
  ready_.push_back(thread);
}

void BlockRunner::suspend_current(EmuThread* thread) {
  set_running_thread(nullptr);
  fiber_switch(&thread->context, &scheduler_);
  set_running_thread(thread);
}

void BlockRunner::schedule() {
  for (;;) {
    while (!ready_.empty()) {
      const std::size_t pick = std::size_t((next_random() >> 32) * ready_.size() >> 32);
      EmuThread* t = ready_[pick];
      ready_[pick] = ready_.back();
      ready_.pop_back();
      set_running_thread(t);
      ++switches_;
      fiber_switch(&scheduler_, &t->context);
      set_running_thread(nullptr);
      if (t->error) rethrow_with_context(t->error, where(), describe_thread(t));
      if (t->status == ThreadStatus::exited) after_exit(t);
    }
    bool any_warp = false, any_barrier = false;
    for (unsigned i = 0; i < thread_count_; ++i) {
      any_warp |= threads_[i]->status == ThreadStatus::at_warp_op;
      any_barrier |= threads_[i]->status == ThreadStatus::at_barrier;
    }
    if (any_warp) on_warp_deadlock();
    if (!any_barrier) return;  // every thread exited: the block is done
    on_barrier_deadlock();     // releases the barrier or throws
  }
}

// A lane that exits can complete a warp group that was waiting only for lanes still running.
void BlockRunner::after_exit(EmuThread* thread) {
  const unsigned first = thread->device.warp * 32;
  const unsigned last = std::min(first + 32, thread_count_);
  for (unsigned i = first; i < last; ++i) {
    EmuThread* lane = threads_[i].get();
    if (lane->status == ThreadStatus::at_warp_op) try_complete_warp_group(lane, false);
  }
}

void BlockRunner::on_barrier_deadlock() {
  // Fast path (every barrier of a correct kernel): all threads wait at the same call site.
  const EmuThread* first_thread = threads_[0].get();
  bool uniform = true;
  int count = 0;
  for (unsigned i = 0; i < thread_count_ && uniform; ++i) {
    const EmuThread* t = threads_[i].get();
    uniform = t->status == ThreadStatus::at_barrier && t->barrier_line == first_thread->barrier_line &&
              t->barrier_file == first_thread->barrier_file;
    count += t->barrier_predicate != 0;
  }
  if (uniform) {
    // Release the barrier, with the __syncthreads_count result.
    for (unsigned i = 0; i < thread_count_; ++i) {
      threads_[i]->barrier_result = count;
      make_runnable(threads_[i].get());
    }
    return;
  }
  std::vector<const EmuThread*> exited;
  std::map<std::pair<std::string, int>, std::vector<const EmuThread*>> sites;
  for (unsigned i = 0; i < thread_count_; ++i) {
    const EmuThread* t = threads_[i].get();
    if (t->status == ThreadStatus::exited)
      exited.push_back(t);
    else
      sites[{t->barrier_file ? t->barrier_file : "?", t->barrier_line}].push_back(t);
  }
  if (!exited.empty()) {
    const auto& first = *sites.begin();
    throw BarrierError(where() + ": __syncthreads at " + site(first.first.first.c_str(),
                       first.first.second) + " reached by " +
                       std::to_string(thread_count_ - exited.size()) + " of " +
                       std::to_string(thread_count_) +
                       " threads; these exited without arriving: " + format_threads(exited));
  }
  if (sites.size() > 1) {
    std::string message = where() + ": divergent __syncthreads: threads wait at different barriers:";
    for (const auto& s : sites)
      message += " [" + site(s.first.first.c_str(), s.first.second) + ": " +
                 format_threads(s.second) + "]";
    throw BarrierError(message);
  }
  // Same line reached through different file-name pointers (e.g. one header seen twice): release.
  int total = 0;
  for (unsigned i = 0; i < thread_count_; ++i) total += threads_[i]->barrier_predicate != 0;
  for (unsigned i = 0; i < thread_count_; ++i) {
    threads_[i]->barrier_result = total;
    make_runnable(threads_[i].get());
  }
}

int block_barrier(int predicate, const char* file, int line) {
  EmuThread* t = running_thread();
  if (!t) device_error("__syncthreads called outside a kernel");
  t->status = ThreadStatus::at_barrier;
  t->barrier_file = file;
  t->barrier_line = line;
  t->barrier_predicate = predicate;
  t->runner->suspend_current(t);
  return t->barrier_result;
}

void yield_thread() {
  EmuThread* t = running_thread();
  if (!t) return;
  t->runner->make_runnable(t);
  t->runner->suspend_current(t);
}

void device_error(const char* message) { throw KernelError(message); }

}  // namespace detail
}  // namespace sg_emu
