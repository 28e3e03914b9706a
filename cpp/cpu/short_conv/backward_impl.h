// Backward kernels of one instruction set. Included once by backward_<isa>.cpp after
// kernel_common_impl.h.
//
// Math, per (b, c) row with H = K-1 and y[t] = act(a[t]), a[t] = bias + sum_i w[i] x[t-H+i]:
//   g[t]      = dy[t] * act'(a[t])                       (act' = 1, or silu' = s (1 + a (1 - s)))
//   dbias     = sum_{b,t} g[t]
//   dw[i]     = sum_{b,t} g[t] x[t-H+i]                  (x at negative times from initial_state)
//   dxe[s]    = sum_q w[H-q] g[s+q]  for s in [-H, L)    (g = 0 outside [0, L))
//             + dfinal[s-(L-H)]      for s >= L-H        (final_state[i] is a copy of x[L-H+i])
//   dx[s] = dxe[s] for s >= 0, dinitial_state[s+H] = dxe[s] for s < 0.
// dxe is the same FIR as the forward, over a window of g with the taps reversed: a window holding
// g[t0-H .. t0+n) yields dxe[t0-H+p] = sum_q rw[q] gwin[p+q], rw[q] = w[H-q]. Each block therefore
// emits dxe for s in [t0-H, t0-H+n); a final flush over H zero gradients emits s in [L-H, L).
namespace serengeti::cpu::short_conv::SERENGETI_SHORT_CONV_ISA {

// Where dxe[s] goes: dx (s >= 0) or dinitial_state (s < 0), plus dfinal for s >= L-H.
template <DType D>
struct InputGradSink {
  const BackwardProblem* p;
  int64_t L, H;
  bool has_dfinal;

  // Element s of row (b, c); dfinal_row holds dfinal[b, c, 0..H) widened.
  void scalar_store(int64_t b, int64_t c, int64_t s, ComputeOf<D> v,
                    const ComputeOf<D>* dfinal_row, int64_t dfinal_step) const {
    if (has_dfinal && s >= L - H) v += dfinal_row[(s - (L - H)) * dfinal_step];
    if (s < 0) {
      if (p->dinitial_state.present())
        scalar::store<D>(p->dinitial_state.data, p->dinitial_state.offset(b, c, s + H), v);
    } else if (p->dx.present()) {
      scalar::store<D>(p->dx.data, p->dx.offset(b, c, s), v);
    }
  }
  // True when dxe[s .. s+count) all go to dx with nothing added.
  bool plain(int64_t s, int64_t count) const {
    return s >= 0 && (!has_dfinal || s + count <= L - H) && p->dx.present();
  }
};

// ---- time-major ------------------------------------------------------------------------------------

template <DType D, int kTaps, bool kSilu>
void backward_rows_time_major(const BackwardProblem& p, int64_t c_begin, int64_t c_end,
                              int64_t b_begin, int64_t b_end, ComputeOf<D>* scratch,
                              double* sums) {
  using T = ComputeOf<D>;
  using V = Vec<T>;
  const int64_t L = p.sizes.length, K = p.sizes.taps, H = K - 1;
  const int64_t block_room = H + (kTimeBlock > H ? kTimeBlock : H) + kWindowPad;
  T* tap_lanes = scratch;                 // K x 8, w[i] broadcast
  T* reversed_lanes = tap_lanes + 8 * K;  // K x 8, w[H-i] broadcast
  T* xwin = reversed_lanes + 8 * K;       // x[t0-H .. t0+n) + pad
  T* gwin = xwin + block_room;            // g[t0-H .. t0+n) + pad
  T* dfinal_row = gwin + block_room;      // H
  double* dweight_sum = sums;             // K
  double* dbias_sum = sums + K;           // 1
  const bool want_dx = p.needs_input_grads();
  const bool want_dw = p.dweight.present(), want_db = p.dbias.present();
  const bool need_x = kSilu || want_dw;
  const InputGradSink<D> sink{&p, L, H, p.dfinal_state.present()};

  for (int64_t c = c_begin; c < c_end; ++c) {
    for (int64_t i = 0; i < K; ++i) {
      const T w = scalar::load_any<T>(p.weight.data, p.weight.dtype, p.weight.offset(c, i));
      for (int l = 0; l < 8; ++l) {
        tap_lanes[8 * i + l] = w;
        reversed_lanes[8 * (H - i) + l] = w;
      }
    }
    const T bias = p.bias.present()
                       ? scalar::load_any<T>(p.bias.data, p.bias.dtype, c * p.bias.stride_c)
                       : T(0);
    const V bias_vec = vec::set1(bias);
    V regs[kTaps > 0 ? kTaps : 1], reversed_regs[kTaps > 0 ? kTaps : 1];
    load_tap_registers<kTaps, T>(regs, tap_lanes);
    load_tap_registers<kTaps, T>(reversed_regs, reversed_lanes);
    for (int64_t i = 0; i <= K; ++i) sums[i] = 0.0;

    for (int64_t b = b_begin; b < b_end; ++b) {
      for (int64_t i = 0; i < H; ++i) {
        xwin[i] = p.initial_state.present()
                      ? scalar::load<D>(p.initial_state.data, p.initial_state.offset(b, c, i))
                      : T(0);
        gwin[i] = T(0);  // g at t < 0
        dfinal_row[i] = sink.has_dfinal
                            ? scalar::load<D>(p.dfinal_state.data, p.dfinal_state.offset(b, c, i))
                            : T(0);
      }
      const RawOf<D>* x = element<D>(p.x.data, p.x.offset(b, c, 0));
      const RawOf<D>* dy = element<D>(p.dy.data, p.dy.offset(b, c, 0));
      RawOf<D>* dx = p.dx.present() ? element<D>(p.dx.data, p.dx.offset(b, c, 0)) : nullptr;

      // dxe[s0 + j] for j < count from the gradient window starting at gwin[q0].
      auto emit = [&](const T* g_at, int64_t s0, int64_t count) {
        const V d = tap_sum<kTaps, T>(g_at, 1, reversed_regs, reversed_lanes, K, zero_vec<T>());
        if (sink.plain(s0, count)) {
          store_vec<D>(dx + s0 * p.dx.stride_t, p.dx.stride_t, d, count);
          return;
        }
        alignas(64) T lanes[8];
        vec::store(lanes, d);
        for (int64_t j = 0; j < count; ++j) sink.scalar_store(b, c, s0 + j, lanes[j], dfinal_row, 1);
      };

      for (int64_t t0 = 0; t0 < L; t0 += kTimeBlock) {
        const int64_t n = min_i64(kTimeBlock, L - t0);
        if (need_x) {
          stage_run<D>(xwin + H, x + t0 * p.x.stride_t, p.x.stride_t, n);
          for (int64_t i = 0; i < kWindowPad; ++i) xwin[H + n + i] = T(0);
        }
        stage_run<D>(gwin + H, dy + t0 * p.dy.stride_t, p.dy.stride_t, n);
        for (int64_t i = 0; i < kWindowPad; ++i) gwin[H + n + i] = T(0);
        if constexpr (kSilu) {
          // g = dy * silu'(a); past n, dy is the zero pad, so g stays zero there.
          for (int64_t q = 0; q < n; q += 8) {
            const V a = tap_sum<kTaps, T>(xwin + q, 1, regs, tap_lanes, K, bias_vec);
            vec::store(gwin + H + q, vec::mul(vec::load(gwin + H + q), silu_derivative<T>(a)));
          }
        }
        // Reductions over whole vectors: the zero pad makes lanes past n contribute nothing.
        if (want_dw)
          for (int64_t i = 0; i < K; ++i) {
            V acc = zero_vec<T>();
            for (int64_t q = 0; q < n; q += 8)
              acc = vec::fmadd(vec::load(gwin + H + q), vec::load(xwin + q + i), acc);
            dweight_sum[i] += hsum(acc);
          }
        if (want_db) {
          V acc = zero_vec<T>();
          for (int64_t q = 0; q < n; q += 8) acc = vec::add(acc, vec::load(gwin + H + q));
          *dbias_sum += hsum(acc);
        }
        // Outputs s = t0-H+q; when only dinitial_state is wanted, just the blocks reaching s < 0.
        if (want_dx && (p.dx.present() || t0 < H))
          for (int64_t q = 0; q < n; q += 8) emit(gwin + q, t0 - H + q, min_i64(8, n - q));
        std::memmove(xwin, xwin + n, size_t(H) * sizeof(T));
        std::memmove(gwin, gwin + n, size_t(H) * sizeof(T));
      }
      // Flush: the last H outputs see g[L ..] = 0.
      if (want_dx && H > 0) {
        for (int64_t i = 0; i < H + kWindowPad; ++i) gwin[H + i] = T(0);
        for (int64_t q = 0; q < H; q += 8) emit(gwin + q, L - H + q, min_i64(8, H - q));
      }
    }
    if (want_dw)
      for (int64_t i = 0; i < K; ++i)
        scalar::store_any(p.dweight.data, p.dweight.dtype, p.dweight.offset(c, i), dweight_sum[i]);
    if (want_db) scalar::store_any(p.dbias.data, p.dbias.dtype, c * p.dbias.stride_c, *dbias_sum);
  }
}

// ---- channels-last -----------------------------------------------------------------------------

template <DType D, int kTaps, bool kSilu>
void backward_tile_channels_last(const BackwardProblem& p, int64_t c0, int64_t b_begin,
                                 int64_t b_end, ComputeOf<D>* scratch, double* sums) {
  using T = ComputeOf<D>;
  using V = Vec<T>;
  const int64_t C = p.sizes.channels, L = p.sizes.length, K = p.sizes.taps, H = K - 1;
  const int64_t width = min_i64(kTileChannels, C - c0);
  const int64_t groups = (width + 7) / 8;
  const int64_t row = 8 * groups;
  const int64_t g_rows = H + (kLaneTimeBlock > H ? kLaneTimeBlock : H);
  T* tap_lanes = scratch;                           // groups x K x 8
  T* reversed_lanes = tap_lanes + groups * K * 8;   // groups x K x 8, reversed taps
  T* bias_lanes = reversed_lanes + groups * K * 8;  // groups x 8
  T* xwin = bias_lanes + groups * 8;                // (H + kLaneTimeBlock) x row
  T* gwin = xwin + (H + kLaneTimeBlock) * row;      // g_rows x row
  T* dfinal_rows = gwin + g_rows * row;             // H x row
  double* dweight_sum = sums;                       // groups x K x 8
  double* dbias_sum = sums + groups * K * 8;        // groups x 8
  const bool want_dx = p.needs_input_grads();
  const bool want_dw = p.dweight.present(), want_db = p.dbias.present();
  const bool need_x = kSilu || want_dw;
  const InputGradSink<D> sink{&p, L, H, p.dfinal_state.present()};

  for (int64_t g = 0; g < groups; ++g)
    for (int l = 0; l < 8; ++l) {
      const int64_t c = c0 + 8 * g + l;
      for (int64_t i = 0; i < K; ++i) {
        const T w =
            c < C ? scalar::load_any<T>(p.weight.data, p.weight.dtype, p.weight.offset(c, i)) : T(0);
        tap_lanes[(g * K + i) * 8 + l] = w;
        reversed_lanes[(g * K + H - i) * 8 + l] = w;
      }
      bias_lanes[g * 8 + l] = c < C && p.bias.present()
                                  ? scalar::load_any<T>(p.bias.data, p.bias.dtype, c * p.bias.stride_c)
                                  : T(0);
    }
  for (int64_t i = 0; i < groups * (K + 1) * 8; ++i) sums[i] = 0.0;

  for (int64_t b = b_begin; b < b_end; ++b) {
    for (int64_t i = 0; i < H; ++i)
      for (int64_t l = 0; l < row; ++l) {
        const bool live = l < width;
        xwin[i * row + l] =
            live && p.initial_state.present()
                ? scalar::load<D>(p.initial_state.data, p.initial_state.offset(b, c0 + l, i))
                : T(0);
        gwin[i * row + l] = T(0);
        dfinal_rows[i * row + l] =
            live && sink.has_dfinal
                ? scalar::load<D>(p.dfinal_state.data, p.dfinal_state.offset(b, c0 + l, i))
                : T(0);
      }
    const RawOf<D>* x = element<D>(p.x.data, p.x.offset(b, c0, 0));
    const RawOf<D>* dy = element<D>(p.dy.data, p.dy.offset(b, c0, 0));

    // dxe[s] for the 8 channels of group g from the gradient rows starting at g_at.
    auto emit = [&](int64_t g, const T* g_at, int64_t s, const V* rregs) {
      const V d = tap_sum<kTaps, T>(g_at, row, rregs, reversed_lanes + g * K * 8, K, zero_vec<T>());
      const int64_t lanes = min_i64(8, width - 8 * g);
      if (sink.plain(s, 1)) {
        store_vec<D>(element<D>(p.dx.data, p.dx.offset(b, c0 + 8 * g, s)), p.dx.stride_c, d, lanes);
        return;
      }
      alignas(64) T values[8];
      vec::store(values, d);
      for (int64_t l = 0; l < lanes; ++l)
        sink.scalar_store(b, c0 + 8 * g + l, s, values[l], dfinal_rows + 8 * g + l, row);
    };

    for (int64_t t0 = 0; t0 < L; t0 += kLaneTimeBlock) {
      const int64_t n = min_i64(kLaneTimeBlock, L - t0);
      for (int64_t r = 0; r < n; ++r) {
        if (need_x)
          stage_lanes<D>(xwin + (H + r) * row, x + (t0 + r) * p.x.stride_t, p.x.stride_c, width, row);
        stage_lanes<D>(gwin + (H + r) * row, dy + (t0 + r) * p.dy.stride_t, p.dy.stride_c, width, row);
      }
      for (int64_t g = 0; g < groups; ++g) {
        const T* taps_g = tap_lanes + g * K * 8;
        V regs[kTaps > 0 ? kTaps : 1], rregs[kTaps > 0 ? kTaps : 1];
        load_tap_registers<kTaps, T>(regs, taps_g);
        load_tap_registers<kTaps, T>(rregs, reversed_lanes + g * K * 8);
        T* g_col = gwin + 8 * g;
        const T* x_col = xwin + 8 * g;
        if constexpr (kSilu) {
          const V bias = vec::load(bias_lanes + 8 * g);
          for (int64_t r = 0; r < n; ++r) {
            const V a = tap_sum<kTaps, T>(x_col + r * row, row, regs, taps_g, K, bias);
            T* gp = g_col + (H + r) * row;
            vec::store(gp, vec::mul(vec::load(gp), silu_derivative<T>(a)));
          }
        }
        if (want_dw)
          for (int64_t i = 0; i < K; ++i) {
            V acc = zero_vec<T>();
            for (int64_t r = 0; r < n; ++r)
              acc = vec::fmadd(vec::load(g_col + (H + r) * row), vec::load(x_col + (r + i) * row), acc);
            alignas(64) T lanes[8];
            vec::store(lanes, acc);
            for (int l = 0; l < 8; ++l) dweight_sum[(g * K + i) * 8 + l] += double(lanes[l]);
          }
        if (want_db) {
          V acc = zero_vec<T>();
          for (int64_t r = 0; r < n; ++r) acc = vec::add(acc, vec::load(g_col + (H + r) * row));
          alignas(64) T lanes[8];
          vec::store(lanes, acc);
          for (int l = 0; l < 8; ++l) dbias_sum[g * 8 + l] += double(lanes[l]);
        }
        if (want_dx && (p.dx.present() || t0 < H))
          for (int64_t r = 0; r < n; ++r) emit(g, g_col + r * row, t0 - H + r, rregs);
      }
      std::memmove(xwin, xwin + n * row, size_t(H * row) * sizeof(T));
      std::memmove(gwin, gwin + n * row, size_t(H * row) * sizeof(T));
    }
    if (want_dx && H > 0) {
      for (int64_t i = H * row; i < 2 * H * row; ++i) gwin[i] = T(0);
      for (int64_t g = 0; g < groups; ++g) {
        V rregs[kTaps > 0 ? kTaps : 1];
        load_tap_registers<kTaps, T>(rregs, reversed_lanes + g * K * 8);
        for (int64_t r = 0; r < H; ++r) emit(g, gwin + 8 * g + r * row, L - H + r, rregs);
      }
    }
  }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t l = 0; l < min_i64(8, width - 8 * g); ++l) {
      const int64_t c = c0 + 8 * g + l;
      if (want_dw)
        for (int64_t i = 0; i < K; ++i)
          scalar::store_any(p.dweight.data, p.dweight.dtype, p.dweight.offset(c, i),
                            dweight_sum[(g * K + i) * 8 + l]);
      if (want_db)
        scalar::store_any(p.dbias.data, p.dbias.dtype, c * p.dbias.stride_c, dbias_sum[g * 8 + l]);
    }
}

// ---- entry points ---------------------------------------------------------------------------------

template <DType D>
void backward_time_major(const BackwardProblem& p, int64_t c_begin, int64_t c_end, int64_t b_begin,
                         int64_t b_end, void* values, double* sums) {
  specialise(p.sizes.taps, p.silu, [&](auto taps, auto silu) {
    backward_rows_time_major<D, decltype(taps)::value, decltype(silu)::value>(
        p, c_begin, c_end, b_begin, b_end, static_cast<ComputeOf<D>*>(values), sums);
  });
}

template <DType D>
void backward_channels_last(const BackwardProblem& p, int64_t c_begin, int64_t b_begin,
                            int64_t b_end, void* values, double* sums) {
  specialise(p.sizes.taps, p.silu, [&](auto taps, auto silu) {
    backward_tile_channels_last<D, decltype(taps)::value, decltype(silu)::value>(
        p, c_begin, b_begin, b_end, static_cast<ComputeOf<D>*>(values), sums);
  });
}

}  // namespace serengeti::cpu::short_conv::SERENGETI_SHORT_CONV_ISA
