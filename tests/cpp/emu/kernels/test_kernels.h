// Host entry points of the emulator's test kernels (defined in kernels/*.cu, which compile both
// with nvcc and with the emulator). Plain C++: the test drivers do not see any CUDA syntax.
#pragma once

#include <cstddef>
#include <cstdint>

namespace serengeti {
namespace emu {

// basic_kernels.cu
void launch_write_indices(unsigned* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                          unsigned by, unsigned bz);
void launch_block_sum_static(const float* in, float* out, int n, int threads);  // one block per row
void launch_block_sum_dynamic(const float* in, float* out, int n, int threads);
void launch_block_sum_racy(const float* in, float* out, int n, int threads);    // missing barrier
void launch_read_static_shared_first(std::uint32_t* out, int threads);
void launch_read_dynamic_shared_first(std::uint32_t* out, int threads, std::size_t bytes);
void launch_syncthreads_count(int* out, int threads, int modulus);
void launch_empty(int blocks, int threads);
void launch_barrier_loop(int blocks, int threads, int iterations);
void launch_shuffle_reduce_loop(float* out, int blocks, int threads, int iterations);

// error_kernels.cu
void launch_divergent_barrier(int threads);
void launch_barrier_after_exit(int threads, int exiting);
void launch_write_past_end(float* out, int n, int extra);
void launch_with_config(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        std::size_t dynamic_shared);
int opt_in_dynamic_shared(int bytes);  // cudaFuncSetAttribute result for the config kernel
void declare_config_kernel_sm(int sm);
void launch_throwing_kernel();
void launch_shfl_mask_without_self();
void launch_shfl_read_outside_mask();
void launch_shfl_partial_participation();
void launch_wmma_partial_warp();

// warp_kernels.cu
void launch_warp_ops(int* out, int threads);  // see warp_kernels.cu for the layout of `out`
void launch_atomics(int* counters, float* float_sum, unsigned long long* ull_max, int* lock_sum,
                    int blocks, int threads);
void launch_half_conversions(const float* in, float* half_round_trip, float* bf16_round_trip,
                             float* half_ops, int n);

// math_kernels.cu: out[4i..4i+3] = sincospif(x_i) as (sin, cos), sinpif(x_i), cospif(x_i)
void launch_pi_trig(const float* x, float* out, int n);

// wmma_kernels.cu
void launch_wmma_half(const void* a, const void* b, const float* c, float* d, bool a_col_major,
                      bool b_col_major, bool c_col_major, bool d_col_major);
void launch_wmma_bf16(const void* a, const void* b, const float* c, float* d, bool a_col_major,
                      bool b_col_major, bool c_col_major, bool d_col_major);

}  // namespace emu
}  // namespace serengeti
