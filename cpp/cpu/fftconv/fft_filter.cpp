// The packed filter spectrum k_f of fft_filter_forward, and its adjoint.
//
//   k_f[group] = forward(placed taps of k, in_len = used length)         (see filter_taps.h)
//   dk         = taps of inverse(from_gradient(dk_f[group]))
//
// The second line is the adjoint of the first: the engine defines from_gradient so that
// <forward(x), dX> = <x, inverse(from_gradient(dX))> for the stored spectrum values.
#include <algorithm>
#include <cstring>

#include "cpu/fft/real_fft8.h"
#include "cpu/fftconv/fftconv_cpu.h"
#include "cpu/fftconv/filter_taps.h"
#include "cpu/fftconv/thread_scratch.h"
#include "cpu/fftconv/validate_params.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace {

using namespace fftconv;

template <class T>
void filter_forward(const FftFilterParams& p, const ConvShape& shape) {
  const auto& plan = fft::RealFft8<T>::get(shape.fft_size);
  const TapPlacement placement = tap_placement(shape);
  const int64_t n = shape.fft_size;
  parallel_for(shape.groups(), std::max(1, p.launch.num_threads), [&](int64_t group, int) {
    // Transform in place inside k_f: no scratch needed.
    T* spectrum = p.k_f.ptr<T>() + group * n * 8;
    load_filter_taps<T>(spectrum, filter_rows(p.k, group * kGroupLanes), placement,
                        shape.lanes_in_group(group), nullptr);
    plan.forward(spectrum, placement.used_length());
  });
}

template <class T>
void filter_backward(const FftFilterBackwardParams& p, const ConvShape& shape) {
  const auto& plan = fft::RealFft8<T>::get(shape.fft_size);
  const TapPlacement placement = tap_placement(shape);
  const int64_t n = shape.fft_size;
  parallel_for(shape.groups(), std::max(1, p.launch.num_threads), [&](int64_t group, int) {
    T* work = thread_scratch<T>(ScratchSlot::kAccumulator, n * 8);
    std::memcpy(work, p.dk_f.ptr<const T>() + group * n * 8, size_t(n * 8) * sizeof(T));
    plan.from_gradient(work);
    plan.inverse(work, placement.used_length());
    store_filter_taps(mutable_filter_rows(p.dk, group * kGroupLanes), shape.taps, work, placement,
                      shape.lanes_in_group(group));
  });
}

}  // namespace

void fft_filter_forward(const FftFilterParams& p) {
  const ConvShape shape = validate_filter_forward(p);
  if (p.k.dtype == DType::kFloat64) {
    filter_forward<double>(p, shape);
  } else {
    filter_forward<float>(p, shape);
  }
}

void fft_filter_backward(const FftFilterBackwardParams& p) {
  const ConvShape shape = validate_filter_backward(p);
  if (p.dk.dtype == DType::kFloat64) {
    filter_backward<double>(p, shape);
  } else {
    filter_backward<float>(p, shape);
  }
}

}  // namespace serengeti::cpu
