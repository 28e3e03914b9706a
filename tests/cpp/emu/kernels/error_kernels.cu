// Kernels that misuse CUDA ON PURPOSE, so the tests can check the emulator reports each misuse:
// divergent barriers, barriers with exited threads, out-of-bounds writes, bad launch
// configurations, exceptions, and warp collectives against their contract.
#include <mma.h>

#include "cuda/emu/sg_launch.h"
#include "test_kernels.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

__global__ void divergent_barrier() {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
}

__global__ void barrier_after_exit(int exiting) {
  if (int(threadIdx.x) < exiting) return;
  __syncthreads();
}

__global__ void write_past_end(float* out, int n, int extra) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n + extra) out[i] = 1.0f;  // BUG ON PURPOSE: bound should be n
}

__global__ void config_kernel() {
  extern __shared__ unsigned char config_dynamic[];
  if (threadIdx.x == 0) config_dynamic[0] = 1;
}

__global__ void throwing_kernel() {
  if (threadIdx.x == 3) __trap();
}

__global__ void shfl_mask_without_self(int* out) {
  out[threadIdx.x] = __shfl_sync(0x1u, int(threadIdx.x), 0);  // lanes 1..31 are not in the mask
}

__global__ void shfl_read_outside_mask(int* out) {
  out[threadIdx.x] = __shfl_sync(0x0000ffffu, int(threadIdx.x), 20);  // lane 20 is not in the mask
}

__global__ void shfl_partial_participation(int* out) {
  if (threadIdx.x < 8) out[threadIdx.x] = __shfl_sync(0xffffffffu, int(threadIdx.x), 0);
  __syncthreads();
}

__global__ void wmma_partial_warp(float* out) {
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> acc;
  nvcuda::wmma::fill_fragment(acc, 0.0f);
  nvcuda::wmma::store_matrix_sync(out, acc, 16, nvcuda::wmma::mem_row_major);
}

}  // namespace

void launch_divergent_barrier(int threads) { SG_LAUNCH(divergent_barrier, 1, threads, 0, 0)(); }

void launch_barrier_after_exit(int threads, int exiting) {
  SG_LAUNCH(barrier_after_exit, 1, threads, 0, 0)(exiting);
}

void launch_write_past_end(float* out, int n, int extra) {
  SG_LAUNCH(write_past_end, (n + extra + 63) / 64, 64, 0, 0)(out, n, extra);
}

void launch_with_config(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        std::size_t dynamic_shared) {
  SG_LAUNCH(config_kernel, dim3(gx, gy, gz), dim3(bx, by, bz), dynamic_shared, 0)();
}

int opt_in_dynamic_shared(int bytes) {
  return int(cudaFuncSetAttribute(config_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

void declare_config_kernel_sm(int sm) { SG_EMU_TARGET_SM(config_kernel, sm); }

void launch_throwing_kernel() { SG_LAUNCH(throwing_kernel, 1, 32, 0, 0)(); }

void launch_shfl_mask_without_self() {
  static int out[32];
  SG_LAUNCH(shfl_mask_without_self, 1, 32, 0, 0)(out);
}

void launch_shfl_read_outside_mask() {
  static int out[32];
  SG_LAUNCH(shfl_read_outside_mask, 1, 16, 0, 0)(out);
}

void launch_shfl_partial_participation() {
  static int out[32];
  SG_LAUNCH(shfl_partial_participation, 1, 32, 0, 0)(out);
}

void launch_wmma_partial_warp() {
  alignas(32) static float out[256];
  SG_LAUNCH(wmma_partial_warp, 1, 16, 0, 0)(out);
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
