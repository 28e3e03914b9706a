// Which z channel (of 3D) feeds role r (0: x2, 1: x1, 2: v) of output channel d, per layout
// (serengeti/modal.h, GatedConvLayout), and the FIR of one role at one step.
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/kernel_args.cuh"
#include "serengeti/modal.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {

__device__ __forceinline__ int64_t z_channel(const GatedArgs& a, int64_t d, int role) {
  switch (static_cast<GatedConvLayout>(a.layout)) {
    case GatedConvLayout::kColumnSplit: {
      // StripedHyena: head h holds [x2 | x1 | v], D/heads channels each.
      const int64_t per_head = a.channels / a.heads, head = d / per_head, j = d % per_head;
      return head * 3 * per_head + role * per_head + j;
    }
    case GatedConvLayout::kThirds: return role * a.channels + d;
    case GatedConvLayout::kInterleave: return 3 * d + role;
  }
  return 0;
}

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
