// Forward kernels of one instruction set (see row_kernels.h for the two vectorisations and
// conv_problem.h for the window convention y[t0+p] = bias + sum_i weight[i] window[p+i]).
// Included once by forward_<isa>.cpp after kernel_common_impl.h.
namespace serengeti::cpu::short_conv::SERENGETI_SHORT_CONV_ISA {

// ---- time-major: one (b, c) row at a time, 8 time steps per vector ------------------------------

// y[p*y_stride] = act(bias + sum_i taps[i] window[p+i]) for p < n. window must hold n+K-1+7
// readable elements (the last vector may overhang; its extra lanes are computed but not stored).
template <DType D, int kTaps, bool kSilu>
void fir_time_block(const ComputeOf<D>* window, const ComputeOf<D>* tap_lanes, int64_t taps,
                    ComputeOf<D> bias, int64_t n, RawOf<D>* y, int64_t y_stride) {
  using T = ComputeOf<D>;
  using V = Vec<T>;
  const V bias_vec = vec::set1(bias);
  V regs[kTaps > 0 ? kTaps : 1];
  load_tap_registers<kTaps, T>(regs, tap_lanes);
  int64_t p = 0;
  if constexpr (kTaps == 0) {
    // Long filters: four output vectors share each tap load and give four independent FMA chains
    // (one chain of K dependent FMAs per vector would leave the FMA units waiting on latency).
    for (; p + 32 <= n; p += 32) {
      V acc[4] = {bias_vec, bias_vec, bias_vec, bias_vec};
      for (int64_t i = 0; i < taps; ++i) {
        const V tap = vec::load(tap_lanes + 8 * i);
        for (int j = 0; j < 4; ++j) acc[j] = vec::fmadd(tap, vec::load(window + p + 8 * j + i), acc[j]);
      }
      for (int j = 0; j < 4; ++j)
        store_vec<D>(y + (p + 8 * j) * y_stride, y_stride, activate<kSilu>(acc[j]), 8);
    }
  }
  for (; p < n; p += 8) {
    const V acc = tap_sum<kTaps, T>(window + p, 1, regs, tap_lanes, taps, bias_vec);
    store_vec<D>(y + p * y_stride, y_stride, activate<kSilu>(acc), min_i64(8, n - p));
  }
}

template <DType D, int kTaps, bool kSilu>
void forward_rows_time_major(const ForwardProblem& p, int64_t row_begin, int64_t row_end,
                             ComputeOf<D>* scratch) {
  using T = ComputeOf<D>;
  const int64_t C = p.sizes.channels, L = p.sizes.length, K = p.sizes.taps, H = K - 1;
  T* tap_lanes = scratch;        // K x 8: tap i broadcast to all lanes
  T* window = scratch + 8 * K;   // H + kTimeBlock + kWindowPad
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t b = row / C, c = row % C;
    for (int64_t i = 0; i < K; ++i) {
      const T w = scalar::load_any<T>(p.weight.data, p.weight.dtype, p.weight.offset(c, i));
      for (int l = 0; l < 8; ++l) tap_lanes[8 * i + l] = w;
    }
    const T bias = p.bias.present()
                       ? scalar::load_any<T>(p.bias.data, p.bias.dtype, c * p.bias.stride_c)
                       : T(0);
    // History: the inputs at t = -H .. -1.
    for (int64_t i = 0; i < H; ++i)
      window[i] = p.initial_state.present()
                      ? scalar::load<D>(p.initial_state.data, p.initial_state.offset(b, c, i))
                      : T(0);
    const RawOf<D>* x = element<D>(p.x.data, p.x.offset(b, c, 0));
    RawOf<D>* y = element<D>(p.y.data, p.y.offset(b, c, 0));
    for (int64_t t0 = 0; t0 < L; t0 += kTimeBlock) {
      const int64_t n = min_i64(kTimeBlock, L - t0);
      stage_run<D>(window + H, x + t0 * p.x.stride_t, p.x.stride_t, n);
      for (int64_t i = 0; i < kWindowPad; ++i) window[H + n + i] = T(0);
      fir_time_block<D, kTaps, kSilu>(window, tap_lanes, K, bias, n, y + t0 * p.y.stride_t,
                                      p.y.stride_t);
      // The last H inputs become the next block's history (regions may overlap when n < H).
      std::memmove(window, window + n, size_t(H) * sizeof(T));
    }
    // The window's history now holds the last H inputs, reaching into the initial state if L < H.
    if (p.final_state.present())
      for (int64_t i = 0; i < H; ++i)
        scalar::store<D>(p.final_state.data, p.final_state.offset(b, c, i), window[i]);
  }
}

// ---- channels-last: rows of all channels, 8 channels per vector ----------------------------------
//
// With channels adjacent in memory, a time row of x is contiguous, so the kernel walks rows
// [t_begin, t_end) in order and computes every channel of a row before the next: reads and writes
// stream through memory (a tile of channels walking down the rows would touch a new page per row
// and stall on every store). The K input rows a row needs were read moments before and are cached,
// so taps read x directly: no staging window.

// The 8 inputs x[b, c0 .. c0+lanes, s] (zero past `lanes`), s < 0 reading initial_state (or zero).
template <DType D>
inline Vec<ComputeOf<D>> gather_lanes(const ForwardProblem& p, int64_t b, int64_t c0, int64_t lanes,
                                     int64_t s) {
  alignas(64) ComputeOf<D> v[8] = {};
  const int64_t H = p.sizes.history();
  for (int64_t l = 0; l < lanes; ++l) {
    if (s >= 0)
      v[l] = scalar::load<D>(p.x.data, p.x.offset(b, c0 + l, s));
    else if (p.initial_state.present())
      v[l] = scalar::load<D>(p.initial_state.data, p.initial_state.offset(b, c0 + l, s + H));
  }
  return vec::load(v);
}

template <DType D, bool kSilu>
void forward_rows_channels_last(const ForwardProblem& p, int64_t b, int64_t t_begin,
                                int64_t t_end, ComputeOf<D>* scratch) {
  using T = ComputeOf<D>;
  using V = Vec<T>;
  const int64_t C = p.sizes.channels, L = p.sizes.length, K = p.sizes.taps, H = K - 1;
  const int64_t groups = (C + 7) / 8;
  const int64_t full_groups = p.x.stride_c == 1 ? C / 8 : 0;  // direct vector loads
  T* tap_lanes = scratch;                      // groups x K x 8: tap i of channel 8g + l
  T* bias_lanes = tap_lanes + groups * K * 8;  // groups x 8
  for (int64_t g = 0; g < groups; ++g)
    for (int l = 0; l < 8; ++l) {
      const int64_t c = 8 * g + l;
      for (int64_t i = 0; i < K; ++i)
        tap_lanes[(g * K + i) * 8 + l] =
            c < C ? scalar::load_any<T>(p.weight.data, p.weight.dtype, p.weight.offset(c, i)) : T(0);
      bias_lanes[g * 8 + l] = c < C && p.bias.present()
                                  ? scalar::load_any<T>(p.bias.data, p.bias.dtype, c * p.bias.stride_c)
                                  : T(0);
    }
  const RawOf<D>* x = element<D>(p.x.data, p.x.offset(b, 0, 0));
  RawOf<D>* y = element<D>(p.y.data, p.y.offset(b, 0, 0));
  for (int64_t t = t_begin; t < t_end; ++t) {
    const RawOf<D>* x_first = x + (t - H) * p.x.stride_t;  // row t-H (only used when t >= H)
    RawOf<D>* y_row = y + t * p.y.stride_t;
    const int64_t direct_groups = t >= H ? full_groups : 0;
    int64_t g = 0;
    for (; g < direct_groups; ++g) {
      const T* taps = tap_lanes + g * K * 8;
      V acc = vec::load(bias_lanes + 8 * g);
      for (int64_t i = 0; i < K; ++i)
        acc = vec::fmadd(vec::load(taps + 8 * i), load8<D>(x_first + i * p.x.stride_t + 8 * g), acc);
      store_vec<D>(y_row + 8 * g * p.y.stride_c, p.y.stride_c, activate<kSilu>(acc), 8);
    }
    // Rows reaching back before t = 0, partial groups and non-unit channel strides.
    for (; g < groups; ++g) {
      const T* taps = tap_lanes + g * K * 8;
      const int64_t lanes = min_i64(8, C - 8 * g);
      V acc = vec::load(bias_lanes + 8 * g);
      for (int64_t i = 0; i < K; ++i)
        acc = vec::fmadd(vec::load(taps + 8 * i), gather_lanes<D>(p, b, 8 * g, lanes, t - H + i), acc);
      store_vec<D>(y_row + 8 * g * p.y.stride_c, p.y.stride_c, activate<kSilu>(acc), lanes);
    }
  }
  // final_state[i] = x[L-H+i] (initial_state when L-H+i < 0): written by the task ending at L.
  if (t_end == L && p.final_state.present())
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H; ++i) {
        const int64_t s = L - H + i;
        T v = T(0);
        if (s >= 0)
          v = scalar::load<D>(p.x.data, p.x.offset(b, c, s));
        else if (p.initial_state.present())
          v = scalar::load<D>(p.initial_state.data, p.initial_state.offset(b, c, s + H));
        scalar::store<D>(p.final_state.data, p.final_state.offset(b, c, i), v);
      }
}

// ---- entry points ---------------------------------------------------------------------------------

template <DType D>
void forward_time_major(const ForwardProblem& p, int64_t row_begin, int64_t row_end, void* values) {
  specialise(p.sizes.taps, p.silu, [&](auto taps, auto silu) {
    forward_rows_time_major<D, decltype(taps)::value, decltype(silu)::value>(
        p, row_begin, row_end, static_cast<ComputeOf<D>*>(values));
  });
}

template <DType D>
void forward_channels_last(const ForwardProblem& p, int64_t b, int64_t t_begin, int64_t t_end,
                           void* values) {
  if (p.silu)
    forward_rows_channels_last<D, true>(p, b, t_begin, t_end, static_cast<ComputeOf<D>*>(values));
  else
    forward_rows_channels_last<D, false>(p, b, t_begin, t_end, static_cast<ComputeOf<D>*>(values));
}

}  // namespace serengeti::cpu::short_conv::SERENGETI_SHORT_CONV_ISA
