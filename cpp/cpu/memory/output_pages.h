// Advice to the OS about a large output buffer the kernel is about to fill completely.
//
// Why: torch hands our kernels fresh outputs (y of fftconv / short_conv, h of modal_kernel), and a
// fresh large allocation is
// page-faulted in on first write, 4 KiB at a time. On the development VM that costs ~5 us per page,
// i.e. writing a new 64 MiB output takes ~70 ms of faults against ~10 ms of arithmetic. Asking for
// transparent huge pages (Linux MADV_HUGEPAGE; THP in "madvise" mode) turns that into 2 MiB faults
// and cuts the first-touch cost 3-5x. Purely advisory: it changes no data, and does nothing where
// unsupported.
#pragma once

#include <cstddef>

#include "serengeti/tensor_view.h"

namespace serengeti::cpu {

// Advises huge pages for the whole 2 MiB-aligned pages inside [data, data + bytes) when the buffer
// is large enough (>= 8 MiB) for it to pay; no-op elsewhere.
void advise_huge_pages(void* data, std::size_t bytes);

// The same for the memory span of an output view (no-op for absent or small views).
void advise_huge_pages(const TensorView& out);

}  // namespace serengeti::cpu
