// AVX2 + F16C versions of load_lanes / store_lanes for the common case: float compute, float32 /
// float16 / bfloat16 storage, unit stride along time. Eight rows are read 8 samples at a time and
// turned into the engine's interleaved layout with an 8x8 register transpose.
//
// Only declared when the library has an AVX2 translation unit; callers must also check
// avx2_enabled() at run time.
#pragma once

#include <cstdint>

#include "serengeti/dtype.h"

namespace serengeti::cpu::fftconv::avx2 {

// True if these kernels handle the dtype (float32, float16, bfloat16).
inline bool handles_dtype(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kFloat16 || dtype == DType::kBFloat16;
}

// Same contract as load_lanes<float> with src.t_stride == 1 and (if gate) gate.t_stride == 1.
// gate may be null; gate_dtype is ignored then.
void load_lanes_unit_stride(float* buf, const void* src, DType src_dtype, int64_t src_lane_stride,
                            const void* gate, DType gate_dtype, int64_t gate_lane_stride,
                            int lanes, int64_t count);

// Same contract as store_lanes<float> with unit stride along time for dst and gate.
void store_lanes_unit_stride(void* dst, DType dst_dtype, int64_t dst_lane_stride, const float* buf,
                             const void* gate, DType gate_dtype, int64_t gate_lane_stride,
                             int lanes, int64_t count);

}  // namespace serengeti::cpu::fftconv::avx2
