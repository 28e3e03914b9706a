// modal_scan forward and backward on the CPU (math: scan_lanes.h, serengeti/modal.h).
//
// Work unit: a lane group (batch row b, channels c0..c0+7) and a chunk of time. With several chunks
// per group the forward makes two passes:
//   1. each chunk k < last scans from a zero state: e_k = sum_{t in k} p^(end_k-1-t) w[t]
//   2. a short sequential carry per group, in double: s_in[0] = s0, s_in[k+1] = p^len_k s_in[k] + e_k
//   3. each chunk scans again from s_in[k], now with the readout y.
// The backward adds the mirror image for the adjoint g = dL/ds, carried as H = conj(p) g[t+1]:
//   H_end[last] = dfinal,  H_end[k-1] = conj(p)^len_k H_end[k] + conj(p R) a_k,
//   a_k = sum_{t in k} conj(p)^(t - begin_k) dy[t]     (the local reverse scan, from zero),
// then, per chunk and from its s_in and G_end, re-runs the forward tile by tile from checkpoints
// (states of one tile at a time: memory O(chunk/64 + 64) states, never O(L)) and the reverse scan.
// dR, dp and dD are reduced over batch rows and chunks in a fixed order: deterministic.
#include <vector>

#include "cpu/modal/chunk_plan.h"
#include "cpu/modal/lane_modes.h"
#include "cpu/modal/lane_tiles.h"
#include "cpu/modal/modal_cpu.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace modal {
namespace {

// Initial state (B, C, S, 2) of a lane group into a lane state (zero when absent).
template <class T>
void load_group_state(const TensorView& v, int64_t b, int64_t c0, int64_t S, T* state) {
  for (int64_t i = 0; i < 2 * S * kLanes; ++i) state[i] = T(0);
  if (!v.present()) return;
  for (int l = 0; l < kLanes && c0 + l < v.sizes[1]; ++l)
    for (int64_t n = 0; n < S; ++n) set_lane_state(state, n, l, load_complex3(v, b, c0 + l, n));
}

template <class T>
void store_group_state(const TensorView& v, int64_t b, int64_t c0, int64_t S, const T* state) {
  for (int l = 0; l < kLanes && c0 + l < v.sizes[1]; ++l)
    for (int64_t n = 0; n < S; ++n) store_complex3(v, b, c0 + l, n, lane_state(state, n, l));
}

template <class T>
void scan_forward(const ModalScanParams& p) {
  const int64_t B = p.w.sizes[0], C = p.w.sizes[1], L = p.w.sizes[2], S = p.poles.sizes[1];
  const int64_t G = (C + kLanes - 1) / kLanes, groups = B * G, state_size = 2 * S * kLanes;
  const int threads = p.launch.num_threads;
  const ChunkPlan plan = plan_chunks(groups, L, threads, 0);
  const ScanKernels<T>& kernels = scan_kernels<T>();
  // slot (group, k): the state entering chunk k (pass 1 leaves e_{k-1} there first).
  std::vector<T> slots(groups * plan.chunks * state_size);
  auto slot = [&](int64_t group, int64_t k) { return &slots[(group * plan.chunks + k) * state_size]; };

  if (plan.chunks > 1) {
    parallel_for(groups * (plan.chunks - 1), threads, [&](int64_t task, int) {
      const int64_t group = task / (plan.chunks - 1), k = task % (plan.chunks - 1);
      const int64_t b = group / G, c0 = (group % G) * kLanes;
      thread_local GroupModes<T> modes;
      modes.load(p.poles, p.residues, p.D, c0);
      alignas(64) T tile[kTile * kLanes];
      T* state = slot(group, k + 1);
      for (int64_t i = 0; i < state_size; ++i) state[i] = T(0);
      const LaneRows w_rows = lane_rows(p.w, b, c0);
      for (int64_t t0 = plan.begin(k); t0 < plan.end(k, L); t0 += kTile) {
        const int64_t len = std::min(kTile, plan.end(k, L) - t0);
        gather_tile(w_rows, t0, len, tile);
        kernels.forward(modes.view, state, tile, nullptr, nullptr, len);
      }
    });
  }
  parallel_for(groups, threads, [&](int64_t group, int) {
    const int64_t b = group / G, c0 = (group % G) * kLanes;
    std::vector<Complex> carry(S * kLanes), poles(S * kLanes);
    T* first = slot(group, 0);
    if (plan.chunks == 1) return load_group_state(p.initial_state, b, c0, S, first);
    for (int l = 0; l < kLanes; ++l)
      for (int64_t n = 0; n < S; ++n) {
        poles[n * kLanes + l] = c0 + l < C ? load_complex2(p.poles, c0 + l, n) : Complex{};
        carry[n * kLanes + l] = p.initial_state.present() && c0 + l < C
                                    ? load_complex3(p.initial_state, b, c0 + l, n) : Complex{};
      }
    for (int64_t k = 0; k < plan.chunks; ++k) {
      T* s = slot(group, k);
      const bool has_local = k + 1 < plan.chunks;
      for (int l = 0; l < kLanes; ++l)
        for (int64_t n = 0; n < S; ++n) {
          const Complex entering = carry[n * kLanes + l];
          if (has_local) {  // e_k sits in slot k+1 until iteration k+1 overwrites it
            const Complex local = lane_state(slot(group, k + 1), n, l);
            const Complex power = exact_power(poles[n * kLanes + l], plan.end(k, L) - plan.begin(k));
            carry[n * kLanes + l] = cadd(cmul(power, entering), local);
          }
          set_lane_state(s, n, l, entering);
        }
    }
  });
  parallel_for(groups * plan.chunks, threads, [&](int64_t task, int) {
    const int64_t group = task / plan.chunks, k = task % plan.chunks;
    const int64_t b = group / G, c0 = (group % G) * kLanes;
    thread_local GroupModes<T> modes;
    thread_local std::vector<T> state;
    modes.load(p.poles, p.residues, p.D, c0);
    state.assign(slot(group, k), slot(group, k) + state_size);
    alignas(64) T w_tile[kTile * kLanes];
    alignas(64) T y_tile[kTile * kLanes];
    const LaneRows w_rows = lane_rows(p.w, b, c0), y_rows = lane_rows(p.y, b, c0);
    for (int64_t t0 = plan.begin(k); t0 < plan.end(k, L); t0 += kTile) {
      const int64_t len = std::min(kTile, plan.end(k, L) - t0);
      gather_tile(w_rows, t0, len, w_tile);
      kernels.forward(modes.view, state.data(), w_tile, y_tile, nullptr, len);
      scatter_tile(y_rows, t0, len, y_tile);
    }
    if (k == plan.chunks - 1 && p.final_state.present())
      store_group_state(p.final_state, b, c0, S, state.data());
  });
}

// Per-task gradient sums in double: dR, dp [n * 8 + l] and dD [l].
struct TaskGrads {
  std::vector<double> dr_re, dr_im, dp_re, dp_im, dd;
  void reset(int64_t S) {
    dr_re.assign(S * kLanes, 0.0);
    dr_im.assign(S * kLanes, 0.0);
    dp_re.assign(S * kLanes, 0.0);
    dp_im.assign(S * kLanes, 0.0);
    dd.assign(kLanes, 0.0);
  }
};

template <class T>
void scan_backward(const ModalScanBackwardParams& p) {
  const int64_t B = p.w.sizes[0], C = p.w.sizes[1], L = p.w.sizes[2], S = p.poles.sizes[1];
  const int64_t G = (C + kLanes - 1) / kLanes, groups = B * G, state_size = 2 * S * kLanes;
  const int threads = p.launch.num_threads;
  const ChunkPlan plan = plan_chunks(groups, L, threads, /*max_length=*/4096);
  const ScanKernels<T>& kernels = scan_kernels<T>();
  std::vector<T> s_slots(groups * plan.chunks * state_size), g_slots(groups * plan.chunks * state_size);
  auto s_slot = [&](int64_t group, int64_t k) { return &s_slots[(group * plan.chunks + k) * state_size]; };
  auto g_slot = [&](int64_t group, int64_t k) { return &g_slots[(group * plan.chunks + k) * state_size]; };

  // Local passes: forward end states e_k (into s slot k+1), reverse sums a_k (into g slot k-1).
  if (plan.chunks > 1) {
    parallel_for(groups * (plan.chunks - 1) * 2, threads, [&](int64_t task, int) {
      const bool adjoint = task % 2 == 1;
      const int64_t group = task / 2 / (plan.chunks - 1), j = task / 2 % (plan.chunks - 1);
      const int64_t b = group / G, c0 = (group % G) * kLanes;
      thread_local GroupModes<T> modes;
      modes.load(p.poles, p.residues, p.D, c0);
      alignas(64) T tile[kTile * kLanes];
      if (!adjoint) {  // chunk j, forward
        T* state = s_slot(group, j + 1);
        for (int64_t i = 0; i < state_size; ++i) state[i] = T(0);
        const LaneRows rows = lane_rows(p.w, b, c0);
        for (int64_t t0 = plan.begin(j); t0 < plan.end(j, L); t0 += kTile) {
          const int64_t len = std::min(kTile, plan.end(j, L) - t0);
          gather_tile(rows, t0, len, tile);
          kernels.forward(modes.view, state, tile, nullptr, nullptr, len);
        }
      } else {  // chunk k = j + 1, reverse
        const int64_t k = j + 1;
        T* a = g_slot(group, k - 1);
        for (int64_t i = 0; i < state_size; ++i) a[i] = T(0);
        const LaneRows rows = lane_rows(p.dy, b, c0);
        const int64_t tiles = (plan.end(k, L) - plan.begin(k) + kTile - 1) / kTile;
        for (int64_t i = tiles - 1; i >= 0; --i) {
          const int64_t t0 = plan.begin(k) + i * kTile, len = std::min(kTile, plan.end(k, L) - t0);
          gather_tile(rows, t0, len, tile);
          kernels.adjoint(modes.view, a, tile, len);
        }
      }
    });
  }
  // Carries: s_in forward from s0, G_end backward from dfinal (double).
  parallel_for(groups, threads, [&](int64_t group, int) {
    const int64_t b = group / G, c0 = (group % G) * kLanes;
    for (int l = 0; l < kLanes; ++l)
      for (int64_t n = 0; n < S; ++n) {
        const bool used = c0 + l < C;
        const Complex pole = used ? load_complex2(p.poles, c0 + l, n) : Complex{};
        const Complex residue = used ? load_complex2(p.residues, c0 + l, n) : Complex{};
        Complex s = used && p.initial_state.present() ? load_complex3(p.initial_state, b, c0 + l, n) : Complex{};
        for (int64_t k = 0; k < plan.chunks; ++k) {
          const Complex entering = s;
          if (k + 1 < plan.chunks)
            s = cadd(cmul(exact_power(pole, plan.end(k, L) - plan.begin(k)), entering),
                     lane_state(s_slot(group, k + 1), n, l));
          set_lane_state(s_slot(group, k), n, l, entering);
        }
        Complex g = used && p.dfinal_state.present() ? load_complex3(p.dfinal_state, b, c0 + l, n) : Complex{};
        for (int64_t k = plan.chunks - 1; k >= 0; --k) {
          const Complex leaving = g;
          if (k > 0)
            g = cadd(cmul(cconj(exact_power(pole, plan.end(k, L) - plan.begin(k))), leaving),
                     cmul(cconj(cmul(pole, residue)), lane_state(g_slot(group, k - 1), n, l)));
          set_lane_state(g_slot(group, k), n, l, leaving);
        }
      }
  });
  // Per chunk: checkpoints forward, then tiles in reverse.
  std::vector<TaskGrads> partial(groups * plan.chunks);
  parallel_for(groups * plan.chunks, threads, [&](int64_t task, int) {
    const int64_t group = task / plan.chunks, k = task % plan.chunks;
    const int64_t b = group / G, c0 = (group % G) * kLanes;
    const int64_t begin = plan.begin(k), end = plan.end(k, L);
    const int64_t tiles = (end - begin + kTile - 1) / kTile;
    thread_local GroupModes<T> modes;
    thread_local std::vector<T> checkpoints, states, state, g, tile_grads;
    modes.load(p.poles, p.residues, p.D, c0);
    checkpoints.resize(tiles * state_size);
    states.resize(kTile * state_size);
    state.assign(s_slot(group, k), s_slot(group, k) + state_size);
    g.assign(g_slot(group, k), g_slot(group, k) + state_size);
    tile_grads.resize(4 * S * kLanes + kLanes);
    alignas(64) T w_tile[kTile * kLanes];
    alignas(64) T dy_tile[kTile * kLanes];
    alignas(64) T dw_tile[kTile * kLanes];
    const LaneRows w_rows = lane_rows(p.w, b, c0), dy_rows = lane_rows(p.dy, b, c0);
    for (int64_t i = 0; i < tiles; ++i) {
      const int64_t t0 = begin + i * kTile, len = std::min(kTile, end - t0);
      std::copy(state.begin(), state.end(), checkpoints.begin() + i * state_size);
      gather_tile(w_rows, t0, len, w_tile);
      kernels.forward(modes.view, state.data(), w_tile, nullptr, nullptr, len);
    }
    TaskGrads& sums = partial[task];
    sums.reset(S);
    const LaneGrads<T> grads{tile_grads.data(), tile_grads.data() + S * kLanes,
                             tile_grads.data() + 2 * S * kLanes, tile_grads.data() + 3 * S * kLanes,
                             tile_grads.data() + 4 * S * kLanes};
    for (int64_t i = tiles - 1; i >= 0; --i) {
      const int64_t t0 = begin + i * kTile, len = std::min(kTile, end - t0);
      const T* before = &checkpoints[i * state_size];
      state.assign(before, before + state_size);
      gather_tile(w_rows, t0, len, w_tile);
      gather_tile(dy_rows, t0, len, dy_tile);
      kernels.forward(modes.view, state.data(), w_tile, nullptr, states.data(), len);
      std::fill(tile_grads.begin(), tile_grads.end(), T(0));
      kernels.backward(modes.view, g.data(), before, states.data(), w_tile, dy_tile, dw_tile, grads, len);
      // Tile sums (64 terms in T) are added in double.
      for (int64_t j = 0; j < S * kLanes; ++j) {
        sums.dr_re[j] += double(grads.dr_re[j]);
        sums.dr_im[j] += double(grads.dr_im[j]);
        sums.dp_re[j] += double(grads.dp_re[j]);
        sums.dp_im[j] += double(grads.dp_im[j]);
      }
      for (int l = 0; l < kLanes; ++l) sums.dd[l] += double(grads.dd[l]);
      if (p.dw.present()) scatter_tile(lane_rows(p.dw, b, c0), t0, len, dw_tile);
    }
    if (k == 0 && p.dinitial_state.present())  // ds0 = conj(p) g[0]: what H holds now
      for (int l = 0; l < kLanes && c0 + l < C; ++l)
        for (int64_t n = 0; n < S; ++n) store_complex3(p.dinitial_state, b, c0 + l, n, lane_state(g.data(), n, l));
  });
  // Fixed-order reduction over batch rows and chunks.
  for (int64_t c = 0; c < C; ++c) {
    const int64_t gc = c / kLanes, l = c % kLanes;
    double dd = 0;
    for (int64_t n = 0; n < S; ++n) {
      Complex dr, dp;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t k = 0; k < plan.chunks; ++k) {
          const TaskGrads& t = partial[(b * G + gc) * plan.chunks + k];
          dr = cadd(dr, {t.dr_re[n * kLanes + l], t.dr_im[n * kLanes + l]});
          dp = cadd(dp, {t.dp_re[n * kLanes + l], t.dp_im[n * kLanes + l]});
          if (n == 0) dd += t.dd[l];
        }
      if (p.dresidues.present()) store_complex2(p.dresidues, c, n, dr);
      if (p.dpoles.present()) store_complex2(p.dpoles, c, n, dp);
    }
    if (p.dD.present()) {
      if (p.dD.dtype == DType::kFloat64)
        p.dD.ptr<double>()[c * p.dD.strides[0]] = dd;
      else
        p.dD.ptr<float>()[c * p.dD.strides[0]] = float(dd);
    }
  }
}

}  // namespace
}  // namespace modal

void modal_scan(const ModalScanParams& p) {
  if (p.w.sizes[0] == 0 || p.w.sizes[1] == 0 || p.w.sizes[2] == 0) return;
  if (p.w.dtype == DType::kFloat64)
    modal::scan_forward<double>(p);
  else
    modal::scan_forward<float>(p);
}

void modal_scan_backward(const ModalScanBackwardParams& p) {
  if (p.w.sizes[1] == 0) return;
  if (p.w.dtype == DType::kFloat64)
    modal::scan_backward<double>(p);
  else
    modal::scan_backward<float>(p);
}

}  // namespace serengeti::cpu
