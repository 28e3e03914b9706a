// LaunchConfig from the torch layer's (backend name, thread count, stream handle).
#pragma once

#include <cstdint>
#include <string>

#include "serengeti/error.h"
#include "serengeti/launch.h"
#include "tensor_args.h"

namespace serengeti::bindings {

inline LaunchConfig launch_config(const std::string& backend, int num_threads, std::uintptr_t stream) {
  LaunchConfig launch;
  launch.backend = backend_from_py(backend);
  SG_CHECK_ARG(num_threads >= 1, "num_threads: expected >= 1, got ", num_threads);
  launch.num_threads = num_threads;
  launch.stream = reinterpret_cast<void*>(stream);
  return launch;
}

}  // namespace serengeti::bindings
