// Test kernels for indices, barriers, shared memory (static and dynamic) and the races the
// randomised scheduler must expose. Valid CUDA: also compiled by nvcc -arch=sm_80.
#include "cuda/emu/sg_launch.h"
#include "test_kernels.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

__global__ void write_indices(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  unsigned* slot = out + 8 * (block * threads + thread);
  slot[0] = threadIdx.x; slot[1] = threadIdx.y; slot[2] = threadIdx.z;
  slot[3] = blockIdx.x; slot[4] = blockIdx.y; slot[5] = blockIdx.z;
  slot[6] = blockDim.x * 1000 + blockDim.y * 100 + blockDim.z;
  slot[7] = gridDim.x * 1000 + gridDim.y * 100 + gridDim.z;
}

// Tree reduction through static shared memory, with a barrier between every level.
template <int MaxThreads>
__global__ void block_sum_static(const float* in, float* out, int n) {
  __shared__ float partial[MaxThreads];
  float sum = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sum += in[blockIdx.x * n + i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

// The same through dynamic shared memory.
__global__ void block_sum_dynamic(const float* in, float* out, int n) {
  extern __shared__ float partial_dynamic[];
  float sum = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sum += in[blockIdx.x * n + i];
  partial_dynamic[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) partial_dynamic[threadIdx.x] += partial_dynamic[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial_dynamic[0];
}

// BUG ON PURPOSE: no barrier between writing the partial sums and the first reduction level, so a
// thread may read a neighbour's slot before the neighbour wrote it.
__global__ void block_sum_racy(const float* in, float* out, int n) {
  __shared__ float partial_racy[1024];
  float sum = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sum += in[blockIdx.x * n + i];
  partial_racy[threadIdx.x] = sum;
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) partial_racy[threadIdx.x] += partial_racy[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial_racy[0];
}

// Reads shared memory before anything wrote it: must see the emulator's garbage.
__global__ void read_static_shared_first(unsigned* out) {
  __shared__ unsigned never_written[256];
  out[threadIdx.x] = never_written[threadIdx.x];
}

__global__ void read_dynamic_shared_first(unsigned* out) {
  extern __shared__ unsigned never_written_dynamic[];
  out[threadIdx.x] = never_written_dynamic[threadIdx.x];
}

__global__ void syncthreads_count(int* out, int modulus) {
  const int count = __syncthreads_count(threadIdx.x % modulus == 0);
  const int all = __syncthreads_and(threadIdx.x < 100000);
  const int any = __syncthreads_or(threadIdx.x == 5);
  if (threadIdx.x == 0) {
    out[0] = count;
    out[1] = all;
    out[2] = any;
  }
}

__global__ void empty_kernel() {}

__global__ void barrier_loop(int iterations) {
  for (int i = 0; i < iterations; ++i) __syncthreads();
}

__global__ void shuffle_reduce_loop(float* out, int iterations) {
  float v = float(threadIdx.x);
  for (int i = 0; i < iterations; ++i)
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

}  // namespace

void launch_write_indices(unsigned* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                          unsigned by, unsigned bz) {
  SG_LAUNCH(write_indices, dim3(gx, gy, gz), dim3(bx, by, bz), 0, 0)(out);
}

void launch_block_sum_static(const float* in, float* out, int n, int threads) {
  SG_LAUNCH(block_sum_static<1024>, 1, threads, 0, 0)(in, out, n);
}

void launch_block_sum_dynamic(const float* in, float* out, int n, int threads) {
  SG_LAUNCH(block_sum_dynamic, 1, threads, threads * sizeof(float), 0)(in, out, n);
}

void launch_block_sum_racy(const float* in, float* out, int n, int threads) {
  SG_LAUNCH(block_sum_racy, 1, threads, 0, 0)(in, out, n);
}

void launch_read_static_shared_first(std::uint32_t* out, int threads) {
  SG_LAUNCH(read_static_shared_first, 1, threads, 0, 0)(out);
}

void launch_read_dynamic_shared_first(std::uint32_t* out, int threads, std::size_t bytes) {
  SG_LAUNCH(read_dynamic_shared_first, 1, threads, bytes, 0)(out);
}

void launch_syncthreads_count(int* out, int threads, int modulus) {
  SG_LAUNCH(syncthreads_count, 1, threads, 0, 0)(out, modulus);
}

void launch_empty(int blocks, int threads) { SG_LAUNCH(empty_kernel, blocks, threads, 0, 0)(); }

void launch_barrier_loop(int blocks, int threads, int iterations) {
  SG_LAUNCH(barrier_loop, blocks, threads, 0, 0)(iterations);
}

void launch_shuffle_reduce_loop(float* out, int blocks, int threads, int iterations) {
  SG_LAUNCH(shuffle_reduce_loop, blocks, threads, 0, 0)(out, iterations);
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
