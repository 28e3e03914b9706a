#include "tensor_args.h"

#include <cstdint>
#include <string>

#include "serengeti/error.h"

namespace py = pybind11;

namespace serengeti::bindings {

TensorView view_from_py(const py::handle& obj, const char* name) {
  TensorView view;
  if (obj.is_none()) return view;
  SG_CHECK_ARG(py::isinstance<py::tuple>(obj), name, ": expected a tensor description tuple");
  const auto desc = obj.cast<py::tuple>();
  SG_CHECK_ARG(desc.size() == 4, name, ": expected (data_ptr, dtype, sizes, strides)");
  const auto ptr = desc[0].cast<std::uintptr_t>();
  const int code = desc[1].cast<int>();
  SG_CHECK_ARG(code >= 0 && code <= static_cast<int>(DType::kBFloat16), name, ": unknown dtype code ", code);
  const auto sizes = desc[2].cast<py::tuple>();
  const auto strides = desc[3].cast<py::tuple>();
  SG_CHECK_ARG(sizes.size() == strides.size(), name, ": sizes and strides differ in length");
  SG_CHECK_ARG(sizes.size() <= static_cast<size_t>(TensorView::kMaxDims), name, ": at most ",
               TensorView::kMaxDims, " dimensions are supported, got ", sizes.size());
  view.data = reinterpret_cast<void*>(ptr);
  view.dtype = static_cast<DType>(code);
  view.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < view.ndim; ++d) {
    view.sizes[d] = sizes[d].cast<int64_t>();
    view.strides[d] = strides[d].cast<int64_t>();
    SG_CHECK_ARG(view.sizes[d] >= 0, name, ": negative size");
    SG_CHECK_ARG(view.strides[d] >= 0, name, ": negative strides are not supported");
  }
  SG_CHECK_ARG(view.data != nullptr || view.numel() == 0, name, ": null data pointer");
  return view;
}

Backend backend_from_py(const std::string& name) {
  if (name == "cpu") return Backend::kCpu;
  if (name == "cuda") return Backend::kCuda;
  if (name == "emu") return Backend::kEmu;
  throw InvalidArgument("backend: expected 'cpu', 'cuda' or 'emu', got '" + name + "'");
}

}  // namespace serengeti::bindings
