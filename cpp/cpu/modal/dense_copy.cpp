// Dense copies of strided views (dense_copy.h): one dtype switch per copy, then a typed loop over
// the (up to 4-D) index space in row-major order.
#include "cpu/modal/dense_copy.h"

#include "cpu/fftconv/element_convert.h"

namespace serengeti::cpu::modal {
namespace {

template <class T> constexpr DType kDTypeOf = DType::kFloat32;
template <> constexpr DType kDTypeOf<double> = DType::kFloat64;

// Calls f(element offset, row-major index) for every element of v.
template <class F>
void for_each_offset(const TensorView& v, F f) {
  int64_t sizes[TensorView::kMaxDims] = {1, 1, 1, 1}, strides[TensorView::kMaxDims] = {0, 0, 0, 0};
  const int pad = TensorView::kMaxDims - v.ndim;  // right-align the dims into 4
  for (int d = 0; d < v.ndim; ++d) {
    sizes[pad + d] = v.sizes[d];
    strides[pad + d] = v.strides[d];
  }
  int64_t i = 0;
  for (int64_t a = 0; a < sizes[0]; ++a)
    for (int64_t b = 0; b < sizes[1]; ++b)
      for (int64_t c = 0; c < sizes[2]; ++c)
        for (int64_t e = 0; e < sizes[3]; ++e)
          f(a * strides[0] + b * strides[1] + c * strides[2] + e * strides[3], i++);
}

template <class T, class Storage, class Widen>
void gather(const TensorView& v, T* out, Widen widen) {
  const Storage* src = v.ptr<const Storage>();
  for_each_offset(v, [&](int64_t offset, int64_t i) { out[i] = T(widen(src[offset])); });
}

template <class T, class Storage, class Narrow>
void scatter(const T* in, const TensorView& v, Narrow narrow) {
  Storage* dst = v.ptr<Storage>();
  for_each_offset(v, [&](int64_t offset, int64_t i) { dst[offset] = narrow(in[i]); });
}

}  // namespace

template <class T>
bool is_dense_as(const TensorView& v) {
  return v.dtype == kDTypeOf<T> && v.contiguous();
}

template <class T>
void copy_to_dense(const TensorView& v, T* out) {
  using namespace fftconv;
  switch (v.dtype) {
    case DType::kFloat32: return gather<T, float>(v, out, [](float x) { return x; });
    case DType::kFloat64: return gather<T, double>(v, out, [](double x) { return x; });
    case DType::kFloat16: return gather<T, uint16_t>(v, out, [](uint16_t x) { return half_to_float(x); });
    case DType::kBFloat16: return gather<T, uint16_t>(v, out, [](uint16_t x) { return bf16_to_float(x); });
  }
}

template <class T>
void copy_from_dense(const T* in, const TensorView& v) {
  using namespace fftconv;
  switch (v.dtype) {
    case DType::kFloat32: return scatter<T, float>(in, v, [](T x) { return float(x); });
    case DType::kFloat64: return scatter<T, double>(in, v, [](T x) { return double(x); });
    case DType::kFloat16: return scatter<T, uint16_t>(in, v, [](T x) { return float_to_half(float(x)); });
    case DType::kBFloat16: return scatter<T, uint16_t>(in, v, [](T x) { return float_to_bf16(float(x)); });
  }
}

template bool is_dense_as<float>(const TensorView&);
template bool is_dense_as<double>(const TensorView&);
template void copy_to_dense<float>(const TensorView&, float*);
template void copy_to_dense<double>(const TensorView&, double*);
template void copy_from_dense<float>(const float*, const TensorView&);
template void copy_from_dense<double>(const double*, const TensorView&);

}  // namespace serengeti::cpu::modal
