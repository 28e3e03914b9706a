// Which z channel (of 3D) feeds role r (0: x2, 1: x1, 2: v) of output channel d, per layout
// (serengeti/modal.h, GatedConvLayout).
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/kernel_args.cuh"
#include "serengeti/modal.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {

// All three at once, with 32-bit division (validate::rows_fit: B D < 2^32): a 64-bit division is a
// called subroutine on the GPU, and ptxas spilled registers around the call.
__device__ __forceinline__ void z_channels(const GatedArgs& a, int64_t d, int64_t (&channel)[3]) {
  switch (static_cast<GatedConvLayout>(a.layout)) {
    case GatedConvLayout::kColumnSplit: {
      // StripedHyena: head h holds [x2 | x1 | v], D/heads channels each.
      const int64_t per_head = int64_t(uint32_t(a.channels) / uint32_t(a.heads));
      const int64_t head = int64_t(uint32_t(d) / uint32_t(per_head)), j = d - head * per_head;
      const int64_t base = head * 3 * per_head + j;
      channel[0] = base;
      channel[1] = base + per_head;
      channel[2] = base + 2 * per_head;
      return;
    }
    case GatedConvLayout::kThirds:
      channel[0] = d;
      channel[1] = a.channels + d;
      channel[2] = 2 * a.channels + d;
      return;
    case GatedConvLayout::kInterleave:
      channel[0] = 3 * d;
      channel[1] = 3 * d + 1;
      channel[2] = 3 * d + 2;
      return;
  }
  channel[0] = channel[1] = channel[2] = 0;
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
