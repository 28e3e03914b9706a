// Loads and stores of a channel's samples with dtype conversion (signal_io.h). The common case
// (forward time, unit stride, float32) is a straight copy the compiler vectorises.
#include "cpu/modal/signal_io.h"

#include "cpu/fftconv/element_convert.h"

namespace serengeti::cpu::modal {
namespace {

using fftconv::load_element;
using fftconv::store_element;

// Physical element index of logical time t.
inline int64_t physical(const Signal& s, int64_t t) {
  return (s.reversed ? s.length - 1 - t : t) * s.stride;
}

}  // namespace

template <class T>
void load_samples(const Signal& s, int64_t t0, int64_t count, T* x) {
  if (!s.reversed && s.stride == 1 && s.dtype == DType::kFloat32) {
    const float* src = static_cast<const float*>(s.data) + t0;
    for (int64_t i = 0; i < count; ++i) x[i] = T(src[i]);
    return;
  }
  if (s.reversed && s.stride == 1 && s.dtype == DType::kFloat32) {
    const float* src = static_cast<const float*>(s.data) + (s.length - 1 - t0);
    for (int64_t i = 0; i < count; ++i) x[i] = T(src[-i]);
    return;
  }
  for (int64_t i = 0; i < count; ++i) x[i] = load_element<T>(s.data, s.dtype, physical(s, t0 + i));
}

template <class T>
void store_samples(const Signal& s, int64_t t0, int64_t count, const T* x) {
  if (!s.reversed && s.stride == 1 && s.dtype == DType::kFloat32) {
    float* dst = static_cast<float*>(s.data) + t0;
    for (int64_t i = 0; i < count; ++i) dst[i] = float(x[i]);
    return;
  }
  for (int64_t i = 0; i < count; ++i) store_element<T>(s.data, s.dtype, physical(s, t0 + i), x[i]);
}

template void load_samples<float>(const Signal&, int64_t, int64_t, float*);
template void load_samples<double>(const Signal&, int64_t, int64_t, double*);
template void store_samples<float>(const Signal&, int64_t, int64_t, const float*);
template void store_samples<double>(const Signal&, int64_t, int64_t, const double*);

}  // namespace serengeti::cpu::modal
