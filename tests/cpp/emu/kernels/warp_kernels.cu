// Test kernels for warp shuffles, votes, matches and reductions, atomics under contention, and
// __half/__nv_bfloat16 conversions and arithmetic. Valid CUDA: also compiled by nvcc -arch=sm_80.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/emu/sg_launch.h"
#include "test_kernels.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

// `out` holds 16 results per thread, in this order:
//  0 shfl from lane 5        1 shfl_up by 3            2 shfl_down by 3      3 shfl_xor 7
//  4 shfl width 8 lane 2     5 shfl_down width 8 by 5  6 ballot(odd)         7 any(lane==31)
//  8 all(lane<32)            9 all(lane<31)           10 match_any(lane/4)  11 reduce_add(lane)
// 12 reduce_max(lane)        13 float butterfly sum   14 half shfl (x10)    15 double shfl (x10)
__global__ void warp_ops(int* out) {
  const int lane = threadIdx.x % 32;
  const unsigned full = 0xffffffffu;
  int* mine = out + 16 * threadIdx.x;
  mine[0] = __shfl_sync(full, lane * 10, 5);
  mine[1] = __shfl_up_sync(full, lane * 10, 3);
  mine[2] = __shfl_down_sync(full, lane * 10, 3);
  mine[3] = __shfl_xor_sync(full, lane * 10, 7);
  mine[4] = __shfl_sync(full, lane * 10, 2, 8);
  mine[5] = __shfl_down_sync(full, lane * 10, 5, 8);
  mine[6] = int(__ballot_sync(full, lane & 1));
  mine[7] = __any_sync(full, lane == 31);
  mine[8] = __all_sync(full, lane < 32);
  mine[9] = __all_sync(full, lane < 31);
  mine[10] = int(__match_any_sync(full, lane / 4));
  mine[11] = int(__reduce_add_sync(full, unsigned(lane)));
  mine[12] = int(__reduce_max_sync(full, unsigned(lane)));
  float v = float(lane);
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(full, v, offset);
  mine[13] = int(v);
  mine[14] = int(__half2float(__shfl_sync(full, __float2half(float(lane)), 9)) * 10.0f);
  mine[15] = int(__shfl_down_sync(full, double(lane), 1) * 10.0);
  __syncwarp();
}

__global__ void atomics(int* counters, float* float_sum, unsigned long long* ull_max, int* lock_sum) {
  __shared__ int block_counter;
  __shared__ int lock;
  if (threadIdx.x == 0) {
    block_counter = 0;
    lock = 0;
  }
  __syncthreads();
  atomicAdd(&block_counter, 1);
  atomicAdd(&counters[0], 1);
  atomicSub(&counters[1], 2);
  atomicMax(&counters[2], int(blockIdx.x * blockDim.x + threadIdx.x));
  atomicMin(&counters[3], -int(threadIdx.x));
  atomicOr(&counters[4], 1 << (threadIdx.x % 31));
  atomicAdd(float_sum, 0.5f);
  atomicMax(ull_max, 1000ull * blockIdx.x + threadIdx.x);
  // A spin lock in shared memory: only terminates if waiting threads let the holder run.
  while (atomicCAS(&lock, 0, 1) != 0) {
  }
  *lock_sum += 1;  // protected by the lock
  __threadfence_block();
  atomicExch(&lock, 0);
  __syncthreads();
  if (threadIdx.x == 0) atomicAdd(&counters[5], block_counter);
}

__global__ void half_conversions(const float* in, float* half_round_trip, float* bf16_round_trip,
                                 float* half_ops, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const __half h = __float2half(in[i]);
  const __nv_bfloat16 b = __float2bfloat16(in[i]);
  half_round_trip[i] = __half2float(h);
  bf16_round_trip[i] = __bfloat162float(b);
  const __half two = __float2half(2.0f);
  half_ops[4 * i + 0] = __half2float(h * two + h);            // 3h
  half_ops[4 * i + 1] = __half2float(__hfma(h, two, h));      // 3h, fused
  half_ops[4 * i + 2] = __bfloat162float(b * __float2bfloat16(2.0f));
  half_ops[4 * i + 3] = __low2float(__floats2half2_rn(in[i], 1.0f)) + __high2float(__floats2half2_rn(in[i], 1.0f));
}

}  // namespace

void launch_warp_ops(int* out, int threads) { SG_LAUNCH(warp_ops, 1, threads, 0, 0)(out); }

void launch_atomics(int* counters, float* float_sum, unsigned long long* ull_max, int* lock_sum,
                    int blocks, int threads) {
  SG_LAUNCH(atomics, blocks, threads, 0, 0)(counters, float_sum, ull_max, lock_sum);
}

void launch_half_conversions(const float* in, float* half_round_trip, float* bf16_round_trip,
                             float* half_ops, int n) {
  SG_LAUNCH(half_conversions, (n + 127) / 128, 128, 0, 0)(in, half_round_trip, bf16_round_trip, half_ops, n);
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
