// Reading and writing complex tensors passed as real views with a trailing dimension of 2
// (torch.view_as_real): element (i, j[, k]) is the pair at offset ... + 0 / + stride(last).
// Poles, residues and states are float32, or float64 in the gradcheck path; the compute helpers
// widen to double so anchors and carries are formed in double whatever the storage.
//
// static inline: included by portable and *_avx2.cpp files alike (see complex_math.h).
#pragma once

#include <cstdint>

#include "cpu/modal/complex_math.h"
#include "serengeti/tensor_view.h"

namespace serengeti::cpu::modal {

// Offset (in elements) of the real part of complex element `index` (all dims but the last).
static inline int64_t complex_offset(const TensorView& v, const int64_t* index) {
  int64_t offset = 0;
  for (int d = 0; d + 1 < v.ndim; ++d) offset += index[d] * v.strides[d];
  return offset;
}

static inline Complex load_complex_at(const TensorView& v, int64_t offset) {
  const int64_t s = v.strides[v.ndim - 1];
  if (v.dtype == DType::kFloat64) {
    const double* p = v.ptr<double>() + offset;
    return {p[0], p[s]};
  }
  const float* p = v.ptr<float>() + offset;
  return {double(p[0]), double(p[s])};
}

static inline void store_complex_at(const TensorView& v, int64_t offset, Complex z) {
  const int64_t s = v.strides[v.ndim - 1];
  if (v.dtype == DType::kFloat64) {
    double* p = v.ptr<double>() + offset;
    p[0] = z.re;
    p[s] = z.im;
    return;
  }
  float* p = v.ptr<float>() + offset;
  p[0] = float(z.re);
  p[s] = float(z.im);
}

// (D, S, 2) views: element (c, n).
static inline Complex load_complex2(const TensorView& v, int64_t c, int64_t n) {
  return load_complex_at(v, c * v.strides[0] + n * v.strides[1]);
}
static inline void store_complex2(const TensorView& v, int64_t c, int64_t n, Complex z) {
  store_complex_at(v, c * v.strides[0] + n * v.strides[1], z);
}

// (B, D, S, 2) views: element (b, c, n).
static inline Complex load_complex3(const TensorView& v, int64_t b, int64_t c, int64_t n) {
  return load_complex_at(v, b * v.strides[0] + c * v.strides[1] + n * v.strides[2]);
}
static inline void store_complex3(const TensorView& v, int64_t b, int64_t c, int64_t n, Complex z) {
  store_complex_at(v, b * v.strides[0] + c * v.strides[1] + n * v.strides[2], z);
}

// A real (D,) view element as double (D skip weights, float32 or float64).
static inline double load_real1(const TensorView& v, int64_t c) {
  if (v.dtype == DType::kFloat64) return v.ptr<double>()[c * v.strides[0]];
  return double(v.ptr<float>()[c * v.strides[0]]);
}

}  // namespace serengeti::cpu::modal
