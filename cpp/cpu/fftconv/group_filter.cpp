#include "cpu/fftconv/group_filter.h"

#include "cpu/fftconv/filter_taps.h"
#include "cpu/fftconv/thread_scratch.h"

namespace serengeti::cpu::fftconv {

template <class T>
const T* group_taps_for_direct(const ConvShape& shape, const FilterInputs& filter, int64_t group) {
  const int64_t h0 = group * kGroupLanes;
  const int lanes = shape.lanes_in_group(group);
  T skip[kGroupLanes];
  load_group_skip(skip, filter.D, h0, lanes);
  const TapPlacement placement = tap_placement(shape);  // causal: taps [0, min(Lk, L))
  T* taps = thread_scratch<T>(ScratchSlot::kFilterSpectrum, placement.used_length() * 8);
  load_filter_taps(taps, filter_rows(filter.k, h0), placement, lanes,
                   filter.D.present() ? skip : nullptr);
  return taps;
}

template <class T>
const T* group_spectrum(const ConvShape& shape, const fft::RealFft8<T>& plan,
                        const FilterInputs& filter, int64_t group, T* dst) {
  const int64_t n = shape.fft_size;
  if (!filter.k.present()) return filter.k_f.ptr<const T>() + group * n * 8;
  const int64_t h0 = group * kGroupLanes;
  const int lanes = shape.lanes_in_group(group);
  T skip[kGroupLanes];
  load_group_skip(skip, filter.D, h0, lanes);
  const TapPlacement placement = tap_placement(shape);
  T* spectrum = dst != nullptr ? dst : thread_scratch<T>(ScratchSlot::kFilterSpectrum, n * 8);
  load_filter_taps(spectrum, filter_rows(filter.k, h0), placement, lanes,
                   filter.D.present() ? skip : nullptr);
  plan.forward(spectrum, placement.used_length());
  return spectrum;
}

template const float* group_taps_for_direct<float>(const ConvShape&, const FilterInputs&, int64_t);
template const double* group_taps_for_direct<double>(const ConvShape&, const FilterInputs&,
                                                     int64_t);
template const float* group_spectrum<float>(const ConvShape&, const fft::RealFft8<float>&,
                                            const FilterInputs&, int64_t, float*);
template const double* group_spectrum<double>(const ConvShape&, const fft::RealFft8<double>&,
                                              const FilterInputs&, int64_t, double*);

}  // namespace serengeti::cpu::fftconv
