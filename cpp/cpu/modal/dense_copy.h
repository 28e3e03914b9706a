// Dense row-major working copies of strided views of any dtype, for kernels that want plain arrays.
// A view that already is dense in the wanted type is used in place (no copy): on the hot path
// (float32 contiguous tensors) nothing is copied. Copies go to caller-owned scratch vectors, which
// keep their capacity from call to call, so steady-state calls allocate nothing.
//
// Portable code only (uses element_convert.h).
#pragma once

#include <cstdint>
#include <vector>

#include "serengeti/tensor_view.h"

namespace serengeti::cpu::modal {

template <class T>
bool is_dense_as(const TensorView& v);

// out[i] = v's i-th element in row-major order, widened or narrowed to T.
template <class T>
void copy_to_dense(const TensorView& v, T* out);

// v's i-th element (row-major order) = in[i], rounded to v's dtype.
template <class T>
void copy_from_dense(const T* in, const TensorView& v);

// v's data when dense as T, else a copy in `scratch`.
template <class T>
const T* dense_input(const TensorView& v, std::vector<T>& scratch) {
  if (is_dense_as<T>(v)) return v.ptr<T>();
  scratch.resize(v.numel());
  copy_to_dense(v, scratch.data());
  return scratch.data();
}

// An updatable dense array for v: v's own data when dense as T (then *copied = false), else a copy
// in `scratch` that the caller writes back with copy_from_dense afterwards.
template <class T>
T* dense_inout(const TensorView& v, std::vector<T>& scratch, bool* copied) {
  *copied = !is_dense_as<T>(v);
  if (!*copied) return v.ptr<T>();
  scratch.resize(v.numel());
  copy_to_dense(v, scratch.data());
  return scratch.data();
}

// Where to write an output: v's data when dense as T, else `scratch` (copy_from_dense afterwards).
template <class T>
T* dense_output(const TensorView& v, std::vector<T>& scratch, bool* copied) {
  *copied = !is_dense_as<T>(v);
  if (!*copied) return v.ptr<T>();
  scratch.resize(v.numel());
  return scratch.data();
}

}  // namespace serengeti::cpu::modal
