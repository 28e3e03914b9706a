// serengeti._C modal entry points (modal filters, modal state and scan, StripedHyena's gated conv):
// tensor descriptions -> params structs, run with the GIL released.
#include <pybind11/pybind11.h>

#include <string>

#include "launch_args.h"
#include "serengeti/error.h"
#include "serengeti/modal.h"
#include "tensor_args.h"

namespace py = pybind11;

namespace serengeti::bindings {
namespace {

GatedConvLayout layout_from_py(const std::string& name) {
  if (name == "column_split") return GatedConvLayout::kColumnSplit;
  if (name == "thirds") return GatedConvLayout::kThirds;
  if (name == "interleave") return GatedConvLayout::kInterleave;
  throw InvalidArgument("layout: expected 'column_split', 'thirds' or 'interleave', got '" + name + "'");
}

#define SG_VIEW(field, arg) p.field = view_from_py(arg, #arg)

void kernel_forward(py::handle residues, py::handle poles, py::handle h, const std::string& backend,
                    int num_threads, std::uintptr_t stream) {
  ModalKernelParams p;
  SG_VIEW(residues, residues);
  SG_VIEW(poles, poles);
  SG_VIEW(h, h);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  modal_kernel(p);
}

void kernel_backward(py::handle residues, py::handle poles, py::handle dh, py::handle dresidues,
                     py::handle dpoles, const std::string& backend, int num_threads, std::uintptr_t stream) {
  ModalKernelBackwardParams p;
  SG_VIEW(residues, residues);
  SG_VIEW(poles, poles);
  SG_VIEW(dh, dh);
  SG_VIEW(dresidues, dresidues);
  SG_VIEW(dpoles, dpoles);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  modal_kernel_backward(p);
}

void state_forward(py::handle w, py::handle poles, py::handle initial_state, py::handle state,
                   const std::string& backend, int num_threads, std::uintptr_t stream) {
  ModalStateParams p;
  SG_VIEW(w, w);
  SG_VIEW(poles, poles);
  SG_VIEW(initial_state, initial_state);
  SG_VIEW(state, state);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  modal_state(p);
}

void state_backward(py::handle w, py::handle poles, py::handle initial_state, py::handle dstate,
                    py::handle dw, py::handle dpoles, py::handle dinitial_state, const std::string& backend,
                    int num_threads, std::uintptr_t stream) {
  ModalStateBackwardParams p;
  SG_VIEW(w, w);
  SG_VIEW(poles, poles);
  SG_VIEW(initial_state, initial_state);
  SG_VIEW(dstate, dstate);
  SG_VIEW(dw, dw);
  SG_VIEW(dpoles, dpoles);
  SG_VIEW(dinitial_state, dinitial_state);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  modal_state_backward(p);
}

void scan_forward(py::handle w, py::handle residues, py::handle poles, py::handle D, py::handle initial_state,
                  py::handle y, py::handle final_state, const std::string& backend, int num_threads,
                  std::uintptr_t stream) {
  ModalScanParams p;
  SG_VIEW(w, w);
  SG_VIEW(residues, residues);
  SG_VIEW(poles, poles);
  SG_VIEW(D, D);
  SG_VIEW(initial_state, initial_state);
  SG_VIEW(y, y);
  SG_VIEW(final_state, final_state);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  modal_scan(p);
}

void scan_backward(py::handle w, py::handle residues, py::handle poles, py::handle D, py::handle initial_state,
                   py::handle dy, py::handle dfinal_state, py::handle dw, py::handle dresidues,
                   py::handle dpoles, py::handle dD, py::handle dinitial_state, const std::string& backend,
                   int num_threads, std::uintptr_t stream) {
  ModalScanBackwardParams p;
  SG_VIEW(w, w);
  SG_VIEW(residues, residues);
  SG_VIEW(poles, poles);
  SG_VIEW(D, D);
  SG_VIEW(initial_state, initial_state);
  SG_VIEW(dy, dy);
  SG_VIEW(dfinal_state, dfinal_state);
  SG_VIEW(dw, dw);
  SG_VIEW(dresidues, dresidues);
  SG_VIEW(dpoles, dpoles);
  SG_VIEW(dD, dD);
  SG_VIEW(dinitial_state, dinitial_state);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  modal_scan_backward(p);
}

void gated_step(py::handle z, py::handle fir_state, py::handle fir_weight, py::handle fir_bias,
                py::handle poles, py::handle residues, py::handle D, py::handle iir_state,
                const std::string& layout, int64_t heads, py::handle y, const std::string& backend,
                int num_threads, std::uintptr_t stream) {
  GatedConvStepParams p;
  SG_VIEW(z, z);
  SG_VIEW(fir_state, fir_state);
  SG_VIEW(fir_weight, fir_weight);
  SG_VIEW(fir_bias, fir_bias);
  SG_VIEW(poles, poles);
  SG_VIEW(residues, residues);
  SG_VIEW(D, D);
  SG_VIEW(iir_state, iir_state);
  p.layout = layout_from_py(layout);
  p.heads = heads;
  SG_VIEW(y, y);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  gated_conv_step(p);
}

void gated_recurrence(py::handle z, py::handle fir_weight, py::handle fir_bias, py::handle poles,
                      py::handle residues, py::handle D, const std::string& layout, int64_t heads,
                      py::handle fir_state, py::handle iir_state, py::handle y, py::handle fir_state_out,
                      py::handle iir_state_out, const std::string& backend, int num_threads,
                      std::uintptr_t stream) {
  GatedConvRecurrenceParams p;
  SG_VIEW(z, z);
  SG_VIEW(fir_weight, fir_weight);
  SG_VIEW(fir_bias, fir_bias);
  SG_VIEW(poles, poles);
  SG_VIEW(residues, residues);
  SG_VIEW(D, D);
  p.layout = layout_from_py(layout);
  p.heads = heads;
  SG_VIEW(fir_state_in, fir_state);
  SG_VIEW(iir_state_in, iir_state);
  SG_VIEW(y, y);
  SG_VIEW(fir_state_out, fir_state_out);
  SG_VIEW(iir_state_out, iir_state_out);
  p.launch = launch_config(backend, num_threads, stream);
  py::gil_scoped_release no_gil;
  gated_conv_recurrence(p);
}

#undef SG_VIEW

}  // namespace

void register_modal(py::module_& m) {
  using namespace pybind11::literals;
  m.def("modal_kernel_forward", &kernel_forward, "residues"_a, "poles"_a, "h"_a, "backend"_a,
        "num_threads"_a, "stream"_a = 0);
  m.def("modal_kernel_backward", &kernel_backward, "residues"_a, "poles"_a, "dh"_a, "dresidues"_a,
        "dpoles"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);
  m.def("modal_state_forward", &state_forward, "w"_a, "poles"_a, "initial_state"_a, "state"_a,
        "backend"_a, "num_threads"_a, "stream"_a = 0);
  m.def("modal_state_backward", &state_backward, "w"_a, "poles"_a, "initial_state"_a, "dstate"_a,
        "dw"_a, "dpoles"_a, "dinitial_state"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);
  m.def("modal_scan_forward", &scan_forward, "w"_a, "residues"_a, "poles"_a, "D"_a, "initial_state"_a,
        "y"_a, "final_state"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);
  m.def("modal_scan_backward", &scan_backward, "w"_a, "residues"_a, "poles"_a, "D"_a,
        "initial_state"_a, "dy"_a, "dfinal_state"_a, "dw"_a, "dresidues"_a, "dpoles"_a, "dD"_a,
        "dinitial_state"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);
  m.def("gated_conv_step", &gated_step, "z"_a, "fir_state"_a, "fir_weight"_a, "fir_bias"_a, "poles"_a,
        "residues"_a, "D"_a, "iir_state"_a, "layout"_a, "heads"_a, "y"_a, "backend"_a, "num_threads"_a,
        "stream"_a = 0);
  m.def("gated_conv_recurrence", &gated_recurrence, "z"_a, "fir_weight"_a, "fir_bias"_a, "poles"_a,
        "residues"_a, "D"_a, "layout"_a, "heads"_a, "fir_state"_a, "iir_state"_a, "y"_a,
        "fir_state_out"_a, "iir_state_out"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);
}

}  // namespace serengeti::bindings
