// The poles, residues and D skip of eight consecutive channels in the lane layout of scan_lanes.h
// ([n * 8 + l], zero for lanes past the last channel), plus their states in double for the carries.
// Portable code only.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/modal/complex_math.h"
#include "cpu/modal/complex_views.h"
#include "cpu/modal/scan_lanes.h"

namespace serengeti::cpu::modal {

template <class T>
struct GroupModes {
  std::vector<T> pr, pi, rr, ri, d;
  std::vector<Complex> poles;  // [n * 8 + l] in double (the carries' exact powers)
  LaneModes<T> view;

  // Channels c0 .. c0+7 of poles/residues (D, S, 2) and D (D,) (residues, D may be absent).
  void load(const TensorView& pole_view, const TensorView& residue_view, const TensorView& d_view,
            int64_t c0) {
    const int64_t C = pole_view.sizes[0], S = pole_view.sizes[1];
    pr.assign(S * kLanes, T(0));
    pi.assign(S * kLanes, T(0));
    rr.assign(S * kLanes, T(0));
    ri.assign(S * kLanes, T(0));
    d.assign(kLanes, T(0));
    poles.assign(S * kLanes, Complex{});
    for (int l = 0; l < kLanes && c0 + l < C; ++l) {
      for (int64_t n = 0; n < S; ++n) {
        const Complex p = load_complex2(pole_view, c0 + l, n);
        poles[n * kLanes + l] = p;
        pr[n * kLanes + l] = T(p.re);
        pi[n * kLanes + l] = T(p.im);
        if (residue_view.present()) {
          const Complex r = load_complex2(residue_view, c0 + l, n);
          rr[n * kLanes + l] = T(r.re);
          ri[n * kLanes + l] = T(r.im);
        }
      }
      if (d_view.present()) d[l] = T(load_real1(d_view, c0 + l));
    }
    view = {S, pr.data(), pi.data(), rr.data(), ri.data(), d.data()};
  }
};

// State layout helpers: element (n, l) of a [S * 2 * 8] lane state.
template <class T>
inline Complex lane_state(const T* s, int64_t n, int l) {
  return {double(s[(2 * n) * kLanes + l]), double(s[(2 * n + 1) * kLanes + l])};
}
template <class T>
inline void set_lane_state(T* s, int64_t n, int l, Complex z) {
  s[(2 * n) * kLanes + l] = T(z.re);
  s[(2 * n + 1) * kLanes + l] = T(z.im);
}

}  // namespace serengeti::cpu::modal
