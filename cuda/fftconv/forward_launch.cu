// serengeti::{cuda,emu}::fftconv_forward: validate, plan (execution.h: fused, unit sweep or
// multi-kernel), carve the workspace ([k_f of k | scratch of the multi-kernel path or of the
// filter transform]), launch on
// p.launch.stream. With taps k the spectrum is computed first (the D skip is applied in the time
// domain, so k_f stays the plain spectrum of the taps).
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/emu/sg_launch.h"
#include "cuda/fftconv/execution.h"
#include "cuda/fftconv/fftconv_cuda.h"
#include "cuda/fftconv/kernel_args.cuh"
#include "cuda/fftconv/kernel_launchers.h"
#include "cuda/fftconv/validate_params.h"
#include "serengeti/error.h"

namespace serengeti {
namespace SG_KERNEL_NAMESPACE {
namespace fftconv_kernels {
namespace {

struct ForwardWorkspace {
  int64_t spectrum = 0, scratch = 0;  // byte offsets
  int64_t total = 0;
};

ForwardWorkspace forward_workspace(const FftConvForwardParams& p, const Shape& s) {
  ForwardWorkspace w;
  const int64_t spectrum_bytes = p.k.present() ? rows_bytes(s.padded_channels(), s.log2_m) : 0;
  int64_t scratch = 0;
  if (forward_execution_for(s.log2_m).split) scratch = rows_bytes(s.batch * s.channels, s.log2_m);
  if (p.k.present() && filter_forward_scratch_bytes(s) > scratch) scratch = filter_forward_scratch_bytes(s);
  w.spectrum = 0;
  w.scratch = spectrum_bytes;
  w.total = spectrum_bytes + scratch;
  return w;
}

}  // namespace
}  // namespace fftconv_kernels

namespace fk = fftconv_kernels;

int64_t fftconv_forward_workspace_bytes(const FftConvForwardParams& p) {
  const fk::Shape s = fk::validate::forward(p);
  if (s.batch == 0 || s.channels == 0) return 0;
  return fk::forward_workspace(p, s).total;
}

void fftconv_forward(const FftConvForwardParams& p) {
  const fk::Shape s = fk::validate::forward(p);
  if (s.batch == 0 || s.channels == 0) return;
  const fk::ForwardWorkspace w = fk::forward_workspace(p, s);
  fk::validate::workspace(p.workspace, p.workspace_bytes, w.total);
  char* ws = static_cast<char*>(p.workspace);
  const cudaStream_t stream = fk::stream_of(p.launch);
  const float2* k_f = static_cast<const float2*>(p.k_f.data);
  if (p.k.present()) {
    float2* spectrum = reinterpret_cast<float2*>(ws + w.spectrum);
    fk::run_filter_forward(s, p.k, spectrum, ws + w.scratch, stream);
    k_f = spectrum;
  }
  fk::ForwardArgs a{};
  a.batch = s.batch;
  a.channels = s.channels;
  a.length = s.length;
  a.log2_m = s.log2_m;
  a.slots = fk::slots_for(s.batch * s.channels, s.log2_m);
  a.u = fk::activation_of(p.u);
  a.pregate = fk::activation_of(p.pregate);
  a.postgate = fk::activation_of(p.postgate);
  a.y = fk::activation_of(p.y);
  a.k_f = k_f;
  a.D = p.D.present() ? static_cast<const float*>(p.D.data) : nullptr;
  a.D_stride = p.D.present() ? p.D.strides[0] : 0;
  const fk::Execution e = fk::forward_execution_for(s.log2_m);
  if (e.split) {
    fk::launch_split_forward(a, fk::split_args(e, s.batch * s.channels, s.log2_m, ws + w.scratch),
                             p.u.dtype, stream);
  } else if (e.unit_sweep) {
    fk::launch_unit_sweep_forward(a, p.u.dtype, stream);
  } else {
    fk::launch_fused_forward(a, p.u.dtype, stream);
  }
}

}  // namespace SG_KERNEL_NAMESPACE
}  // namespace serengeti
