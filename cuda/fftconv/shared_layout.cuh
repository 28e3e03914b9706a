// How a block's dynamic shared memory is carved up (host and device compute the same offsets):
//
//   re, im      float32 data planes, `points` complex values (a block's slots of S points each)
//   table       W_S octant twiddle table, S/8 + 1 float2
//   dft         the 16-point DFT matrix as fp16 hi/lo pieces (3 KB)
//   staging     one fp16 tile copy per warp (2 KB each)
//   extra       `extra_floats` floats for the kernel's own per-slot values
//
// Each region starts on a 128-byte boundary (wmma needs 32). For the largest fused transform
// (S = 8192, one slot) that is 64 + 8 + 3 + 16 KB = 91 KB, inside the 99 KB every sm_86/sm_89 GPU
// gives a block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/dft16_mma.cuh"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {

// Threads of the block kernels. They are declared __launch_bounds__(kThreads, 1): a block of the
// largest sizes needs ~90 KB of shared memory, so one block per SM (two on sm_90) is what runs
// anyway, and without the "1" ptxas assumes two resident blocks, caps registers at 128 and spills
// the wmma fragments (measured: 120-376 bytes of spills per fused kernel).
constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
// The shared memory a kernel may use on every supported GPU (sm_86/sm_89 opt-in limit).
constexpr std::size_t kPortableSharedBytes = 99 * 1024;

struct SharedLayout {
  std::size_t re = 0, im = 0, table = 0, dft = 0, staging = 0, extra = 0, total = 0;
};

__host__ __device__ inline std::size_t align128(std::size_t bytes) { return (bytes + 127) & ~std::size_t(127); }

__host__ __device__ inline SharedLayout make_shared_layout(int points, int log2_row, int extra_floats) {
  SharedLayout l;
  std::size_t at = 0;
  l.re = at;
  at = align128(at + std::size_t(points) * sizeof(float));
  l.im = at;
  at = align128(at + std::size_t(points) * sizeof(float));
  l.table = at;
  at = align128(at + (std::size_t(1 << log2_row) / 8 + 1) * 8);
  l.dft = at;
  at = align128(at + sizeof(Dft16Matrices));
  l.staging = at;
  at = align128(at + kWarps * sizeof(WarpStaging));
  l.extra = at;
  at = align128(at + std::size_t(extra_floats) * sizeof(float));
  l.total = at;
  return l;
}

// Pointers into the block's dynamic shared memory.
struct BlockShared {
  float* re;
  float* im;
  float2* table;
  Dft16Matrices* dft;
  WarpStaging* staging;
  float* extra;
  int log2_row;  // S: the size of one slot's transform (the table's period)
};

__device__ __forceinline__ BlockShared carve_shared(unsigned char* base, const SharedLayout& l,
                                                    int log2_row) {
  BlockShared s;
  s.re = reinterpret_cast<float*>(base + l.re);
  s.im = reinterpret_cast<float*>(base + l.im);
  s.table = reinterpret_cast<float2*>(base + l.table);
  s.dft = reinterpret_cast<Dft16Matrices*>(base + l.dft);
  s.staging = reinterpret_cast<WarpStaging*>(base + l.staging);
  s.extra = reinterpret_cast<float*>(base + l.extra);
  s.log2_row = log2_row;
  return s;
}

}  // namespace fftconv_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
