// Forward and backward orchestration: params -> problem, layout and instruction-set choice, task
// plan, per-thread scratch, parallel loop over the kernels of row_kernels.h.
#include "cpu/short_conv/short_conv_cpu.h"

#include <vector>

#include "cpu/memory/output_pages.h"
#include "cpu/short_conv/conv_problem.h"
#include "cpu/short_conv/row_kernels.h"
#include "cpu/short_conv/scalar_convert.h"
#include "cpu/short_conv/task_plan.h"
#include "cpu/simd/cpu_features.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace short_conv {
namespace {

View3 view3(const TensorView& v) {
  View3 r;
  if (!v.present()) return r;
  r.data = v.data;
  r.stride_b = v.strides[0];
  r.stride_c = v.strides[1];
  r.stride_t = v.strides[2];
  return r;
}

WeightView weight_view(const TensorView& v) {
  WeightView r;
  if (!v.present()) return r;
  r.data = v.data;
  r.dtype = v.dtype;
  r.stride_c = v.strides[0];
  r.stride_k = v.strides[1];
  return r;
}

BiasView bias_view(const TensorView& v) {
  BiasView r;
  if (!v.present()) return r;
  r.data = v.data;
  r.dtype = v.dtype;
  r.stride_c = v.strides[0];
  return r;
}

ConvSizes sizes_of(const TensorView& x, const TensorView& weight) {
  return {x.sizes[0], x.sizes[1], x.sizes[2], weight.sizes[1]};
}

// Channels-last kernels when channels are adjacent in memory and time is not (a (B, C, 1) tensor
// has both; then channels-last avoids one tiny row per channel).
bool use_channels_last(const ConvSizes& s, const View3& x) {
  return s.channels > 1 && x.stride_c == 1 && (x.stride_t != 1 || s.length == 1);
}

// The AVX2 kernels cover float compute; float64 and CPUs without AVX2 run the portable ones.
bool use_avx2(DType dtype) {
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  return dtype != DType::kFloat64 && avx2_enabled();
#else
  (void)dtype;
  return false;
#endif
}

// Per-thread scratch, grown on demand and reused across calls (zero-filled when it grows, so the
// kernels' padded vector reads never meet uninitialised memory).
struct Scratch {
  void* values;
  double* sums;
};
Scratch thread_scratch(const ScratchSize& size, DType dtype) {
  thread_local std::vector<double> values, sums;
  const int64_t value_bytes = size.values * (dtype == DType::kFloat64 ? 8 : 4);
  const size_t value_doubles = size_t((value_bytes + 7) / 8);
  if (values.size() < value_doubles) values.resize(value_doubles);
  if (sums.size() < size_t(size.sums) + 1) sums.resize(size_t(size.sums) + 1);
  return {values.data(), sums.data()};
}

// The kernel set of one dtype and instruction set.
struct ForwardKernels {
  void (*time_major)(const ForwardProblem&, int64_t, int64_t, void*);
  void (*channels_last)(const ForwardProblem&, int64_t, int64_t, int64_t, void*);
};
struct BackwardKernels {
  void (*time_major)(const BackwardProblem&, int64_t, int64_t, int64_t, int64_t, void*, double*);
  void (*channels_last)(const BackwardProblem&, int64_t, int64_t, int64_t, void*, double*);
};

template <DType D>
ForwardKernels forward_kernels(bool avx2) {
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  if constexpr (D != DType::kFloat64)
    if (avx2) return {&avx2::forward_time_major<D>, &avx2::forward_channels_last<D>};
#endif
  (void)avx2;
  return {&portable::forward_time_major<D>, &portable::forward_channels_last<D>};
}

template <DType D>
BackwardKernels backward_kernels(bool avx2) {
#if defined(SERENGETI_HAVE_AVX2_TU) && SERENGETI_HAVE_AVX2_TU
  if constexpr (D != DType::kFloat64)
    if (avx2) return {&avx2::backward_time_major<D>, &avx2::backward_channels_last<D>};
#endif
  (void)avx2;
  return {&portable::backward_time_major<D>, &portable::backward_channels_last<D>};
}

template <class Kernels, template <DType> class Pick>
Kernels pick_kernels(DType dtype) {
  const bool avx2 = use_avx2(dtype);
  switch (dtype) {
    case DType::kFloat32: return Pick<DType::kFloat32>::get(avx2);
    case DType::kFloat64: return Pick<DType::kFloat64>::get(avx2);
    case DType::kFloat16: return Pick<DType::kFloat16>::get(avx2);
    case DType::kBFloat16: return Pick<DType::kBFloat16>::get(avx2);
  }
  return Pick<DType::kFloat32>::get(avx2);
}
template <DType D> struct PickForward {
  static ForwardKernels get(bool avx2) { return forward_kernels<D>(avx2); }
};
template <DType D> struct PickBackward {
  static BackwardKernels get(bool avx2) { return backward_kernels<D>(avx2); }
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr int64_t kMinChannelsLastRows = 32;

void run_forward(const ForwardProblem& pr, int num_threads) {
  const ConvSizes& s = pr.sizes;
  if (s.batch == 0 || s.channels == 0) return;
  const ForwardKernels kernels = pick_kernels<ForwardKernels, PickForward>(pr.dtype);
  const int64_t row_work = (s.length + s.taps) * (s.taps + 4);
  if (use_channels_last(s, pr.x)) {
    // Tasks are runs of time rows of one batch row; each converts all C x K taps first, so a task
    // covers at least kMinChannelsLastRows rows (or the whole sequence).
    const ScratchSize need = forward_channels_last_scratch(s.taps, s.channels);
    const int64_t time_row_work = s.channels * (s.taps + 4);
    TaskPlan plan = plan_tasks(s.batch * s.length, time_row_work, num_threads);
    int64_t rows_per_task = plan.units_per_task < kMinChannelsLastRows ? kMinChannelsLastRows
                                                                        : plan.units_per_task;
    if (rows_per_task > s.length) rows_per_task = s.length > 0 ? s.length : 1;
    const int64_t chunks = s.length > 0 ? ceil_div(s.length, rows_per_task) : 1;
    parallel_for(s.batch * chunks, plan.threads, [&](int64_t item, int) {
      const Scratch scratch = thread_scratch(need, pr.dtype);
      const int64_t t_begin = (item % chunks) * rows_per_task;
      const int64_t t_end = t_begin + rows_per_task < s.length ? t_begin + rows_per_task : s.length;
      kernels.channels_last(pr, item / chunks, t_begin, t_end, scratch.values);
    });
    return;
  }
  const int64_t rows = s.batch * s.channels;
  const ScratchSize need = forward_time_major_scratch(s.taps);
  const TaskPlan plan = plan_tasks(rows, row_work, num_threads);
  parallel_for(plan.tasks, plan.threads, [&](int64_t task, int) {
    const Scratch scratch = thread_scratch(need, pr.dtype);
    const int64_t begin = task * plan.units_per_task;
    const int64_t end = begin + plan.units_per_task < rows ? begin + plan.units_per_task : rows;
    kernels.time_major(pr, begin, end, scratch.values);
  });
}

// Tasks own whole channels (all of the batch, b in order) when dweight or dbias is requested, so
// every reduction has one fixed order whatever the thread count; otherwise (b, channels) pairs.
void run_backward(const BackwardProblem& pr, int num_threads) {
  const ConvSizes& s = pr.sizes;
  if (s.channels == 0) return;
  if (!pr.needs_input_grads() && !pr.needs_reductions()) return;
  const BackwardKernels kernels = pick_kernels<BackwardKernels, PickBackward>(pr.dtype);
  const bool whole_batch = pr.needs_reductions();
  const int64_t row_work = (s.length + s.taps) * (3 * s.taps + 8);
  if (use_channels_last(s, pr.x)) {
    const int64_t tiles = ceil_div(s.channels, kTileChannels);
    const ScratchSize need = backward_channels_last_scratch(s.taps);
    const int64_t units = whole_batch ? tiles : s.batch * tiles;
    const int64_t unit_work = row_work * kTileChannels * (whole_batch ? s.batch : 1);
    const TaskPlan plan = plan_tasks(units, unit_work, num_threads);
    parallel_for(units, plan.threads, [&](int64_t item, int) {
      const Scratch scratch = thread_scratch(need, pr.dtype);
      const int64_t c0 = (item % tiles) * kTileChannels;
      if (whole_batch)
        kernels.channels_last(pr, c0, 0, s.batch, scratch.values, scratch.sums);
      else
        kernels.channels_last(pr, c0, item / tiles, item / tiles + 1, scratch.values, scratch.sums);
    });
    return;
  }
  const ScratchSize need = backward_time_major_scratch(s.taps);
  if (whole_batch) {
    const TaskPlan plan = plan_tasks(s.channels, row_work * s.batch, num_threads);
    parallel_for(plan.tasks, plan.threads, [&](int64_t task, int) {
      const Scratch scratch = thread_scratch(need, pr.dtype);
      const int64_t begin = task * plan.units_per_task;
      const int64_t end = begin + plan.units_per_task < s.channels ? begin + plan.units_per_task
                                                                   : s.channels;
      kernels.time_major(pr, begin, end, 0, s.batch, scratch.values, scratch.sums);
    });
    return;
  }
  const int64_t rows = s.batch * s.channels;
  const TaskPlan plan = plan_tasks(rows, row_work, num_threads);
  parallel_for(plan.tasks, plan.threads, [&](int64_t task, int) {
    const Scratch scratch = thread_scratch(need, pr.dtype);
    const int64_t begin = task * plan.units_per_task;
    const int64_t end = begin + plan.units_per_task < rows ? begin + plan.units_per_task : rows;
    // Rows b*C + c: one kernel call per batch row the range touches.
    for (int64_t r = begin; r < end;) {
      const int64_t b = r / s.channels, c = r % s.channels;
      const int64_t c_end = c + (end - r) < s.channels ? c + (end - r) : s.channels;
      kernels.time_major(pr, c, c_end, b, b + 1, scratch.values, scratch.sums);
      r += c_end - c;
    }
  });
}

}  // namespace
}  // namespace short_conv

void short_conv_forward(const ShortConvForwardParams& p) {
  advise_huge_pages(p.y);  // a fresh output faults in 4 KiB at a time otherwise (memory-bound op)
  short_conv::ForwardProblem pr;
  pr.sizes = short_conv::sizes_of(p.x, p.weight);
  pr.dtype = p.x.dtype;
  pr.silu = p.activation == Activation::kSilu;
  pr.x = short_conv::view3(p.x);
  pr.y = short_conv::view3(p.y);
  // A K = 1 filter has empty states: nothing to read or write.
  if (pr.sizes.history() > 0) {
    pr.initial_state = short_conv::view3(p.initial_state);
    pr.final_state = short_conv::view3(p.final_state);
  }
  pr.weight = short_conv::weight_view(p.weight);
  pr.bias = short_conv::bias_view(p.bias);
  short_conv::run_forward(pr, p.launch.num_threads);
}

void short_conv_backward(const ShortConvBackwardParams& p) {
  advise_huge_pages(p.dx);
  short_conv::BackwardProblem pr;
  pr.sizes = short_conv::sizes_of(p.x, p.weight);
  pr.dtype = p.x.dtype;
  pr.silu = p.activation == Activation::kSilu;
  pr.x = short_conv::view3(p.x);
  pr.dy = short_conv::view3(p.dy);
  pr.dx = short_conv::view3(p.dx);
  if (pr.sizes.history() > 0) {
    pr.initial_state = short_conv::view3(p.initial_state);
    pr.dfinal_state = short_conv::view3(p.dfinal_state);
    pr.dinitial_state = short_conv::view3(p.dinitial_state);
  }
  pr.weight = short_conv::weight_view(p.weight);
  pr.bias = short_conv::bias_view(p.bias);
  pr.dweight = short_conv::weight_view(p.dweight);
  pr.dbias = short_conv::bias_view(p.dbias);
  short_conv::run_backward(pr, p.launch.num_threads);
}

}  // namespace serengeti::cpu
