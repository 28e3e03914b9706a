// Checks a params struct before any kernel touches memory, so inconsistent bindings input raises
// InvalidArgument (ValueError in Python) naming the argument instead of crashing.
#pragma once

#include "cpu/fftconv/conv_problem.h"
#include "serengeti/fftconv.h"

namespace serengeti::cpu::fftconv {

// Each returns the call's sizes after validating every view it will read or write.
ConvShape validate_forward(const FftConvForwardParams& p);
ConvShape validate_backward(const FftConvBackwardParams& p);
ConvShape validate_filter_forward(const FftFilterParams& p);
ConvShape validate_filter_backward(const FftFilterBackwardParams& p);

}  // namespace serengeti::cpu::fftconv
