// StripedHyena's gated conv over a whole prompt on the CPU (math: serengeti/modal.h, gated_lanes.h),
// one fused pass. The decode step is gated_step_cpu.cpp.
//
//   fir_r  = bias + w[K-1] z_r[t] + sum_{i<K-1} w[i] z_r[t-K+1+i]      r in (x2, x1, v)
//   w      = x1 * v;   s = p s + w;   y = x2 * (Re sum_n R_n s_n + D w)
//
// The recurrence keeps, per lane group, K-1 inputs per role and the modal state: memory O(1) in L.
// States are exact for any split of a prompt: the FIR state holds raw inputs (z's dtype, so copies
// are exact) and the modal state is float32 (complex64), like the step's.
#include <algorithm>
#include <vector>

#include "cpu/fftconv/element_convert.h"
#include "cpu/modal/chunk_plan.h"
#include "cpu/modal/gated_lanes.h"
#include "cpu/modal/lane_modes.h"
#include "cpu/modal/lane_tiles.h"
#include "cpu/modal/modal_cpu.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace modal {
namespace {

using fftconv::load_element;
using fftconv::store_element;

// The z channel (of 3D) that feeds role r (0: x2, 1: x1, 2: v) of output channel d.
int64_t z_channel(GatedConvLayout layout, int64_t heads, int64_t D, int64_t d, int role) {
  switch (layout) {
    case GatedConvLayout::kColumnSplit: {
      const int64_t per_head = D / heads, head = d / per_head, j = d % per_head;
      return head * 3 * per_head + role * per_head + j;
    }
    case GatedConvLayout::kThirds: return role * D + d;
    case GatedConvLayout::kInterleave: return 3 * d + role;
  }
  return 0;
}

template <class T>
T load_at(const TensorView& v, int64_t offset) {
  return load_element<T>(v.data, v.dtype, offset);
}

// ---- whole prompt: lane groups of 8 output channels, tiles of 64 steps ----

template <class T>
void recurrence(const GatedConvRecurrenceParams& p) {
  const int64_t B = p.z.sizes[0], L = p.z.sizes[2], D = p.poles.sizes[0], S = p.poles.sizes[1];
  const int64_t K = p.fir_weight.sizes[1], H = K - 1, hist_stride = H + kTile;
  const int64_t G = (D + kLanes - 1) / kLanes;
  const ScanKernels<T>& scan = scan_kernels<T>();
  const GatedKernels<T>& gated = gated_kernels<T>();
  const int64_t z_elem = int64_t(dtype_size(p.z.dtype));
  parallel_for(B * G, p.launch.num_threads, [&](int64_t group, int) {
    const int64_t b = group / G, d0 = (group % G) * kLanes;
    thread_local GroupModes<T> modes;
    thread_local std::vector<T> taps, bias, hist, state;
    modes.load(p.poles, p.residues, p.D, d0);
    taps.assign(3 * K * kLanes, T(0));
    bias.assign(3 * kLanes, T(0));
    hist.assign(3 * hist_stride * kLanes, T(0));
    LaneRows rows[3];
    int64_t channel[3][kLanes] = {};
    for (int role = 0; role < 3; ++role) {
      rows[role].dtype = p.z.dtype;
      rows[role].stride = p.z.strides[2];
      for (int l = 0; l < kLanes && d0 + l < D; ++l) {
        const int64_t ch = z_channel(p.layout, p.heads, D, d0 + l, role);
        channel[role][l] = ch;
        rows[role].rows[l] = static_cast<char*>(p.z.data) + (b * p.z.strides[0] + ch * p.z.strides[1]) * z_elem;
        for (int64_t i = 0; i < K; ++i)
          taps[(role * K + i) * kLanes + l] =
              load_at<T>(p.fir_weight, ch * p.fir_weight.strides[0] + i * p.fir_weight.strides[1]);
        if (p.fir_bias.present()) bias[role * kLanes + l] = load_at<T>(p.fir_bias, ch * p.fir_bias.strides[0]);
        if (p.fir_state_in.present())
          for (int64_t i = 0; i < H; ++i)
            hist[(role * hist_stride + i) * kLanes + l] = load_at<T>(
                p.fir_state_in, b * p.fir_state_in.strides[0] + ch * p.fir_state_in.strides[1] +
                                    i * p.fir_state_in.strides[2]);
      }
    }
    state.assign(2 * S * kLanes, T(0));
    if (p.iir_state_in.present())
      for (int l = 0; l < kLanes && d0 + l < D; ++l)
        for (int64_t n = 0; n < S; ++n) set_lane_state(state.data(), n, l, load_complex3(p.iir_state_in, b, d0 + l, n));
    const GatedFir<T> fir{taps.data(), bias.data(), K, hist_stride};
    const LaneRows y_rows = lane_rows(p.y, b, d0);
    alignas(64) T x2[kTile * kLanes];
    alignas(64) T w[kTile * kLanes];
    alignas(64) T y[kTile * kLanes];
    for (int64_t t0 = 0; t0 < L; t0 += kTile) {
      const int64_t len = std::min(kTile, L - t0);
      for (int role = 0; role < 3; ++role)
        gather_tile(rows[role], t0, len, &hist[(role * hist_stride + H) * kLanes]);
      gated.fir_gate(fir, hist.data(), len, x2, w);
      scan.forward(modes.view, state.data(), w, y, nullptr, len);
      gated.gate_output(x2, y, len);
      scatter_tile(y_rows, t0, len, y);
      // The last K-1 inputs become the history of the next tile.
      for (int role = 0; role < 3; ++role) {
        T* h = &hist[role * hist_stride * kLanes];
        std::copy(h + len * kLanes, h + (len + H) * kLanes, h);
      }
    }
    if (p.fir_state_out.present())
      for (int role = 0; role < 3; ++role)
        for (int l = 0; l < kLanes && d0 + l < D; ++l)
          for (int64_t i = 0; i < H; ++i)
            store_element<T>(p.fir_state_out.data, p.fir_state_out.dtype,
                             b * p.fir_state_out.strides[0] + channel[role][l] * p.fir_state_out.strides[1] +
                                 i * p.fir_state_out.strides[2],
                             hist[(role * hist_stride + i) * kLanes + l]);
    if (p.iir_state_out.present())
      for (int l = 0; l < kLanes && d0 + l < D; ++l)
        for (int64_t n = 0; n < S; ++n) store_complex3(p.iir_state_out, b, d0 + l, n, lane_state(state.data(), n, l));
  });
}

}  // namespace
}  // namespace modal

void gated_conv_recurrence(const GatedConvRecurrenceParams& p) {
  if (p.z.sizes[0] == 0 || p.poles.sizes[0] == 0) return;
  if (p.z.dtype == DType::kFloat64)
    modal::recurrence<double>(p);
  else
    modal::recurrence<float>(p);
}

}  // namespace serengeti::cpu
