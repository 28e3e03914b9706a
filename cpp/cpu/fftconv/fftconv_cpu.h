// The CPU backend of the fftconv op family (cpp/cpu/fftconv/): entry points called by
// cpp/dispatch/fftconv.cpp for Backend::kCpu. Semantics are those of serengeti/fftconv.h.
#pragma once

#include "serengeti/fftconv.h"

namespace serengeti::cpu {

void fftconv_forward(const FftConvForwardParams& p);
void fftconv_backward(const FftConvBackwardParams& p);
void fft_filter_forward(const FftFilterParams& p);
void fft_filter_backward(const FftFilterBackwardParams& p);

}  // namespace serengeti::cpu
