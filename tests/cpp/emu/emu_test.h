// Minimal test bookkeeping shared by the emulator's test drivers: check(), expect_throw(), and the
// final "N passed, M failed" line with a nonzero exit code on failure.
#pragma once

#include <cstdio>
#include <string>

namespace emu_test {

inline int passed = 0;
inline int failed = 0;

inline void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

// Runs f, expects an exception of type E whose message contains every one of `needles`.
template <class E, class F>
void expect_throw(F&& f, const std::string& what, std::initializer_list<const char*> needles) {
  try {
    f();
    check(false, what + ": no exception");
  } catch (const E& e) {
    std::string message = e.what();
    bool all = true;
    for (const char* n : needles)
      if (message.find(n) == std::string::npos) all = false;
    check(all, what + ": message was: " + message);
  } catch (const std::exception& e) {
    check(false, what + ": wrong exception type: " + e.what());
  }
}

inline int finish() {
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace emu_test
