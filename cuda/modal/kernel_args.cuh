// Plain-old-data views the modal kernels take by value: pointers plus 64-bit element strides, sizes,
// and the argument structs of each kernel family. Absent tensors have null data.
//
// Dtypes: activations (w, y, dy, dw, z, fir_state) are the kernel's template type T; poles,
// residues, states and D are the accumulation type A = Acc<T> (float32, or float64 with float64
// activations: validate_params.h enforces it); fir_weight / fir_bias carry a runtime dtype.
#pragma once

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/modal/complex_math.cuh"
#include "cuda/short_conv/element_convert.cuh"
#include "serengeti/dtype.h"
#include "serengeti/tensor_view.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace modal_kernels {

// Element conversion shared with the short-conv kernels (same dtypes, same rounding).
using short_conv_kernels::Acc;
using short_conv_kernels::load_as;
using short_conv_kernels::narrow;
using short_conv_kernels::store_as;
using short_conv_kernels::widen;

// A (B, C, T) real tensor of the activation type.
struct Rows3 {
  void* data;
  int64_t stride_b, stride_c, stride_t;
  __host__ __device__ int64_t offset(int64_t b, int64_t c, int64_t t) const {
    return b * stride_b + c * stride_c + t * stride_t;
  }
};

// A complex tensor as its real view: (D, S, 2) with stride_b = 0, or (B, D, S, 2).
struct ComplexRows {
  void* data;
  int64_t stride_b, stride_c, stride_n, stride_part;
  __host__ __device__ bool present() const { return data != nullptr; }
  template <class A>
  __device__ Complex<A> load(int64_t b, int64_t c, int64_t n) const {
    const A* p = static_cast<const A*>(data) + b * stride_b + c * stride_c + n * stride_n;
    return {p[0], p[stride_part]};
  }
  template <class A>
  __device__ void store(int64_t b, int64_t c, int64_t n, Complex<A> z) const {
    A* p = static_cast<A*>(data) + b * stride_b + c * stride_c + n * stride_n;
    p[0] = z.re;
    p[stride_part] = z.im;
  }
};

// A (C,) or (C, K) tensor of a runtime dtype (fir_weight, fir_bias, D, dD).
struct Table2 {
  void* data;
  DType dtype;
  int64_t stride_c, stride_k;
  __host__ __device__ bool present() const { return data != nullptr; }
  template <class A>
  __device__ A load(int64_t c, int64_t k = 0) const {
    return load_as<A>(data, dtype, c * stride_c + k * stride_k);
  }
};

inline Rows3 rows3(const TensorView& v) {
  if (!v.present()) return Rows3{nullptr, 0, 0, 0};
  return Rows3{v.data, v.strides[0], v.strides[1], v.strides[2]};
}
// (D, S, 2) views get stride_b = 0; (B, D, S, 2) views their own.
inline ComplexRows complex_rows(const TensorView& v) {
  if (!v.present()) return ComplexRows{nullptr, 0, 0, 0, 0};
  if (v.ndim == 3) return ComplexRows{v.data, 0, v.strides[0], v.strides[1], v.strides[2]};
  return ComplexRows{v.data, v.strides[0], v.strides[1], v.strides[2], v.strides[3]};
}
inline Table2 table2(const TensorView& v) {
  if (!v.present()) return Table2{nullptr, DType::kFloat32, 0, 0};
  return Table2{v.data, v.dtype, v.strides[0], v.ndim > 1 ? v.strides[1] : 0};
}

// out[b, c, tau'] = Re sum_n a[b, c, n] p[c, n]^tau, tau' = tau or L-1-tau (reversed).
// modal_kernel: a = R, B = 1.   modal_state backward: a = conj(dstate), reversed.
struct SynthesisArgs {
  int64_t batch, channels, length, modes;
  ComplexRows coefficients, poles;
  bool conjugate, reversed;
  Rows3 out;
};

// Per (b, c, n): G0 = sum_tau x[tau] p^tau and G1 = sum_tau x[tau] tau p^(tau-1), x[tau] = in[b, c,
// tau or L-1-tau], then an epilogue (analysis.cu) turns them into the op's outputs.
struct AnalysisArgs {
  int64_t batch, channels, length, modes;
  Rows3 in;
  bool reversed, need_g0, need_g1;
  ComplexRows poles, residues, initial_state, dstate;
  ComplexRows state, dresidues, dpoles, dinitial_state;  // outputs (those the epilogue writes)
};

// The chunked scan, forward and backward: a block per row (forward) or per channel (backward), its
// thread k owning time steps [k * chunk_length, (k + 1) * chunk_length) of the row.
struct ScanArgs {
  int64_t batch, channels, length, modes;
  int64_t chunk_length, chunks;
  Rows3 w, y, dy, dw;
  Table2 skip, dskip;  // D and dD (C,)
  ComplexRows poles, residues, initial_state, final_state, dfinal_state;
  ComplexRows dresidues, dpoles, dinitial_state;
};

// StripedHyena's fused gated conv: z (B, 3D[, L]) -> y (B, D[, L]).
struct GatedArgs {
  int64_t batch, channels, length, modes, taps, heads;
  int layout;  // GatedConvLayout
  Rows3 z, y;  // the step uses stride_t = 0 and t = 0
  Rows3 fir_state_in, fir_state_out;  // (B, 3D, K-1); the step updates fir_state_in in place
  Table2 fir_weight, fir_bias, skip;
  ComplexRows poles, residues, iir_state_in, iir_state_out;
};

}  // namespace modal_kernels
}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
