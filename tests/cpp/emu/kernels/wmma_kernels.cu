// A one-warp 16x16x16 wmma product D = A * B + C for half and bf16 inputs, every combination of
// row/col-major operands. Valid CUDA: also compiled by nvcc -arch=sm_80.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include "cuda/emu/sg_launch.h"
#include "test_kernels.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

namespace wmma = nvcuda::wmma;

template <class T, class LayoutA, class LayoutB>
__global__ void wmma_product(const T* a, const T* b, const float* c, float* d, bool c_col_major,
                             bool d_col_major) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LayoutA> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LayoutB> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::load_matrix_sync(acc, c, 16, c_col_major ? wmma::mem_col_major : wmma::mem_row_major);
  wmma::mma_sync(acc, fa, fb, acc);
  for (int i = 0; i < acc.num_elements; ++i) acc.x[i] *= 2.0f;  // element access, layout-free
  wmma::store_matrix_sync(d, acc, 16, d_col_major ? wmma::mem_col_major : wmma::mem_row_major);
}

template <class T>
void launch_any_layout(const void* a, const void* b, const float* c, float* d, bool a_col,
                       bool b_col, bool c_col, bool d_col) {
  const T* ta = static_cast<const T*>(a);
  const T* tb = static_cast<const T*>(b);
  if (!a_col && !b_col)
    SG_LAUNCH(wmma_product<T, wmma::row_major, wmma::row_major>, 1, 32, 0, 0)(ta, tb, c, d, c_col, d_col);
  else if (!a_col && b_col)
    SG_LAUNCH(wmma_product<T, wmma::row_major, wmma::col_major>, 1, 32, 0, 0)(ta, tb, c, d, c_col, d_col);
  else if (a_col && !b_col)
    SG_LAUNCH(wmma_product<T, wmma::col_major, wmma::row_major>, 1, 32, 0, 0)(ta, tb, c, d, c_col, d_col);
  else
    SG_LAUNCH(wmma_product<T, wmma::col_major, wmma::col_major>, 1, 32, 0, 0)(ta, tb, c, d, c_col, d_col);
}

}  // namespace

void launch_wmma_half(const void* a, const void* b, const float* c, float* d, bool a_col_major,
                      bool b_col_major, bool c_col_major, bool d_col_major) {
  launch_any_layout<__half>(a, b, c, d, a_col_major, b_col_major, c_col_major, d_col_major);
}

void launch_wmma_bf16(const void* a, const void* b, const float* c, float* d, bool a_col_major,
                      bool b_col_major, bool c_col_major, bool d_col_major) {
  launch_any_layout<__nv_bfloat16>(a, b, c, d, a_col_major, b_col_major, c_col_major, d_col_major);
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
