// Launch validation (the driver's limits), the worker threads that run blocks, the per-kernel
// attribute registry, and the post-launch guard band check.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "block_runner.h"
#include "emu_api.h"
#include "launch_request.h"
#include "settings.h"
#include "shared_memory.h"

namespace sg_emu {
namespace detail {

namespace {

constexpr std::size_t default_shared_limit = 49152;  // 48 KiB without opt-in
constexpr unsigned char shared_poison = 0xFF;          // NaN in float/half/bf16, -1 in integers

struct KernelAttributes {
  std::size_t max_dynamic_shared = 0;
  bool opted_in = false;
  int target_sm = 0;          // 0: the device model's
  long static_shared = -1;    // measured on the first launch; -1 until then
};

std::mutex registry_mutex;
std::map<const void*, KernelAttributes>& registry() {
  static std::map<const void*, KernelAttributes> r;
  return r;
}

int kernel_sm(const KernelAttributes& a) { return a.target_sm ? a.target_sm : device_sm(); }

std::string dims(const dim3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

void validate(const LaunchRequest& r, const KernelAttributes& a) {
  const std::string who = std::string("launch of kernel '") + r.name + "': ";
  const dim3& b = r.block;
  const unsigned long long threads = 1ull * b.x * b.y * b.z;
  if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024)
    throw LaunchConfigError(who + "invalid block dimensions " + dims(b) +
                            " (each of x, y <= 1024, z <= 64, at most 1024 threads, none zero)");
  const dim3& g = r.grid;
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    throw LaunchConfigError(who + "invalid grid dimensions " + dims(g) +
                            " (x <= 2^31-1, y and z <= 65535, none zero)");
  const std::size_t static_bytes = a.static_shared > 0 ? std::size_t(a.static_shared) : 0;
  const std::size_t allowed_dynamic =
      a.opted_in ? a.max_dynamic_shared
                 : (static_bytes < default_shared_limit ? default_shared_limit - static_bytes : 0);
  if (r.dynamic_shared_bytes > allowed_dynamic)
    throw LaunchConfigError(
        who + std::to_string(r.dynamic_shared_bytes) + " bytes of dynamic shared memory requested, " +
        "the kernel allows " + std::to_string(allowed_dynamic) +
        (a.opted_in ? " (its cudaFuncAttributeMaxDynamicSharedMemorySize)"
                    : " (48 KiB minus static; call cudaFuncSetAttribute(kernel, "
                      "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) to go above)"));
  const int sm = kernel_sm(a);
  if (static_bytes + r.dynamic_shared_bytes > shared_memory_optin_limit(sm))
    throw LaunchConfigError(who + std::to_string(static_bytes + r.dynamic_shared_bytes) +
                            " bytes of shared memory exceed sm_" + std::to_string(sm) + "'s " +
                            std::to_string(shared_memory_optin_limit(sm)) + " per block");
}

// A pool of emulator threads. Blocks never run on the caller's thread: the emulator poisons the
// zero-initialised thread-locals of the kernel's module on the thread that runs a block.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool* pool = new WorkerPool();  // never destroyed: workers may outlive main
    return *pool;
  }

  // Runs every block of `plan`; returns the number of fiber switches; rethrows the first error
  // (lowest block index among those that failed).
  std::uint64_t run(const LaunchPlan& plan, std::uint64_t block_count, bool measure_static,
                    long* static_measured) {
    resize(worker_threads());
    std::unique_lock<std::mutex> lock(mutex_);
    plan_ = &plan;
    block_count_ = block_count;
    next_block_ = 0;
    measure_static_ = measure_static;
    static_measured_ = -1;
    error_ = nullptr;
    error_block_ = ~0ull;
    switches_ = 0;
    busy_ = int(workers_.size());
    ++generation_;
    work_ready_.notify_all();
    work_done_.wait(lock, [&] { return busy_ == 0; });
    *static_measured = static_measured_;
    if (error_) std::rethrow_exception(error_);
    return switches_;
  }

 private:
  void resize(int count) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (int(workers_.size()) < count)
      workers_.emplace_back([this, index = workers_.size()] { work(index); });
    active_workers_ = count;
  }

  void work(std::size_t index) {
    BlockRunner runner;
    std::uint64_t seen = 0;
    for (;;) {
      const LaunchPlan* plan;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_ready_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        plan = plan_;
      }
      const bool participate = int(index) < active_workers_;
      const std::uint64_t switches_before = runner.switches();
      long measured = -1;
      while (participate) {
        const std::uint64_t block = next_block_.fetch_add(1);
        if (block >= block_count_ || abort_) break;
        try {
          const ModuleSharedMemory shared = module_shared_memory(plan->kernel);
          const bool measure = measure_static_ && block == 0;
          if (measure) {
            poison_shared_memory(shared, plan->dynamic_shared_bytes, shared_poison);
            randomize_static_shared(shared, plan->seed);
          } else {
            poison_shared_memory(shared, plan->dynamic_shared_bytes, shared_poison);
          }
          runner.run(*plan, block);
          if (measure) measured = long(count_changed_static_shared(shared, plan->seed));
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex_);
          if (block < error_block_) {
            error_block_ = block;
            error_ = std::current_exception();
          }
          abort_ = true;
        }
      }
      std::lock_guard<std::mutex> lock(mutex_);
      switches_ += runner.switches() - switches_before;
      if (measured >= 0) static_measured_ = measured;
      if (--busy_ == 0) {
        abort_ = false;
        work_done_.notify_all();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable work_ready_, work_done_;
  std::vector<std::thread> workers_;
  int active_workers_ = 1;
  std::uint64_t generation_ = 0;
  const LaunchPlan* plan_ = nullptr;
  std::uint64_t block_count_ = 0;
  std::atomic<std::uint64_t> next_block_{0};
  std::atomic<bool> abort_{false};
  bool measure_static_ = false;
  long static_measured_ = -1;
  std::exception_ptr error_;
  std::uint64_t error_block_ = 0;
  std::uint64_t switches_ = 0;
  int busy_ = 0;
};

std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

void launch_kernel(const LaunchRequest& request) {
  if (running_thread())
    throw LaunchConfigError(std::string("launch of kernel '") + request.name +
                            "' from device code: dynamic parallelism is not emulated");
  std::lock_guard<std::mutex> serial(launch_mutex());  // one launch at a time, like one stream
  KernelAttributes attributes;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    attributes = registry()[request.kernel];
  }
  validate(request, attributes);

  LaunchPlan plan;
  plan.kernel = request.kernel;
  plan.name = request.name;
  plan.grid = request.grid;
  plan.block = request.block;
  plan.dynamic_shared_bytes = request.dynamic_shared_bytes;
  plan.invoke = request.invoke;
  plan.arguments = request.arguments;
  plan.seed = seed();
  const std::uint64_t blocks = 1ull * plan.grid.x * plan.grid.y * plan.grid.z;

  long measured = -1;
  const std::uint64_t switches =
      WorkerPool::instance().run(plan, blocks, attributes.static_shared < 0, &measured);
  count_launch(blocks, switches);
  if (measured >= 0) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto& a = registry()[request.kernel];
    a.static_shared = std::max(a.static_shared, measured);
    attributes = a;
  }
  validate(request, attributes);  // again, now that the static shared memory is known
  check_guard_bands(std::string("after kernel '") + request.name + "'");
}

bool set_max_dynamic_shared(const void* kernel, int bytes) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  KernelAttributes& a = registry()[kernel];
  const std::size_t static_bytes = a.static_shared > 0 ? std::size_t(a.static_shared) : 0;
  if (bytes < 0 || static_bytes + std::size_t(bytes) > shared_memory_optin_limit(kernel_sm(a)))
    return false;
  a.max_dynamic_shared = std::size_t(bytes);
  a.opted_in = true;
  return true;
}

}  // namespace detail

void set_kernel_target_sm(const void* kernel, int sm) {
  std::lock_guard<std::mutex> lock(detail::registry_mutex);
  detail::registry()[kernel].target_sm = sm;
}

}  // namespace sg_emu
