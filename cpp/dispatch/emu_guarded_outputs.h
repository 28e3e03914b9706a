// Output checking for the emu backend: every output of an emulated launch is redirected to a
// scratch copy with guard bands on both sides and NaN (0xFF) filling, so a kernel that writes
// outside its output or leaves part of it unwritten is caught (the emulator checks the bands after
// each launch and throws; unwritten elements come back as NaN and fail the op tests).
#pragma once

#include <memory>
#include <vector>

#include "serengeti/tensor_view.h"

#if SERENGETI_HAVE_EMU
#include "cuda/emu/emu_api.h"

namespace serengeti::dispatch {

class EmuGuardedOutputs {
 public:
  // Points `view` at guarded scratch with the same strides. With copy_in (arguments updated in
  // place, like a decode state) the current elements are copied in first. Absent views are skipped.
  void redirect(TensorView& view, const char* label, bool copy_in = false);
  // After the launch: copies every redirected view's elements back to the caller's memory (only
  // the view's elements: gaps between strided elements are left untouched).
  void copy_back();

 private:
  struct Entry {
    TensorView* view;
    TensorView original;
    std::unique_ptr<sg_emu::GuardedBuffer> buffer;
  };
  std::vector<Entry> entries_;
};

}  // namespace serengeti::dispatch
#endif
