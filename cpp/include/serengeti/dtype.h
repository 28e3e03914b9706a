// Element types the kernels understand. Tags, not templates: bindings carry a DType through the
// params struct and each kernel dispatches on it once, at the top.
#pragma once

#include <cstddef>
#include <cstdint>

namespace serengeti {

enum class DType : int8_t {
  kFloat32,
  kFloat64,
  kFloat16,   // IEEE binary16
  kBFloat16,  // the top 16 bits of a float32
};

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

inline std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::kFloat64: return 8;
    case DType::kFloat32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
  }
  return 0;
}

}  // namespace serengeti
