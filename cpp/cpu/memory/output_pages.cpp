// Huge-page advice for large outputs (output_pages.h).
#include "cpu/memory/output_pages.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace serengeti::cpu {

void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHugePage = std::uintptr_t(1) << 21;
  constexpr std::size_t kMinBytes = std::size_t(8) << 20;
  if (data == nullptr || bytes < kMinBytes) return;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  // The result is ignored on purpose: failure (THP disabled, old kernel) just means small pages.
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

void advise_huge_pages(const TensorView& out) {
  if (!out.present() || out.numel() == 0) return;
  int64_t last = 0;  // offset of the last element: the span of a view with non-negative strides
  for (int d = 0; d < out.ndim; ++d) last += (out.sizes[d] - 1) * out.strides[d];
  advise_huge_pages(out.data, static_cast<std::size_t>(last + 1) * dtype_size(out.dtype));
}

}  // namespace serengeti::cpu
