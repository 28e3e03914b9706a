// The __half / __nv_bfloat16 functions that CUDA's headers declare for device code only. They
// compute in float and round once, which is what the hardware's accuracy guarantees allow.
#pragma once

#include <cmath>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace sg_emu {
namespace device_api {

#define SG_EMU_HALF_UNARY(name, expr)                                                             \
  inline __half name(__half h) { const float x = __half2float(h); return __float2half(expr); }    \
  inline __nv_bfloat16 name(__nv_bfloat16 h) {                                                    \
    const float x = __bfloat162float(h);                                                          \
    return __float2bfloat16(expr);                                                                \
  }
SG_EMU_HALF_UNARY(hexp, std::exp(x))
SG_EMU_HALF_UNARY(hexp2, std::exp2(x))
SG_EMU_HALF_UNARY(hexp10, std::pow(10.0f, x))
SG_EMU_HALF_UNARY(hlog, std::log(x))
SG_EMU_HALF_UNARY(hlog2, std::log2(x))
SG_EMU_HALF_UNARY(hlog10, std::log10(x))
SG_EMU_HALF_UNARY(hsqrt, std::sqrt(x))
SG_EMU_HALF_UNARY(hrsqrt, 1.0f / std::sqrt(x))
SG_EMU_HALF_UNARY(hrcp, 1.0f / x)
SG_EMU_HALF_UNARY(hsin, std::sin(x))
SG_EMU_HALF_UNARY(hcos, std::cos(x))
SG_EMU_HALF_UNARY(htanh, std::tanh(x))
#undef SG_EMU_HALF_UNARY

#define SG_EMU_HALF2_UNARY(name, scalar)                                                          \
  inline __half2 name(__half2 h) { return __halves2half2(scalar(__low2half(h)), scalar(__high2half(h))); } \
  inline __nv_bfloat162 name(__nv_bfloat162 h) {                                                  \
    return __halves2bfloat162(scalar(__low2bfloat16(h)), scalar(__high2bfloat16(h)));             \
  }
SG_EMU_HALF2_UNARY(h2exp, hexp)
SG_EMU_HALF2_UNARY(h2exp2, hexp2)
SG_EMU_HALF2_UNARY(h2log, hlog)
SG_EMU_HALF2_UNARY(h2sqrt, hsqrt)
SG_EMU_HALF2_UNARY(h2rsqrt, hrsqrt)
SG_EMU_HALF2_UNARY(h2rcp, hrcp)
SG_EMU_HALF2_UNARY(h2sin, hsin)
SG_EMU_HALF2_UNARY(h2cos, hcos)
#undef SG_EMU_HALF2_UNARY

// Fused multiply-add: exact product and sum in float (24-bit mantissa holds the 11x11-bit product
// exactly), one rounding to half.
inline __half __hfma(__half a, __half b, __half c) {
  return __float2half(std::fma(__half2float(a), __half2float(b), __half2float(c)));
}
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) {
  return __float2bfloat16(std::fma(__bfloat162float(a), __bfloat162float(b), __bfloat162float(c)));
}
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) {
  return __halves2half2(__hfma(__low2half(a), __low2half(b), __low2half(c)),
                        __hfma(__high2half(a), __high2half(b), __high2half(c)));
}
inline __nv_bfloat162 __hfma2(__nv_bfloat162 a, __nv_bfloat162 b, __nv_bfloat162 c) {
  return __halves2bfloat162(__hfma(__low2bfloat16(a), __low2bfloat16(b), __low2bfloat16(c)),
                            __hfma(__high2bfloat16(a), __high2bfloat16(b), __high2bfloat16(c)));
}
inline int __half2int_rn(__half h) { return int(std::nearbyint(__half2float(h))); }
inline int __bfloat162int_rn(__nv_bfloat16 h) { return int(std::nearbyint(__bfloat162float(h))); }

}  // namespace device_api
}  // namespace sg_emu
