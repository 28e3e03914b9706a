// Conversion of the torch layer's tensor descriptions into serengeti::TensorView.
//
// The Python side (serengeti/ops/_views.py) describes a tensor as a tuple
//   (data_ptr: int, dtype_code: int, sizes: tuple[int, ...], strides: tuple[int, ...])
// with strides in elements, or None for an absent optional argument. dtype codes are the values
// of serengeti::DType. No torch header is involved, so one build serves every torch version.
#pragma once

#include <pybind11/pybind11.h>

#include "serengeti/backend.h"
#include "serengeti/tensor_view.h"

namespace serengeti::bindings {

// `name` is the argument's user-facing name, used in error messages.
TensorView view_from_py(const pybind11::handle& obj, const char* name);

// "cpu", "cuda" or "emu" -> Backend; anything else raises ValueError naming `backend`.
Backend backend_from_py(const std::string& name);

}  // namespace serengeti::bindings
