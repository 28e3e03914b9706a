// A non-owning strided view of a tensor: what bindings hand to kernels instead of a torch tensor.
// Strides are in elements (not bytes), as torch reports them, and may be zero (broadcast) or any
// positive value. A view whose data is null means "argument absent".
#pragma once

#include <cstdint>

#include "serengeti/dtype.h"

namespace serengeti {

struct TensorView {
  static constexpr int kMaxDims = 4;

  void* data = nullptr;
  DType dtype = DType::kFloat32;
  int ndim = 0;
  int64_t sizes[kMaxDims] = {0, 0, 0, 0};
  int64_t strides[kMaxDims] = {0, 0, 0, 0};

  bool present() const { return data != nullptr; }
  int64_t size(int d) const { return sizes[d]; }
  int64_t stride(int d) const { return strides[d]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
  // True when the last dimension is unit-stride and the view is densely packed row-major.
  bool contiguous() const {
    int64_t expected = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (sizes[d] != 1 && strides[d] != expected) return false;
      expected *= sizes[d];
    }
    return true;
  }
  template <class T>
  T* ptr() const { return static_cast<T*>(data); }
};

}  // namespace serengeti
