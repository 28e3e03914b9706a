// Unit tests of cpu::parallel_for: every item exactly once, worker ids in range, exceptions
// propagated, concurrent callers from several threads both complete correctly.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu/threading/parallel_for.h"

using serengeti::cpu::parallel_for;

namespace {

int passed = 0, failed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

// Each item must be visited once and only once, by a worker below the requested thread count.
bool covers_once(int64_t count, int threads) {
  std::vector<std::atomic<int>> hits(count);
  std::atomic<bool> worker_ok{true};
  parallel_for(count, threads, [&](int64_t i, int worker) {
    hits[i].fetch_add(1);
    if (worker < 0 || worker >= threads) worker_ok = false;
  });
  for (auto& h : hits)
    if (h.load() != 1) return false;
  return worker_ok.load();
}

}  // namespace

int main() {
  for (int threads : {1, 2, 3, 8})
    for (int64_t count : {0, 1, 2, 7, 1000})
      check(covers_once(count, threads),
            "covers_once(count=" + std::to_string(count) + ", threads=" + std::to_string(threads) + ")");

  // An exception from one item reaches the caller, and the pool stays usable afterwards.
  bool threw = false;
  try {
    parallel_for(100, 2, [](int64_t i, int) {
      if (i == 37) throw std::runtime_error("item 37");
    });
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()) == "item 37";
  }
  check(threw, "exception propagates");
  check(covers_once(500, 2), "pool usable after an exception");

  // Two callers at once: one may run inline, but both must finish with correct results.
  std::atomic<bool> a_ok{false}, b_ok{false};
  std::thread a([&] {
    bool ok = true;
    for (int r = 0; r < 50; ++r) ok = ok && covers_once(257, 2);
    a_ok = ok;
  });
  std::thread b([&] {
    bool ok = true;
    for (int r = 0; r < 50; ++r) ok = ok && covers_once(129, 3);
    b_ok = ok;
  });
  a.join();
  b.join();
  check(a_ok.load() && b_ok.load(), "concurrent callers");

  // Nested use from inside a body runs inline instead of deadlocking.
  std::atomic<int64_t> total{0};
  parallel_for(4, 2, [&](int64_t, int) {
    parallel_for(10, 2, [&](int64_t j, int) { total.fetch_add(j); });
  });
  check(total.load() == 4 * 45, "nested parallel_for");

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
