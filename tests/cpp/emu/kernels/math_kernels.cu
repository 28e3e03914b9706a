// Test kernel for the emulated trigonometric intrinsics of "pi-scaled" angles (sincospif, sinpif,
// cospif), which FFT twiddle factors rely on. Valid CUDA: also compiled by nvcc -arch=sm_80.
#include "cuda/emu/sg_launch.h"
#include "test_kernels.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

// out[4i .. 4i+3] = sincospif(x_i) (sin, cos), sinpif(x_i), cospif(x_i).
__global__ void pi_trig(const float* x, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float s, c;
  sincospif(x[i], &s, &c);
  out[4 * i + 0] = s;
  out[4 * i + 1] = c;
  out[4 * i + 2] = sinpif(x[i]);
  out[4 * i + 3] = cospif(x[i]);
}

}  // namespace

void launch_pi_trig(const float* x, float* out, int n) {
  SG_LAUNCH(pi_trig, (n + 127) / 128, 128, 0, nullptr)(x, out, n);
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
