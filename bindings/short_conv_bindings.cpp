// serengeti._C short_conv entry points: tensor descriptions -> params structs, GIL released.
#include <pybind11/pybind11.h>

#include <string>

#include "launch_args.h"
#include "serengeti/error.h"
#include "serengeti/short_conv.h"
#include "tensor_args.h"

namespace py = pybind11;

namespace serengeti::bindings {
namespace {

Activation activation_from_py(const std::string& name) {
  if (name == "none") return Activation::kNone;
  if (name == "silu") return Activation::kSilu;
  throw InvalidArgument("activation: expected None or 'silu', got '" + name + "'");
}

void forward(py::handle x, py::handle weight, py::handle bias, py::handle initial_state,
             const std::string& activation, py::handle y, py::handle final_state,
             const std::string& backend, int num_threads, std::uintptr_t stream) {
  ShortConvForwardParams p;
  p.x = view_from_py(x, "x");
  p.weight = view_from_py(weight, "weight");
  p.bias = view_from_py(bias, "bias");
  p.initial_state = view_from_py(initial_state, "initial_state");
  p.activation = activation_from_py(activation);
  p.y = view_from_py(y, "y");
  p.final_state = view_from_py(final_state, "final_state");
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  short_conv_forward(p);
}

ShortConvBackwardParams backward_params(py::handle x, py::handle weight, py::handle bias,
                                        py::handle initial_state, const std::string& activation,
                                        py::handle dy, py::handle dfinal_state, py::handle dx,
                                        py::handle dweight, py::handle dbias,
                                        py::handle dinitial_state, const std::string& backend,
                                        int num_threads, std::uintptr_t stream) {
  ShortConvBackwardParams p;
  p.x = view_from_py(x, "x");
  p.weight = view_from_py(weight, "weight");
  p.bias = view_from_py(bias, "bias");
  p.initial_state = view_from_py(initial_state, "initial_state");
  p.activation = activation_from_py(activation);
  p.dy = view_from_py(dy, "dy");
  p.dfinal_state = view_from_py(dfinal_state, "dfinal_state");
  p.dx = view_from_py(dx, "dx");
  p.dweight = view_from_py(dweight, "dweight");
  p.dbias = view_from_py(dbias, "dbias");
  p.dinitial_state = view_from_py(dinitial_state, "dinitial_state");
  p.launch = launch_config(backend, num_threads, stream);
  return p;
}

int64_t backward_workspace_bytes(py::handle x, py::handle weight, py::handle bias,
                                 py::handle initial_state, const std::string& activation,
                                 py::handle dy, py::handle dfinal_state, py::handle dx,
                                 py::handle dweight, py::handle dbias, py::handle dinitial_state,
                                 const std::string& backend, int num_threads) {
  return short_conv_backward_workspace_bytes(
      backward_params(x, weight, bias, initial_state, activation, dy, dfinal_state, dx, dweight,
                      dbias, dinitial_state, backend, num_threads, 0));
}

// The workspace (bytes from short_conv_backward_workspace_bytes) comes from torch's allocator.
void backward(py::handle x, py::handle weight, py::handle bias, py::handle initial_state,
              const std::string& activation, py::handle dy, py::handle dfinal_state, py::handle dx,
              py::handle dweight, py::handle dbias, py::handle dinitial_state,
              std::uintptr_t workspace, int64_t workspace_bytes, const std::string& backend,
              int num_threads, std::uintptr_t stream) {
  ShortConvBackwardParams p =
      backward_params(x, weight, bias, initial_state, activation, dy, dfinal_state, dx, dweight,
                      dbias, dinitial_state, backend, num_threads, stream);
  p.workspace = reinterpret_cast<void*>(workspace);
  p.workspace_bytes = workspace_bytes;
  py::gil_scoped_release no_gil;
  short_conv_backward(p);
}

void step(py::handle x, py::handle state, py::handle weight, py::handle bias,
          const std::string& activation, py::handle y, const std::string& backend,
          int num_threads, std::uintptr_t stream) {
  ShortConvStepParams p;
  p.x = view_from_py(x, "x");
  p.state = view_from_py(state, "state");
  p.weight = view_from_py(weight, "weight");
  p.bias = view_from_py(bias, "bias");
  p.activation = activation_from_py(activation);
  p.y = view_from_py(y, "y");
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  short_conv_step(p);
}

}  // namespace

void register_short_conv(py::module_& m) {
  using namespace pybind11::literals;
  m.def("short_conv_forward", &forward, "x"_a, "weight"_a, "bias"_a, "initial_state"_a,
        "activation"_a, "y"_a, "final_state"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);
  m.def("short_conv_backward_workspace_bytes", &backward_workspace_bytes, "x"_a, "weight"_a,
        "bias"_a, "initial_state"_a, "activation"_a, "dy"_a, "dfinal_state"_a, "dx"_a,
        "dweight"_a, "dbias"_a, "dinitial_state"_a, "backend"_a, "num_threads"_a);
  m.def("short_conv_backward", &backward, "x"_a, "weight"_a, "bias"_a, "initial_state"_a,
        "activation"_a, "dy"_a, "dfinal_state"_a, "dx"_a, "dweight"_a, "dbias"_a,
        "dinitial_state"_a, "workspace"_a, "workspace_bytes"_a, "backend"_a, "num_threads"_a,
        "stream"_a = 0);
  m.def("short_conv_step", &step, "x"_a, "state"_a, "weight"_a, "bias"_a, "activation"_a, "y"_a,
        "backend"_a, "num_threads"_a, "stream"_a = 0);
}

}  // namespace serengeti::bindings
