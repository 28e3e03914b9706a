// The emulated CUDA runtime calls that are not header-only (see emu_runtime_api.h).
#include "emu_runtime_api.h"

namespace sg_emu {
namespace detail {

cudaError_t exchange_last_error(cudaError_t value, bool reset) {
  // .tdata, not .tbss: see block_runner.cpp (zero-initialised thread-locals are poisoned).
  __attribute__((section(".tdata.sg_emu_runtime"))) static thread_local int last = 0;
  const cudaError_t previous = cudaError_t(last);
  if (value != cudaSuccess)
    last = value;
  else if (reset)
    last = cudaSuccess;
  return value != cudaSuccess ? value : previous;
}

}  // namespace detail

namespace runtime_api {

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaError(emulated)";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "emulated CUDA error";
  }
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int) {
  const int sm = device_sm();
  switch (attribute) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(shared_memory_optin_limit(sm)); break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = 49152; break;
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = worker_threads(); break;
    case cudaDevAttrComputeCapabilityMajor: *value = sm / 10; break;
    case cudaDevAttrComputeCapabilityMinor: *value = sm % 10; break;
    default: return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

}  // namespace runtime_api
}  // namespace sg_emu
