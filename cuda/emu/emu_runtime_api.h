// The host side of an emulated launch (what SG_LAUNCH expands to) and the CUDA runtime calls a
// launcher may make (cudaFuncSetAttribute, cudaGetLastError, ...), emulated. They live in
// sg_emu::runtime_api and are made visible by a using-directive, so none of them is a global
// symbol that could clash with libcudart when both backends are linked into one module.
#pragma once

#include <cstddef>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include <builtin_types.h>

#include "emu_api.h"
#include "launch_request.h"

namespace sg_emu {
namespace detail {

// Holds the kernel's parameters converted to the kernel's own parameter types (like the CUDA
// launch does) and runs the launch when called with them.
template <class... Params>
class KernelLaunch {
 public:
  KernelLaunch(void (*kernel)(Params...), const char* name, dim3 grid, dim3 block,
               std::size_t shared_bytes, const void* stream)
      : kernel_(kernel), name_(name), grid_(grid), block_(block), shared_bytes_(shared_bytes),
        stream_(stream) {}

  template <class... Args>
  void operator()(Args&&... args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "wrong number of kernel arguments");
    std::tuple<std::decay_t<Params>...> arguments(std::forward<Args>(args)...);
    LaunchRequest request{reinterpret_cast<const void*>(kernel_), name_, grid_, block_,
                          shared_bytes_, stream_, &invoke, &arguments};
    launch_kernel(request);
  }

 private:
  static void invoke(const void* kernel, void* arguments) {
    auto* k = reinterpret_cast<void (*)(Params...)>(const_cast<void*>(kernel));
    // Each emulated thread gets its own copy of the parameters, as on the device.
    std::apply([k](const auto&... a) { k(a...); },
               *static_cast<std::tuple<std::decay_t<Params>...>*>(arguments));
  }

  void (*kernel_)(Params...);
  const char* name_;
  dim3 grid_, block_;
  std::size_t shared_bytes_;
  const void* stream_;
};

template <class... Params>
KernelLaunch<Params...> make_launch(void (*kernel)(Params...), const char* name, dim3 grid,
                                    dim3 block, std::size_t shared_bytes, const void* stream) {
  return KernelLaunch<Params...>(kernel, name, grid, block, shared_bytes, stream);
}
template <class... Params>
KernelLaunch<Params...> make_launch(void (*kernel)(Params...), const char* name, dim3 grid,
                                    dim3 block, std::size_t shared_bytes = 0) {
  return KernelLaunch<Params...>(kernel, name, grid, block, shared_bytes, nullptr);
}

// The last error of the emulated runtime calls on this thread (launch failures throw instead).
cudaError_t exchange_last_error(cudaError_t value, bool reset);

}  // namespace detail

namespace runtime_api {

inline cudaError_t cudaGetLastError() { return detail::exchange_last_error(cudaSuccess, true); }
inline cudaError_t cudaPeekAtLastError() { return detail::exchange_last_error(cudaSuccess, false); }
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

// Launches run synchronously, so every synchronisation is already done.
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* device) { *device = 0; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device);

template <class... Params>
cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attribute, int value) {
  if (attribute == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (!detail::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value))
      return detail::exchange_last_error(cudaErrorInvalidValue, false), cudaErrorInvalidValue;
    return cudaSuccess;
  }
  if (attribute == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
  detail::exchange_last_error(cudaErrorInvalidValue, false);
  return cudaErrorInvalidValue;
}

// __constant__ variables are ordinary globals in the emulator.
template <class T>
cudaError_t cudaMemcpyToSymbol(T& symbol, const void* source, std::size_t bytes,
                               std::size_t offset = 0, cudaMemcpyKind = cudaMemcpyHostToDevice) {
  if (offset + bytes > sizeof(T)) return cudaErrorInvalidValue;
  std::memcpy(reinterpret_cast<char*>(&symbol) + offset, source, bytes);
  return cudaSuccess;
}
template <class T>
cudaError_t cudaMemcpyToSymbolAsync(T& symbol, const void* source, std::size_t bytes,
                                    std::size_t offset = 0, cudaMemcpyKind kind = cudaMemcpyHostToDevice,
                                    cudaStream_t = nullptr) {
  return cudaMemcpyToSymbol(symbol, source, bytes, offset, kind);
}

}  // namespace runtime_api
}  // namespace sg_emu
