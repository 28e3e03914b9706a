// The pybind11 module serengeti._C. Each op family registers its functions from its own file.
// std::invalid_argument (serengeti::InvalidArgument) becomes ValueError and std::runtime_error
// (serengeti::InternalError) RuntimeError through pybind11's standard translation.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace serengeti::bindings {
void register_fftconv(py::module_& m);
void register_runtime(py::module_& m);
void register_short_conv(py::module_& m);
void register_modal(py::module_& m);
}  // namespace serengeti::bindings

PYBIND11_MODULE(_C, m) {
  m.doc() = "Serengeti kernels (framework-free C++ core bound with pybind11)";
  serengeti::bindings::register_runtime(m);
  serengeti::bindings::register_fftconv(m);
  serengeti::bindings::register_short_conv(m);
  serengeti::bindings::register_modal(m);
}
