// How many threads and tasks a short-conv launch uses, from the amount of work.
//
// Waking a pool thread costs a few microseconds, and a task must amortise its set-up (loading taps,
// staging history), so tiny problems run on the caller alone and units are batched into tasks of a
// minimum size. Within that, aim for several tasks per thread so dynamic hand-out evens out the
// tail. Work is counted in "element-taps" (one multiply-add over one element), roughly 0.1-0.3 ns.
#pragma once

#include <cstdint>

namespace serengeti::cpu::short_conv {

struct TaskPlan {
  int threads = 1;             // threads to ask parallel_for for
  int64_t tasks = 0;           // parallel_for items
  int64_t units_per_task = 1;  // consecutive units each item covers (the last may cover fewer)
};

constexpr int64_t kMinWorkPerThread = int64_t{1} << 17;  // ~20-40 us: below, one thread
constexpr int64_t kMinWorkPerTask = int64_t{1} << 14;
constexpr int64_t kTasksPerThread = 4;

inline TaskPlan plan_tasks(int64_t units, int64_t work_per_unit, int max_threads) {
  TaskPlan plan;
  if (units <= 0) return plan;
  if (work_per_unit < 1) work_per_unit = 1;
  const int64_t total = units * work_per_unit;
  int64_t threads = total / kMinWorkPerThread;
  if (threads > max_threads) threads = max_threads;
  if (threads < 1) threads = 1;
  int64_t per_task = kMinWorkPerTask / work_per_unit;
  const int64_t balanced = units / (kTasksPerThread * threads);
  if (per_task > balanced) per_task = balanced;
  if (per_task < 1) per_task = 1;
  plan.units_per_task = per_task;
  plan.tasks = (units + per_task - 1) / per_task;
  plan.threads = static_cast<int>(threads < plan.tasks ? threads : plan.tasks);
  return plan;
}

}  // namespace serengeti::cpu::short_conv
