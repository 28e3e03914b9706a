// serengeti._C fftconv entry points: fill the params structs from tensor descriptions and run the
// op with the GIL released (so concurrent Python threads overlap). Each op has a *_workspace_bytes
// twin taking the same arguments; the torch layer allocates that many bytes on the tensors'
// device (torch's caching allocator on CUDA) and passes them as (workspace, workspace_bytes).
#include <pybind11/pybind11.h>

#include "launch_args.h"
#include "serengeti/fftconv.h"
#include "tensor_args.h"

namespace py = pybind11;

namespace serengeti::bindings {
namespace {

FftConvForwardParams forward_params(py::handle u, py::handle k, py::handle k_f, py::handle D,
                                    py::handle pregate, py::handle postgate, bool bidirectional,
                                    py::handle y, const std::string& backend, int num_threads,
                                    std::uintptr_t stream) {
  FftConvForwardParams p;
  p.u = view_from_py(u, "u");
  p.k = view_from_py(k, "k");
  p.k_f = view_from_py(k_f, "k_f");
  p.D = view_from_py(D, "D");
  p.pregate = view_from_py(pregate, "pregate");
  p.postgate = view_from_py(postgate, "postgate");
  p.bidirectional = bidirectional;
  p.y = view_from_py(y, "y");
  p.launch = launch_config(backend, num_threads, stream);
  return p;
}

FftConvBackwardParams backward_params(py::handle dy, py::handle u, py::handle k, py::handle k_f,
                                      py::handle D, py::handle pregate, py::handle postgate,
                                      bool bidirectional, py::handle du, py::handle dk,
                                      py::handle dk_f, py::handle dD, py::handle dpregate,
                                      py::handle dpostgate, const std::string& backend,
                                      int num_threads, std::uintptr_t stream) {
  FftConvBackwardParams p;
  p.dy = view_from_py(dy, "dy");
  p.u = view_from_py(u, "u");
  p.k = view_from_py(k, "k");
  p.k_f = view_from_py(k_f, "k_f");
  p.D = view_from_py(D, "D");
  p.pregate = view_from_py(pregate, "pregate");
  p.postgate = view_from_py(postgate, "postgate");
  p.bidirectional = bidirectional;
  p.du = view_from_py(du, "du");
  p.dk = view_from_py(dk, "dk");
  p.dk_f = view_from_py(dk_f, "dk_f");
  p.dD = view_from_py(dD, "dD");
  p.dpregate = view_from_py(dpregate, "dpregate");
  p.dpostgate = view_from_py(dpostgate, "dpostgate");
  p.launch = launch_config(backend, num_threads, stream);
  return p;
}

FftFilterParams filter_params(py::handle k, int64_t length, bool bidirectional, py::handle k_f,
                              const std::string& backend, int num_threads, std::uintptr_t stream) {
  FftFilterParams p;
  p.k = view_from_py(k, "k");
  p.length = length;
  p.bidirectional = bidirectional;
  p.k_f = view_from_py(k_f, "k_f");
  p.launch = launch_config(backend, num_threads, stream);
  return p;
}

FftFilterBackwardParams filter_backward_params(py::handle dk_f, int64_t length, bool bidirectional,
                                               py::handle dk, const std::string& backend,
                                               int num_threads, std::uintptr_t stream) {
  FftFilterBackwardParams p;
  p.dk_f = view_from_py(dk_f, "dk_f");
  p.length = length;
  p.bidirectional = bidirectional;
  p.dk = view_from_py(dk, "dk");
  p.launch = launch_config(backend, num_threads, stream);
  return p;
}

// Runs `op` on params with the workspace attached, without the GIL.
template <class Params>
void run(Params p, std::uintptr_t workspace, int64_t workspace_bytes, void (*op)(const Params&)) {
  p.workspace = reinterpret_cast<void*>(workspace);
  p.workspace_bytes = workspace_bytes;
  py::gil_scoped_release no_gil;
  op(p);
}

}  // namespace

void register_fftconv(py::module_& m) {
  using namespace pybind11::literals;
  m.def("fftconv_fft_size", &fftconv_fft_size, "length"_a,
        "Transform size N used for sequence length L (power of two >= max(2L-1, 16)).");

  m.def("fftconv_forward_workspace_bytes",
        [](py::handle u, py::handle k, py::handle k_f, py::handle D, py::handle pregate,
           py::handle postgate, bool bidirectional, py::handle y, const std::string& backend,
           int num_threads) {
          return fftconv_forward_workspace_bytes(forward_params(
              u, k, k_f, D, pregate, postgate, bidirectional, y, backend, num_threads, 0));
        },
        "u"_a, "k"_a, "k_f"_a, "D"_a, "pregate"_a, "postgate"_a, "bidirectional"_a, "y"_a,
        "backend"_a, "num_threads"_a);
  m.def("fftconv_forward",
        [](py::handle u, py::handle k, py::handle k_f, py::handle D, py::handle pregate,
           py::handle postgate, bool bidirectional, py::handle y, std::uintptr_t workspace,
           int64_t workspace_bytes, const std::string& backend, int num_threads,
           std::uintptr_t stream) {
          run(forward_params(u, k, k_f, D, pregate, postgate, bidirectional, y, backend,
                             num_threads, stream),
              workspace, workspace_bytes, &fftconv_forward);
        },
        "u"_a, "k"_a, "k_f"_a, "D"_a, "pregate"_a, "postgate"_a, "bidirectional"_a, "y"_a,
        "workspace"_a, "workspace_bytes"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);

  m.def("fftconv_backward_workspace_bytes",
        [](py::handle dy, py::handle u, py::handle k, py::handle k_f, py::handle D,
           py::handle pregate, py::handle postgate, bool bidirectional, py::handle du,
           py::handle dk, py::handle dk_f, py::handle dD, py::handle dpregate,
           py::handle dpostgate, const std::string& backend, int num_threads) {
          return fftconv_backward_workspace_bytes(
              backward_params(dy, u, k, k_f, D, pregate, postgate, bidirectional, du, dk, dk_f,
                              dD, dpregate, dpostgate, backend, num_threads, 0));
        },
        "dy"_a, "u"_a, "k"_a, "k_f"_a, "D"_a, "pregate"_a, "postgate"_a, "bidirectional"_a,
        "du"_a, "dk"_a, "dk_f"_a, "dD"_a, "dpregate"_a, "dpostgate"_a, "backend"_a,
        "num_threads"_a);
  m.def("fftconv_backward",
        [](py::handle dy, py::handle u, py::handle k, py::handle k_f, py::handle D,
           py::handle pregate, py::handle postgate, bool bidirectional, py::handle du,
           py::handle dk, py::handle dk_f, py::handle dD, py::handle dpregate,
           py::handle dpostgate, std::uintptr_t workspace, int64_t workspace_bytes,
           const std::string& backend, int num_threads, std::uintptr_t stream) {
          run(backward_params(dy, u, k, k_f, D, pregate, postgate, bidirectional, du, dk, dk_f,
                              dD, dpregate, dpostgate, backend, num_threads, stream),
              workspace, workspace_bytes, &fftconv_backward);
        },
        "dy"_a, "u"_a, "k"_a, "k_f"_a, "D"_a, "pregate"_a, "postgate"_a, "bidirectional"_a,
        "du"_a, "dk"_a, "dk_f"_a, "dD"_a, "dpregate"_a, "dpostgate"_a, "workspace"_a,
        "workspace_bytes"_a, "backend"_a, "num_threads"_a, "stream"_a = 0);

  m.def("fft_filter_forward_workspace_bytes",
        [](py::handle k, int64_t length, bool bidirectional, py::handle k_f,
           const std::string& backend, int num_threads) {
          return fft_filter_forward_workspace_bytes(
              filter_params(k, length, bidirectional, k_f, backend, num_threads, 0));
        },
        "k"_a, "length"_a, "bidirectional"_a, "k_f"_a, "backend"_a, "num_threads"_a);
  m.def("fft_filter_forward",
        [](py::handle k, int64_t length, bool bidirectional, py::handle k_f,
           std::uintptr_t workspace, int64_t workspace_bytes, const std::string& backend,
           int num_threads, std::uintptr_t stream) {
          run(filter_params(k, length, bidirectional, k_f, backend, num_threads, stream), workspace,
              workspace_bytes, &fft_filter_forward);
        },
        "k"_a, "length"_a, "bidirectional"_a, "k_f"_a, "workspace"_a, "workspace_bytes"_a,
        "backend"_a, "num_threads"_a, "stream"_a = 0);

  m.def("fft_filter_backward_workspace_bytes",
        [](py::handle dk_f, int64_t length, bool bidirectional, py::handle dk,
           const std::string& backend, int num_threads) {
          return fft_filter_backward_workspace_bytes(
              filter_backward_params(dk_f, length, bidirectional, dk, backend, num_threads, 0));
        },
        "dk_f"_a, "length"_a, "bidirectional"_a, "dk"_a, "backend"_a, "num_threads"_a);
  m.def("fft_filter_backward",
        [](py::handle dk_f, int64_t length, bool bidirectional, py::handle dk,
           std::uintptr_t workspace, int64_t workspace_bytes, const std::string& backend,
           int num_threads, std::uintptr_t stream) {
          run(filter_backward_params(dk_f, length, bidirectional, dk, backend, num_threads, stream),
              workspace, workspace_bytes, &fft_filter_backward);
        },
        "dk_f"_a, "length"_a, "bidirectional"_a, "dk"_a, "workspace"_a, "workspace_bytes"_a,
        "backend"_a, "num_threads"_a, "stream"_a = 0);
}

}  // namespace serengeti::bindings
