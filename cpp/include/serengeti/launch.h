// Settings every op launch carries, whatever the backend.
#pragma once

#include "serengeti/backend.h"

namespace serengeti {

struct LaunchConfig {
  Backend backend = Backend::kCpu;
  int num_threads = 1;      // CPU worker threads (>= 1); the emu backend may use them for blocks
  void* stream = nullptr;   // cudaStream_t for the cuda backend
};

}  // namespace serengeti
