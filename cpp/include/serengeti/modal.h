// Modal (poles/residues) filters, modal scans and StripedHyena's fused gated-conv recurrence:
// params structs and entry points. Math and formats: shared/MODELS.md.
//
// Complex tensors are passed as their real views (torch.view_as_real): a trailing dimension of 2
// holding (re, im), float32. Gradients of complex tensors follow torch's convention:
// grad = dL/dRe + i dL/dIm.
//
//   modal_kernel:  h[c, t] = Re sum_n R[c, n] p[c, n]^t                       (t = 0..L-1)
//   modal_state:   s[b, c, n] = p^L s0 + sum_{k<L} p^(L-1-k) w[b, c, k]
//   modal_scan:    s[t] = p s[t-1] + w[t] (s[-1] = s0);  y[t] = Re sum_n R_n s_n[t] + D w[t]
//   gated conv:    StripedHyena's Hyena block after the in-projection, one token or a whole prompt:
//                  short FIR (state of K-1 inputs) -> split (x2, x1, v) -> w = x1 * v ->
//                  s = p s + w -> y = x2 * (Re sum R s + D w)
//
// Shapes: residues, poles (D, S, 2); w, y (B, D, L); states (B, D, S, 2); z (B, 3D[, L]).
// Activations (w, y, z) float32, float16, bfloat16 (float64 on the cpu backend, for gradcheck);
// poles, residues, states and all filter arithmetic float32 (float64 with float64 activations).
#pragma once

#include <cstdint>

#include "serengeti/launch.h"
#include "serengeti/short_conv.h"
#include "serengeti/tensor_view.h"

namespace serengeti {

// h (D, L) from residues and poles (D, S, 2). Accurate for |p| <= 1 (and slightly above) up to
// L = 4M: powers are re-anchored with exact p^t (no long chains of repeated multiplication).
struct ModalKernelParams {
  TensorView residues, poles;  // (D, S, 2)
  TensorView h;                // output (D, L), float32 (float64 with float64 poles)
  LaunchConfig launch;
};

struct ModalKernelBackwardParams {
  TensorView residues, poles;  // (D, S, 2)
  TensorView dh;               // (D, L)
  TensorView dresidues, dpoles;  // outputs (D, S, 2), each optional
  LaunchConfig launch;
};

// Final state after a sequence: s = p^L s0 + sum_k p^(L-1-k) w_k, O(B*D*S) extra memory.
struct ModalStateParams {
  TensorView w;                // (B, D, L)
  TensorView poles;            // (D, S, 2)
  TensorView initial_state;    // (B, D, S, 2) or absent (zero)
  TensorView state;            // output (B, D, S, 2)
  LaunchConfig launch;
};

struct ModalStateBackwardParams {
  TensorView w, poles, initial_state;
  TensorView dstate;           // (B, D, S, 2)
  TensorView dw;               // (B, D, L), optional
  TensorView dpoles;           // (D, S, 2), optional, reduced over B deterministically
  TensorView dinitial_state;   // (B, D, S, 2), optional
  LaunchConfig launch;
};

// Chunked recurrent scan, parallel over (B, D) and over chunks of L.
struct ModalScanParams {
  TensorView w;                // (B, D, L)
  TensorView residues, poles;  // (D, S, 2)
  TensorView D;                // (D,) or absent
  TensorView initial_state;    // (B, D, S, 2) or absent
  TensorView y;                // output (B, D, L), w's dtype
  TensorView final_state;      // output (B, D, S, 2) or absent
  LaunchConfig launch;
};

struct ModalScanBackwardParams {
  TensorView w, residues, poles, D, initial_state;
  TensorView dy;               // (B, D, L)
  TensorView dfinal_state;     // (B, D, S, 2) or absent
  TensorView dw, dresidues, dpoles, dD, dinitial_state;  // outputs, each optional
  LaunchConfig launch;
};

// How the 3D channels of z split into (x2, x1, v).
enum class GatedConvLayout : int8_t {
  kColumnSplit,  // StripedHyena: per head of D/heads channels, blocks [x2 | x1 | v] of 3*D/heads
  kThirds,       // [x2 | x1 | v] over all 3D channels
  kInterleave,   // channels 3i, 3i+1, 3i+2 -> x2, x1, v
};

// One decode step of a StripedHyena Hyena block, fused.
struct GatedConvStepParams {
  TensorView z;                // (B, 3D) in-projection output for this token
  TensorView fir_state;        // (B, 3D, K-1), updated in place
  TensorView fir_weight;       // (3D, K)
  TensorView fir_bias;         // (3D,) or absent
  TensorView poles, residues;  // (D, S, 2)
  TensorView D;                // (D,) or absent
  TensorView iir_state;        // (B, D, S, 2), updated in place
  GatedConvLayout layout = GatedConvLayout::kColumnSplit;
  int64_t heads = 1;
  TensorView y;                // output (B, D), z's dtype
  LaunchConfig launch;
};

// The same over a whole prompt z (B, 3D, L), constant memory in L; states optional on input
// (zero) and written on output when present.
struct GatedConvRecurrenceParams {
  TensorView z;                // (B, 3D, L)
  TensorView fir_weight, fir_bias, poles, residues, D;
  GatedConvLayout layout = GatedConvLayout::kColumnSplit;
  int64_t heads = 1;
  TensorView fir_state_in;     // (B, 3D, K-1) or absent
  TensorView iir_state_in;     // (B, D, S, 2) or absent
  TensorView y;                // output (B, D, L)
  TensorView fir_state_out;    // output (B, 3D, K-1) or absent
  TensorView iir_state_out;    // output (B, D, S, 2) or absent
  LaunchConfig launch;
};

void modal_kernel(const ModalKernelParams& p);
void modal_kernel_backward(const ModalKernelBackwardParams& p);
void modal_state(const ModalStateParams& p);
void modal_state_backward(const ModalStateBackwardParams& p);
void modal_scan(const ModalScanParams& p);
void modal_scan_backward(const ModalScanBackwardParams& p);
void gated_conv_step(const GatedConvStepParams& p);
void gated_conv_recurrence(const GatedConvRecurrenceParams& p);

}  // namespace serengeti
