// One decoding step (serengeti/short_conv.h): per (b, c)
//   y     = act(bias + w[K-1] x + sum_{i<K-1} w[i] state[i])
//   state = (state[1], ..., state[K-2], x)
// O(B*C*K) work that is tiny next to the rest of a decode step, so a portable loop over channels
// does it; groups of 8 channels share one vector of accumulators so the compiler can vectorise the
// tap loop across channels whatever the state's layout.
#include <cmath>

#include "cpu/short_conv/scalar_convert.h"
#include "cpu/short_conv/short_conv_cpu.h"
#include "cpu/short_conv/task_plan.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace short_conv {
namespace {

constexpr int64_t kStepGroup = 8;

template <DType D, bool kSilu>
void step_rows(const ShortConvStepParams& p, int64_t group_begin, int64_t group_end) {
  using T = ComputeOf<D>;
  const int64_t C = p.x.sizes[1], K = p.weight.sizes[1], H = K - 1;
  const int64_t groups_per_row = (C + kStepGroup - 1) / kStepGroup;
  const int64_t* ss = p.state.strides;
  for (int64_t group = group_begin; group < group_end; ++group) {
    const int64_t b = group / groups_per_row;
    const int64_t c0 = (group % groups_per_row) * kStepGroup;
    const int64_t lanes = C - c0 < kStepGroup ? C - c0 : kStepGroup;
    T acc[kStepGroup] = {}, x[kStepGroup] = {};
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t c = c0 + l;
      x[l] = scalar::load<D>(p.x.data, b * p.x.strides[0] + c * p.x.strides[1]);
      const T w_last = scalar::load_any<T>(p.weight.data, p.weight.dtype,
                                           c * p.weight.strides[0] + H * p.weight.strides[1]);
      const T bias = p.bias.present() ? scalar::load_any<T>(p.bias.data, p.bias.dtype,
                                                            c * p.bias.strides[0])
                                      : T(0);
      acc[l] = bias + w_last * x[l];
    }
    for (int64_t i = 0; i < H; ++i)
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t c = c0 + l;
        const T w = scalar::load_any<T>(p.weight.data, p.weight.dtype,
                                        c * p.weight.strides[0] + i * p.weight.strides[1]);
        acc[l] += w * scalar::load<D>(p.state.data, b * ss[0] + c * ss[1] + i * ss[2]);
      }
    // Shift the state left by one and append x (after every read above).
    for (int64_t l = 0; l < lanes && H > 0; ++l) {
      const int64_t base = b * ss[0] + (c0 + l) * ss[1];
      RawOf<D>* state = static_cast<RawOf<D>*>(p.state.data);
      for (int64_t i = 0; i + 1 < H; ++i) state[base + i * ss[2]] = state[base + (i + 1) * ss[2]];
      scalar::store<D>(p.state.data, base + (H - 1) * ss[2], x[l]);
    }
    for (int64_t l = 0; l < lanes; ++l) {
      T y = acc[l];
      if constexpr (kSilu) y = y / (T(1) + std::exp(-y));
      scalar::store<D>(p.y.data, b * p.y.strides[0] + (c0 + l) * p.y.strides[1], y);
    }
  }
}

template <DType D>
void step_rows_any_act(const ShortConvStepParams& p, int64_t begin, int64_t end) {
  if (p.activation == Activation::kSilu)
    step_rows<D, true>(p, begin, end);
  else
    step_rows<D, false>(p, begin, end);
}

}  // namespace
}  // namespace short_conv

void short_conv_step(const ShortConvStepParams& p) {
  using namespace short_conv;
  const int64_t B = p.x.sizes[0], C = p.x.sizes[1], K = p.weight.sizes[1];
  if (B == 0 || C == 0) return;
  const int64_t groups = B * ((C + kStepGroup - 1) / kStepGroup);
  void (*rows)(const ShortConvStepParams&, int64_t, int64_t) = nullptr;
  switch (p.x.dtype) {
    case DType::kFloat32: rows = &step_rows_any_act<DType::kFloat32>; break;
    case DType::kFloat64: rows = &step_rows_any_act<DType::kFloat64>; break;
    case DType::kFloat16: rows = &step_rows_any_act<DType::kFloat16>; break;
    case DType::kBFloat16: rows = &step_rows_any_act<DType::kBFloat16>; break;
  }
  const TaskPlan plan = plan_tasks(groups, kStepGroup * (K + 4), p.launch.num_threads);
  parallel_for(plan.tasks, plan.threads, [&](int64_t task, int) {
    const int64_t begin = task * plan.units_per_task;
    const int64_t end = begin + plan.units_per_task < groups ? begin + plan.units_per_task : groups;
    rows(p, begin, end);
  });
}

}  // namespace serengeti::cpu
