#include "emu_guarded_outputs.h"

#if SERENGETI_HAVE_EMU
#include <cstdint>
#include <cstring>

#include "serengeti/dtype.h"

namespace serengeti::dispatch {
namespace {

// Bytes from the first to one past the last element of a view with non-negative strides.
std::size_t span_bytes(const TensorView& v) {
  int64_t last = 0;
  for (int d = 0; d < v.ndim; ++d) last += (v.sizes[d] - 1) * v.strides[d];
  return static_cast<std::size_t>(last + 1) * dtype_size(v.dtype);
}

// Copies every element of `src` to the same logical position of `dst` (same sizes and strides).
void copy_elements(const TensorView& dst, const TensorView& src) {
  const std::size_t elem = dtype_size(src.dtype);
  int64_t index[TensorView::kMaxDims] = {0, 0, 0, 0};
  const int64_t count = src.numel();
  for (int64_t i = 0; i < count; ++i) {
    int64_t offset = 0;
    for (int d = 0; d < src.ndim; ++d) offset += index[d] * src.strides[d];
    std::memcpy(static_cast<char*>(dst.data) + offset * elem,
                static_cast<const char*>(src.data) + offset * elem, elem);
    for (int d = src.ndim - 1; d >= 0; --d) {  // odometer increment, last dim fastest
      if (++index[d] < src.sizes[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

void EmuGuardedOutputs::redirect(TensorView& view, const char* label, bool copy_in) {
  if (!view.present() || view.numel() == 0) return;
  Entry entry{&view, view, std::make_unique<sg_emu::GuardedBuffer>(span_bytes(view), label)};
  view.data = entry.buffer->data();
  if (copy_in) copy_elements(view, entry.original);
  entries_.push_back(std::move(entry));
}

void EmuGuardedOutputs::copy_back() {
  for (Entry& entry : entries_) {
    copy_elements(entry.original, *entry.view);
    *entry.view = entry.original;
  }
  entries_.clear();
}

}  // namespace serengeti::dispatch
#endif
