// StripedHyena's gated-conv decode step on the CPU (math: serengeti/modal.h, step_kernels.h).
//
// A token is tiny work (B=1, D=4096: ~150 K flops over ~0.5 MB of weights and states), so the cost
// to beat is overhead: one dtype dispatch per call, the ISA build looked up once, no per-call heap
// allocation (scratch vectors are thread_local and keep their capacity), no copies when every
// tensor is float32 and dense (the decode path), and threads only when the batch is large.
// Other dtypes and strides are copied to dense float (double for float64) arrays first, and the
// states written back: exact, since the FIR state holds raw inputs and the modal state is float32.
#include <algorithm>
#include <vector>

#include "cpu/modal/dense_copy.h"
#include "cpu/modal/modal_cpu.h"
#include "cpu/modal/step_kernels.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace modal {
namespace {

// Every layout as column_split with some head count (see step_kernels.h).
int64_t effective_heads(GatedConvLayout layout, int64_t heads, int64_t D) {
  switch (layout) {
    case GatedConvLayout::kColumnSplit: return heads;
    case GatedConvLayout::kThirds: return 1;
    case GatedConvLayout::kInterleave: return D;
  }
  return heads;
}

// Output channels per run of heads: the run's FIR outputs (3x this) stay in L1/L2.
constexpr int64_t kRunChannels = 2048;
// Below this many output channels (B*D) one thread does the whole step: a fork/join costs more
// than it saves (measured: B=1, D=4096 takes a few microseconds on one core).
constexpr int64_t kParallelChannels = 32768;

template <class T>
struct StepScratch {
  std::vector<T> z, taps, bias, poles, residues, skip, hist, state, y;
};

template <class T>
void step(const GatedConvStepParams& p) {
  const int64_t B = p.z.sizes[0], D = p.poles.sizes[0], S = p.poles.sizes[1], K = p.fir_weight.sizes[1];
  const int64_t heads = effective_heads(p.layout, p.heads, D), per_head = D / heads;
  thread_local StepScratch<T> scratch;
  StepScratch<T>& s = scratch;
  const T* z = dense_input<T>(p.z, s.z);
  const T* taps = dense_input<T>(p.fir_weight, s.taps);
  const T* bias = p.fir_bias.present() ? dense_input<T>(p.fir_bias, s.bias) : nullptr;
  const T* poles = dense_input<T>(p.poles, s.poles);
  const T* residues = dense_input<T>(p.residues, s.residues);
  const T* skip = p.D.present() ? dense_input<T>(p.D, s.skip) : nullptr;
  bool hist_copied = false, state_copied = false, y_copied = false;
  // K = 1 keeps no history (the state may then be absent: an empty tensor has no data).
  T* hist = p.fir_state.present() && K > 1 ? dense_inout<T>(p.fir_state, s.hist, &hist_copied) : nullptr;
  T* state = dense_inout<T>(p.iir_state, s.state, &state_copied);
  T* y = dense_output<T>(p.y, s.y, &y_copied);

  const StepKernel<T> kernel = step_kernel<T>();
  const int64_t heads_per_run = std::max<int64_t>(1, kRunChannels / per_head);
  const int64_t runs = (heads + heads_per_run - 1) / heads_per_run;
  auto run_task = [&](int64_t task) {
    const int64_t b = task / runs, h0 = (task % runs) * heads_per_run;
    const int64_t h_count = std::min(heads_per_run, heads - h0);
    const int64_t c0 = 3 * per_head * h0, d0 = per_head * h0, outputs = per_head * h_count;
    thread_local std::vector<T> fir, x2, w;
    fir.resize(3 * outputs);
    x2.resize(outputs);
    w.resize(outputs);
    StepRun<T> run;
    run.z = z + b * 3 * D + c0;
    run.taps = taps + c0 * K;
    run.bias = bias ? bias + c0 : nullptr;
    run.poles = poles + d0 * S * 2;
    run.residues = residues + d0 * S * 2;
    run.skip = skip ? skip + d0 : nullptr;
    run.hist = hist + (b * 3 * D + c0) * (K - 1);
    run.state = state + (b * D + d0) * S * 2;
    run.y = y + b * D + d0;
    run.fir = fir.data();
    run.x2 = x2.data();
    run.w = w.data();
    run.heads = h_count;
    run.per_head = per_head;
    run.K = K;
    run.S = S;
    kernel(run);
  };
  const int64_t tasks = B * runs;
  if (B * D < kParallelChannels || p.launch.num_threads <= 1 || tasks == 1) {
    for (int64_t task = 0; task < tasks; ++task) run_task(task);
  } else {
    parallel_for(tasks, p.launch.num_threads, [&](int64_t task, int) { run_task(task); });
  }

  if (hist_copied) copy_from_dense(hist, p.fir_state);
  if (state_copied) copy_from_dense(state, p.iir_state);
  if (y_copied) copy_from_dense(y, p.y);
}

}  // namespace
}  // namespace modal

void gated_conv_step(const GatedConvStepParams& p) {
  if (p.z.sizes[0] == 0 || p.poles.sizes[0] == 0) return;
  if (p.z.dtype == DType::kFloat64)
    modal::step<double>(p);
  else
    modal::step<float>(p);
}

}  // namespace serengeti::cpu
