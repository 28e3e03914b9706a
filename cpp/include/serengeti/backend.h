// Which implementation executes an op. The torch layer picks one per call (see DESIGN.md §2):
// CPU tensors go to `cpu` unless a test selects `emu`; CUDA tensors go to `cuda`.
#pragma once

#include <string>

namespace serengeti {

enum class Backend {
  kCpu,   // hand-written C++ in cpp/cpu/
  kCuda,  // the CUDA kernels in cuda/, on a GPU
  kEmu,   // the same CUDA sources compiled for the host against cuda/emu/
};

inline const char* backend_name(Backend b) {
  switch (b) {
    case Backend::kCpu: return "cpu";
    case Backend::kCuda: return "cuda";
    case Backend::kEmu: return "emu";
  }
  return "unknown";
}

}  // namespace serengeti
