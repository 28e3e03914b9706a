// Parallel loops over independent work items (channel groups, batch rows) on a persistent pool.
//
// Why our own pool rather than OpenMP: torch ships its own OpenMP runtime, and two runtimes in one
// process oversubscribe the cores. The pool here is small, lazily started, and sized per call.
//
// Concurrency: calls from several caller threads are safe. One job at a time runs on the pool;
// a caller that finds the pool busy runs its whole job on its own thread instead of waiting, so
// concurrent callers never deadlock and never oversubscribe.
#pragma once

#include <cstdint>
#include <functional>

namespace serengeti::cpu {

// Runs body(i, worker) for every i in [0, count), on up to num_threads threads (the caller is one
// of them). `worker` is in [0, num_threads) and identifies the thread, so per-worker scratch can be
// indexed by it. Items are handed out dynamically (one atomic counter), in increasing order.
// An exception thrown by body is rethrown in the caller after all workers have stopped.
void parallel_for(int64_t count, int num_threads,
                  const std::function<void(int64_t item, int worker)>& body);

// The number of hardware threads (at least 1).
int hardware_threads();

}  // namespace serengeti::cpu
