// Process-level queries and switches: hardware threads, SIMD level, the portable-path override.
#include <pybind11/pybind11.h>

#include "serengeti/error.h"

#include "cpu/simd/cpu_features.h"
#include "cpu/threading/parallel_for.h"
#if SERENGETI_HAVE_EMU
#include "cuda/emu/emu_api.h"
#endif

namespace py = pybind11;

namespace serengeti::bindings {

void register_runtime(py::module_& m) {
  m.def("hardware_threads", &cpu::hardware_threads, "Number of hardware threads.");
  m.def("cpu_supports_avx2_fma", &cpu::cpu_supports_avx2_fma, "CPUID reports AVX2 and FMA.");
  m.def("avx2_enabled", &cpu::avx2_enabled, "The AVX2 kernels are compiled in, supported and not forced off.");
  m.def("set_force_portable", &cpu::set_force_portable, py::arg("force"),
        "Force the portable (non-SIMD) CPU kernels; tests use it to run both paths.");
  m.def("force_portable", &cpu::force_portable);
  m.attr("has_avx2_kernels") = static_cast<bool>(SERENGETI_HAVE_AVX2_TU);
  m.attr("has_cuda_kernels") = static_cast<bool>(SERENGETI_HAVE_CUDA);
  m.attr("has_emu_kernels") = static_cast<bool>(SERENGETI_HAVE_EMU);
#if SERENGETI_HAVE_EMU
  // Emulator controls for tests: the seed of the thread schedule and the number of host threads
  // that run blocks (see cuda/emu/README.md).
  m.def("emu_set_seed", &sg_emu::set_seed, py::arg("seed"));
  m.def("emu_seed", &sg_emu::seed);
  m.def("emu_set_worker_threads", [](int n) {
    SG_CHECK_ARG(n >= 1, "n: expected >= 1, got ", n);
    sg_emu::set_worker_threads(n);
  }, py::arg("n"));
  m.def("emu_worker_threads", &sg_emu::worker_threads);
  // The compute capability the emulated device stands for (80, 86, 89, 90): its shared memory
  // limit decides which kernel variants the launchers pick.
  m.def("emu_set_device_sm", [](int sm) {
    SG_CHECK_ARG(sm == 80 || sm == 86 || sm == 89 || sm == 90, "sm: expected 80, 86, 89 or 90, got ", sm);
    sg_emu::set_device_sm(sm);
  }, py::arg("sm"));
  m.def("emu_device_sm", &sg_emu::device_sm);
#endif
}

}  // namespace serengeti::bindings
