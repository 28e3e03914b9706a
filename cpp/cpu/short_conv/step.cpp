// One decoding step (serengeti/short_conv.h): per (b, c)
//   y     = act(bias + w[K-1] x + sum_{i<K-1} w[i] state[i])
//   state = (state[1], ..., state[K-2], x)
// O(B*C*K) work, memory-bound. Two paths over groups of 8 channels:
// - dense (the layout models use: x and y with unit channel stride, state (B, C, K-1) with each
//   channel's K-1 values consecutive, weight (C, K) row-major, bias contiguous, weight and bias
//   float32 or x's dtype): one channel's taps and state are consecutive, K is a template constant
//   for K <= 4 (the loops unroll and the shift is two or three moves), nothing is dispatched per
//   element;
// - generic (any strides and weight dtypes): a portable loop whose groups of 8 channels share one
//   vector of accumulators so the compiler can vectorise the tap loop across channels.
#include <cmath>
#include <type_traits>

#include "cpu/short_conv/scalar_convert.h"
#include "cpu/short_conv/short_conv_cpu.h"
#include "cpu/short_conv/task_plan.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace short_conv {
namespace {

constexpr int64_t kStepGroup = 8;

// Runs the step for groups [begin, end) of 8 channels.
using StepRows = void (*)(const ShortConvStepParams& p, int64_t begin, int64_t end);

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

// The dense path for groups [group_begin, group_end). W: the dtype of weight and bias; kTaps: K
// when it is a template constant, 0 for a run-time K.
template <DType D, DType W, bool kSilu, int kTaps>
void step_rows_dense(const ShortConvStepParams& p, int64_t group_begin, int64_t group_end) {
  using T = ComputeOf<D>;
  const int64_t C = p.x.sizes[1], K = kTaps > 0 ? kTaps : p.weight.sizes[1], H = K - 1;
  const int64_t groups_per_row = (C + kStepGroup - 1) / kStepGroup;
  const RawOf<W>* weight = static_cast<const RawOf<W>*>(p.weight.data);
  const RawOf<W>* bias = p.bias.present() ? static_cast<const RawOf<W>*>(p.bias.data) : nullptr;
  for (int64_t group = group_begin; group < group_end; ++group) {
    const int64_t b = group / groups_per_row;
    const int64_t c0 = (group % groups_per_row) * kStepGroup;
    const int64_t c1 = c0 + kStepGroup < C ? c0 + kStepGroup : C;
    const RawOf<D>* x = static_cast<const RawOf<D>*>(p.x.data) + b * p.x.strides[0];
    RawOf<D>* y = static_cast<RawOf<D>*>(p.y.data) + b * p.y.strides[0];
    RawOf<D>* state = H > 0 ? static_cast<RawOf<D>*>(p.state.data) + b * p.state.strides[0] : nullptr;
    for (int64_t c = c0; c < c1; ++c) {
      const RawOf<W>* w = weight + c * K;
      RawOf<D>* s = state + c * H;
      T acc = bias != nullptr ? T(scalar::load<W>(bias, c)) : T(0);
      for (int64_t i = 0; i < H; ++i) acc += T(scalar::load<W>(w, i)) * scalar::load<D>(s, i);
      const RawOf<D> x_raw = x[c];
      acc += T(scalar::load<W>(w, H)) * scalar::load<D>(&x_raw, 0);
      // The state keeps x's stored bits: shifting raw elements is exact in every dtype.
      for (int64_t i = 0; i + 1 < H; ++i) s[i] = s[i + 1];
      if (H > 0) s[H - 1] = x_raw;
      if constexpr (kSilu) acc = acc / (T(1) + std::exp(-acc));
      scalar::store<D>(y, c, acc);
    }
  }
}

// The dense path with K as a template constant where it is small (K = 2..4 cover the models'
// short filters), the activation resolved.
template <DType D, DType W>
void step_rows_dense_any(const ShortConvStepParams& p, int64_t begin, int64_t end) {
  const bool silu = p.activation == Activation::kSilu;
  const auto run = [&](auto taps) {
    constexpr int kTaps = decltype(taps)::value;
    if (silu)
      step_rows_dense<D, W, true, kTaps>(p, begin, end);
    else
      step_rows_dense<D, W, false, kTaps>(p, begin, end);
  };
  switch (p.weight.sizes[1]) {
    case 2: return run(std::integral_constant<int, 2>{});
    case 3: return run(std::integral_constant<int, 3>{});
    case 4: return run(std::integral_constant<int, 4>{});
    default: return run(std::integral_constant<int, 0>{});
  }
}

// Whether the params have the dense layout (see the top of the file) with weight and bias in
// dtype w.
bool dense_layout(const ShortConvStepParams& p, DType w) {
  const int64_t C = p.x.sizes[1], K = p.weight.sizes[1];
  if (C > 1 && (p.x.strides[1] != 1 || p.y.strides[1] != 1)) return false;
  if (p.weight.dtype != w || (C > 1 && p.weight.strides[0] != K) || (K > 1 && p.weight.strides[1] != 1))
    return false;
  if (p.bias.present() && (p.bias.dtype != w || (C > 1 && p.bias.strides[0] != 1))) return false;
  if (K > 1) {
    const int64_t* ss = p.state.strides;
    if ((C > 1 && ss[1] != K - 1) || (K > 2 && ss[2] != 1)) return false;
  }
  return true;
}

// The dense path for activations of dtype D when the layout allows it, else null.
template <DType D>
StepRows dense_rows_for(const ShortConvStepParams& p) {
  if (dense_layout(p, DType::kFloat32)) return &step_rows_dense_any<D, DType::kFloat32>;
  if (D != DType::kFloat32 && dense_layout(p, D)) return &step_rows_dense_any<D, D>;
  return nullptr;
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
  StepRows rows = nullptr;
  switch (p.x.dtype) {
    case DType::kFloat32: rows = dense_rows_for<DType::kFloat32>(p); break;
    case DType::kFloat64: rows = dense_rows_for<DType::kFloat64>(p); break;
    case DType::kFloat16: rows = dense_rows_for<DType::kFloat16>(p); break;
    case DType::kBFloat16: rows = dense_rows_for<DType::kBFloat16>(p); break;
  }
  if (rows == nullptr) {
    switch (p.x.dtype) {
      case DType::kFloat32: rows = &step_rows_any_act<DType::kFloat32>; break;
      case DType::kFloat64: rows = &step_rows_any_act<DType::kFloat64>; break;
      case DType::kFloat16: rows = &step_rows_any_act<DType::kFloat16>; break;
      case DType::kBFloat16: rows = &step_rows_any_act<DType::kBFloat16>; break;
    }
  }
  const TaskPlan plan = plan_tasks(groups, kStepGroup * (K + 4), p.launch.num_threads);
  parallel_for(plan.tasks, plan.threads, [&](int64_t task, int) {
    const int64_t begin = task * plan.units_per_task;
    const int64_t end = begin + plan.units_per_task < groups ? begin + plan.units_per_task : groups;
    rows(p, begin, end);
  });
}

}  // namespace serengeti::cpu
