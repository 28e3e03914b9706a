#include "cpu/threading/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace serengeti::cpu {
namespace {

// Set while a thread runs items of a pooled job: a nested parallel_for then runs inline (the pool
// is busy with the outer job, and try-locking a mutex this thread already holds is undefined).
thread_local bool inside_pooled_job = false;

// A job: the loop being run and the counters that coordinate its workers.
struct Job {
  const std::function<void(int64_t, int)>* body = nullptr;
  int64_t count = 0;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  // Claims items until none are left; records the first exception and stops handing out work.
  void run(int worker) {
    const bool outer = inside_pooled_job;
    inside_pooled_job = true;
    run_items(worker);
    inside_pooled_job = outer;
  }

  void run_items(int worker) {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) return;
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= count) return;
      try {
        (*body)(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
      }
    }
  }
};

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Runs the job with `helpers` pool threads besides the caller. Returns false (doing nothing)
  // when another caller holds the pool.
  bool try_run(Job& job, int helpers) {
    std::unique_lock<std::mutex> busy(busy_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    ensure_threads(helpers);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      wanted_ = helpers;
      active_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    job.run(0);
    std::unique_lock<std::mutex> lock(mutex_);
    // Stop handing the job to late wakers, then wait for the ones that took it.
    wanted_ = 0;
    done_.wait(lock, [&] { return active_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void ensure_threads(int helpers) {
    while (static_cast<int>(threads_.size()) < helpers) {
      const int worker = static_cast<int>(threads_.size()) + 1;
      threads_.emplace_back([this, worker] { loop(worker); });
    }
  }

  void loop(int worker) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      // Only workers 1..wanted_ join, so `worker` stays below the caller's thread count.
      if (job_ == nullptr || worker > wanted_) continue;
      Job* job = job_;
      ++active_;
      lock.unlock();
      job->run(worker);
      lock.lock();
      if (--active_ == 0) done_.notify_all();
    }
  }

  std::mutex busy_mutex_;  // held by the caller whose job owns the pool
  std::mutex mutex_;       // guards everything below
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  Job* job_ = nullptr;
  int wanted_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void parallel_for(int64_t count, int num_threads,
                  const std::function<void(int64_t item, int worker)>& body) {
  if (count <= 0) return;
  Job job;
  job.body = &body;
  job.count = count;
  const int threads = static_cast<int>(std::min<int64_t>(std::max(num_threads, 1), count));
  if (threads == 1 || inside_pooled_job || !pool().try_run(job, threads - 1)) job.run(0);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace serengeti::cpu
