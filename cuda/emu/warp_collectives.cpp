// Warp collectives: a lane arriving at a shuffle, vote, __syncwarp or wmma operation waits until
// every non-exited lane named in its mask has arrived at the same operation with the same mask;
// the lane that completes the group computes every lane's result. Misuse is reported, not hidden.
#include <algorithm>
#include <cstdio>
#include <string>

#include "block_runner.h"
#include "emu_errors.h"

namespace sg_emu {
namespace detail {

namespace {

std::string hex_mask(unsigned mask) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", mask);
  return text;
}

std::string describe_arrival(const WarpArrival& a) {
  return std::string(a.name) + "(mask " + hex_mask(a.mask) + ") at " + (a.file ? a.file : "?") +
         ":" + std::to_string(a.line);
}

bool is_power_of_two_width(int width) {
  return width >= 1 && width <= 32 && (width & (width - 1)) == 0;
}

// The lane a shuffle reads, or -1 when the lane keeps its own value (source outside its segment).
int shuffle_source(const WarpArrival& a, int lane) {
  const int segment = lane & ~(a.width - 1);
  switch (a.op) {
    case WarpOp::shfl_idx:
      return segment + (a.arg & (a.width - 1));
    case WarpOp::shfl_up: {
      const int src = lane - a.arg;
      return src < segment ? -1 : src;
    }
    case WarpOp::shfl_down: {
      const int src = lane + a.arg;
      return src >= segment + a.width ? -1 : src;
    }
    case WarpOp::shfl_xor: {
      // CUDA: lanes may read earlier segments but reading a later one returns their own value.
      const int src = lane ^ a.arg;
      return (src >= segment + a.width || src > 31) ? -1 : src;
    }
    default:
      return -1;
  }
}

}  // namespace

void warp_collective(WarpArrival& arrival) {
  EmuThread* t = running_thread();
  if (!t) device_error("a warp intrinsic was called outside a kernel");
  const unsigned lane = t->device.lane;
  if (!(arrival.mask & (1u << lane)))
    throw WarpSyncError("lane " + std::to_string(lane) + " calls " + describe_arrival(arrival) +
                        " with a mask that does not include itself");
  t->arrival = &arrival;
  t->status = ThreadStatus::at_warp_op;
  t->runner->try_complete_warp_group(t, true);
  if (t->status == ThreadStatus::at_warp_op) t->runner->suspend_current(t);
  t->arrival = nullptr;
}

void BlockRunner::try_complete_warp_group(EmuThread* arriving, bool arriving_continues) {
  const WarpArrival& a = *arriving->arrival;
  const unsigned warp_first = arriving->device.warp * 32;
  const unsigned warp_size = std::min(32u, thread_count_ - warp_first);
  EmuThread* lanes[32] = {};
  unsigned members = 0;  // lanes that exist, are named in the mask and have not exited
  for (unsigned l = 0; l < warp_size; ++l) {
    EmuThread* other = threads_[warp_first + l].get();
    if (!(a.mask & (1u << l)) || other->status == ThreadStatus::exited) continue;
    if (other->status != ThreadStatus::at_warp_op) return;  // not everyone is here yet
    lanes[l] = other;
    members |= 1u << l;
  }
  // Everyone named has arrived somewhere: they must all be at the same operation and mask.
  for (unsigned l = 0; l < warp_size; ++l) {
    if (!lanes[l]) continue;
    const WarpArrival& b = *lanes[l]->arrival;
    if (b.op != a.op || b.mask != a.mask || b.perform != a.perform || b.width != a.width)
      throw WarpSyncError(where() + " warp " + std::to_string(arriving->device.warp) + ": lane " +
                          std::to_string(arriving->device.lane) + " is in " + describe_arrival(a) +
                          " but lane " + std::to_string(l) + " of its mask is in " +
                          describe_arrival(b));
  }
  if (a.op >= WarpOp::shfl_idx && a.op <= WarpOp::shfl_xor && !is_power_of_two_width(a.width))
    throw WarpSyncError(where() + ": " + describe_arrival(a) + " with width " +
                        std::to_string(a.width) + " (must be a power of two <= 32)");

  unsigned ballot = 0;
  std::uint64_t reduced = 0;
  bool first = true;
  for (unsigned l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    const std::uint64_t v = lanes[l]->arrival->value;
    if (v) ballot |= 1u << l;
    const auto u = std::uint32_t(v);
    const auto s = std::int32_t(u);
    switch (a.op) {
      case WarpOp::reduce_add: reduced = first ? u : std::uint32_t(reduced + u); break;
      case WarpOp::reduce_min_unsigned: reduced = first ? u : std::min<std::uint32_t>(reduced, u); break;
      case WarpOp::reduce_max_unsigned: reduced = first ? u : std::max<std::uint32_t>(reduced, u); break;
      case WarpOp::reduce_min_signed:
        reduced = first ? u : std::uint32_t(std::min(std::int32_t(reduced), s)); break;
      case WarpOp::reduce_max_signed:
        reduced = first ? u : std::uint32_t(std::max(std::int32_t(reduced), s)); break;
      case WarpOp::reduce_and: reduced = first ? u : (reduced & u); break;
      case WarpOp::reduce_or: reduced = first ? u : (reduced | u); break;
      case WarpOp::reduce_xor: reduced = first ? u : (reduced ^ u); break;
      default: break;
    }
    first = false;
  }

  if (a.op == WarpOp::custom) {
    WarpArrival* all[32] = {};
    for (unsigned l = 0; l < 32; ++l)
      if (lanes[l]) all[l] = lanes[l]->arrival;
    a.perform(all);
  }

  for (unsigned l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    WarpArrival& mine = *lanes[l]->arrival;
    switch (a.op) {
      case WarpOp::shfl_idx:
      case WarpOp::shfl_up:
      case WarpOp::shfl_down:
      case WarpOp::shfl_xor: {
        const int src = shuffle_source(mine, int(l));
        if (src < 0) {
          mine.result = mine.value;
        } else if (!(members & (1u << src))) {
          const bool exists = unsigned(src) < warp_size;
          const bool exited = exists && threads_[warp_first + src]->status == ThreadStatus::exited;
          throw WarpSyncError(where() + " warp " + std::to_string(arriving->device.warp) +
                              ": lane " + std::to_string(l) + " in " + describe_arrival(mine) +
                              " reads lane " + std::to_string(src) + ", which " +
                              (!exists ? "does not exist (partial warp)"
                                       : exited ? "has exited" : "is not in the mask"));
        } else {
          mine.result = lanes[src]->arrival->value;
        }
        break;
      }
      case WarpOp::ballot: mine.result = ballot; break;
      case WarpOp::any: mine.result = ballot != 0; break;
      case WarpOp::all: mine.result = ballot == members; break;
      case WarpOp::match_any: {
        unsigned same = 0;
        for (unsigned o = 0; o < 32; ++o)
          if (lanes[o] && lanes[o]->arrival->value == mine.value) same |= 1u << o;
        mine.result = same;
        break;
      }
      case WarpOp::match_all: {
        bool all_equal = true;
        for (unsigned o = 0; o < 32; ++o)
          if (lanes[o] && lanes[o]->arrival->value != mine.value) all_equal = false;
        mine.result = all_equal ? members : 0;
        mine.arg = all_equal;  // the `pred` output of __match_all_sync
        break;
      }
      case WarpOp::sync_warp:
      case WarpOp::custom: break;
      default: mine.result = reduced; break;
    }
  }
  for (unsigned l = 0; l < 32; ++l) {
    if (!lanes[l]) continue;
    if (lanes[l] == arriving && arriving_continues)
      arriving->status = ThreadStatus::runnable;
    else
      make_runnable(lanes[l]);
  }
}

// Nothing can run but some lanes wait in a warp collective: name who is missing and where they are.
void BlockRunner::on_warp_deadlock() {
  for (unsigned i = 0; i < thread_count_; ++i) {
    const EmuThread* t = threads_[i].get();
    if (t->status != ThreadStatus::at_warp_op) continue;
    const WarpArrival& a = *t->arrival;
    const unsigned warp_first = t->device.warp * 32;
    const unsigned warp_size = std::min(32u, thread_count_ - warp_first);
    std::string missing;
    for (unsigned l = 0; l < warp_size; ++l) {
      const EmuThread* o = threads_[warp_first + l].get();
      if (!(a.mask & (1u << l))) continue;
      if (o->status == ThreadStatus::at_barrier)
        missing += " lane " + std::to_string(l) + " waits at __syncthreads " +
                   (o->barrier_file ? o->barrier_file : "?") + ":" + std::to_string(o->barrier_line) + ";";
      else if (o->status == ThreadStatus::at_warp_op &&
               (o->arrival->op != a.op || o->arrival->mask != a.mask))
        missing += " lane " + std::to_string(l) + " is in " + describe_arrival(*o->arrival) + ";";
    }
    throw WarpSyncError(where() + " warp " + std::to_string(t->device.warp) + ": lane " +
                        std::to_string(t->device.lane) + " waits in " + describe_arrival(a) +
                        " but not every lane of the mask arrives:" + missing);
  }
}

}  // namespace detail
}  // namespace sg_emu
