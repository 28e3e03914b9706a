// serengeti::{cuda,emu}::short_conv_{forward,backward,step}: validate, pick the kernel for the
// layout, fill the kernels' argument structs and launch on p.launch.stream.
//
// Forward paths:  x and y unit-stride in L  -> row kernel, vectorised (channel-major);
//                 x and y unit-stride in C  -> channels-last tile kernel;
//                 anything else             -> row kernel with element-wise strided loads.
// Backward: the row kernel (vectorised when x, dy, dx are unit-stride in L, strided otherwise),
// then the fixed-order reduction of the weight/bias partials.
#include <cuda_runtime.h>

#include "cuda/emu/sg_launch.h"
#include "cuda/short_conv/kernel_args.cuh"
#include "cuda/short_conv/kernel_launchers.h"
#include "cuda/short_conv/short_conv_cuda.h"
#include "cuda/short_conv/validate_params.h"
#include "serengeti/error.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {

namespace {

using short_conv_kernels::Strided3;
using short_conv_kernels::Taps2;
using short_conv_kernels::Vector1;

// A state view handed to the kernels: null data when absent or empty (K = 1).
Strided3 optional_state(const TensorView& v, int64_t K) {
  if (!v.present() || K == 1) return Strided3{nullptr, 0, 0, 0};
  return short_conv_kernels::strided3(v);
}

Vector1 optional_vector(const TensorView& v) {
  if (!v.present()) return Vector1{nullptr, DType::kFloat32, 0};
  return short_conv_kernels::vector1(v);
}

cudaStream_t stream_of(const LaunchConfig& launch) { return static_cast<cudaStream_t>(launch.stream); }

}  // namespace

void short_conv_forward(const ShortConvForwardParams& p) {
  namespace v = short_conv_kernels::validate;
  const int64_t K = v::x_weight_bias(p.x, p.weight, p.bias);
  v::state(p.initial_state, "initial_state", p.x, K, false);
  v::required(p.y, "y");
  v::like_x(p.y, "y", p.x, true);
  v::state(p.final_state, "final_state", p.x, K, true);

  const int64_t B = p.x.sizes[0], C = p.x.sizes[1], L = p.x.sizes[2];
  if (B == 0 || C == 0) return;
  short_conv_kernels::ForwardArgs a{};
  a.batch = B;
  a.channels = C;
  a.length = L;
  a.taps = static_cast<int>(K);
  a.x = short_conv_kernels::strided3(p.x);
  a.initial_state = optional_state(p.initial_state, K);
  a.y = short_conv_kernels::strided3(p.y);
  a.final_state = optional_state(p.final_state, K);
  a.weight = short_conv_kernels::taps2(p.weight);
  a.bias = optional_vector(p.bias);
  const bool silu = p.activation == Activation::kSilu;

  const bool unit_stride_time = p.x.strides[2] == 1 && p.y.strides[2] == 1;
  const bool channels_last = p.x.strides[1] == 1 && p.y.strides[1] == 1 && C > 1;
  if (!unit_stride_time && channels_last)
    short_conv_kernels::launch_forward_channels_last(a, p.x.dtype, silu, stream_of(p.launch));
  else
    short_conv_kernels::launch_forward_rows(a, p.x.dtype, silu, stream_of(p.launch));
}

int64_t short_conv_backward_workspace_bytes(const ShortConvBackwardParams& p) {
  namespace v = short_conv_kernels::validate;
  const int64_t K = v::x_weight_bias(p.x, p.weight, p.bias);
  if (!p.dweight.present() && !p.dbias.present()) return 0;
  return short_conv_kernels::backward_partials_bytes(p.x.sizes[0], p.x.sizes[1], p.x.sizes[2],
                                                     static_cast<int>(K), p.x.dtype);
}

void short_conv_backward(const ShortConvBackwardParams& p) {
  namespace v = short_conv_kernels::validate;
  const int64_t K = v::x_weight_bias(p.x, p.weight, p.bias);
  v::state(p.initial_state, "initial_state", p.x, K, false);
  v::required(p.dy, "dy");
  v::like_x(p.dy, "dy", p.x, false);
  v::state(p.dfinal_state, "dfinal_state", p.x, K, false);
  if (v::given(p.dx)) v::like_x(p.dx, "dx", p.x, true);
  if (v::given(p.dweight)) {
    v::shape(p.dweight, "dweight", p.x.sizes[1], K, 0, 2, "(C, K) like weight");
    v::known_dtype(p.dweight, "dweight");
    v::writable(p.dweight, "dweight");
  }
  if (v::given(p.dbias)) {
    v::shape(p.dbias, "dbias", p.x.sizes[1], 0, 0, 1, "(C,)");
    v::known_dtype(p.dbias, "dbias");
    v::writable(p.dbias, "dbias");
  }
  v::state(p.dinitial_state, "dinitial_state", p.x, K, true);
  const int64_t needed = SG_KERNEL_NAMESPACE::short_conv_backward_workspace_bytes(p);
  SG_CHECK_ARG(p.workspace_bytes >= needed, "workspace: expected at least ", needed,
               " bytes (short_conv_backward_workspace_bytes), got ", p.workspace_bytes);
  SG_CHECK_ARG(needed == 0 || p.workspace != nullptr, "workspace: required (", needed,
               " bytes) but absent");

  const int64_t B = p.x.sizes[0], C = p.x.sizes[1], L = p.x.sizes[2];
  if (C == 0) return;
  short_conv_kernels::BackwardArgs a{};
  a.batch = B;
  a.channels = C;
  a.length = L;
  a.taps = static_cast<int>(K);
  a.x = short_conv_kernels::strided3(p.x);
  a.initial_state = optional_state(p.initial_state, K);
  a.dy = short_conv_kernels::strided3(p.dy);
  a.dfinal_state = optional_state(p.dfinal_state, K);
  a.dx = p.dx.present() ? short_conv_kernels::strided3(p.dx) : Strided3{nullptr, 0, 0, 0};
  a.dinitial_state = optional_state(p.dinitial_state, K);
  a.weight = short_conv_kernels::taps2(p.weight);
  a.bias = optional_vector(p.bias);
  a.partials = needed > 0 ? p.workspace : nullptr;
  a.chunk_groups = short_conv_kernels::backward_chunk_groups(B, C, L);
  const bool silu = p.activation == Activation::kSilu;
  const cudaStream_t stream = stream_of(p.launch);

  if (B > 0 && (a.dx.data != nullptr || a.dinitial_state.data != nullptr || a.partials != nullptr))
    short_conv_kernels::launch_backward_rows(a, p.x.dtype, silu, stream);
  // With B = 0 the partials are empty and the reduction writes zeros.
  if (p.dweight.present() || p.dbias.present()) {
    const Taps2 dweight = p.dweight.present() ? short_conv_kernels::taps2(p.dweight)
                                              : Taps2{nullptr, DType::kFloat32, 0, 0};
    short_conv_kernels::launch_reduce_weight_partials(a, p.x.dtype, dweight, optional_vector(p.dbias),
                                                      stream);
  }
}

void short_conv_step(const ShortConvStepParams& p) {
  namespace v = short_conv_kernels::validate;
  v::required(p.x, "x");
  SG_CHECK_ARG(p.x.ndim == 2, "x: expected 2 dims (B, C), got ", p.x.ndim, " dims");
  v::known_dtype(p.x, "x");
  const int64_t B = p.x.sizes[0], C = p.x.sizes[1];
  v::required(p.weight, "weight");
  SG_CHECK_ARG(p.weight.ndim == 2, "weight: expected 2 dims (C, K), got ", p.weight.ndim, " dims");
  const int64_t K = p.weight.sizes[1];
  SG_CHECK_ARG(K >= 1 && K <= v::kMaxTapCount, "weight: expected 1 <= K <= ", v::kMaxTapCount,
               " taps, got K = ", K);
  v::shape(p.weight, "weight", C, K, 0, 2, "(C, K)");
  v::known_dtype(p.weight, "weight");
  if (v::given(p.bias)) {
    v::shape(p.bias, "bias", C, 0, 0, 1, "(C,)");
    v::known_dtype(p.bias, "bias");
  }
  if (K > 1) v::required(p.state, "state");
  if (v::given(p.state)) {
    v::shape(p.state, "state", B, C, K - 1, 3, "(B, C, K-1)");
    SG_CHECK_ARG(p.state.dtype == p.x.dtype, "state: expected x's dtype ", dtype_name(p.x.dtype),
                 ", got ", dtype_name(p.state.dtype));
    v::writable(p.state, "state");
  }
  v::required(p.y, "y");
  v::shape(p.y, "y", B, C, 0, 2, "(B, C) like x");
  SG_CHECK_ARG(p.y.dtype == p.x.dtype, "y: expected x's dtype ", dtype_name(p.x.dtype), ", got ",
               dtype_name(p.y.dtype));
  v::writable(p.y, "y");
  if (B == 0 || C == 0) return;

  short_conv_kernels::StepArgs a{};
  a.batch = B;
  a.channels = C;
  a.taps = static_cast<int>(K);
  a.x = p.x.data;
  a.x_stride_b = p.x.strides[0];
  a.x_stride_c = p.x.strides[1];
  a.y = p.y.data;
  a.y_stride_b = p.y.strides[0];
  a.y_stride_c = p.y.strides[1];
  a.state = optional_state(p.state, K);
  a.weight = short_conv_kernels::taps2(p.weight);
  a.bias = optional_vector(p.bias);
  short_conv_kernels::launch_step(a, p.x.dtype, p.activation == Activation::kSilu, stream_of(p.launch));
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
