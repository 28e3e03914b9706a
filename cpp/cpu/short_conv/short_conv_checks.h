// Argument validation of the short-convolution ops, shared by every backend: shapes, dtypes, tap
// count and writable outputs. Throws serengeti::InvalidArgument whose message starts with the
// offending argument's name (the bindings turn it into a Python ValueError).
#pragma once

#include "serengeti/short_conv.h"

namespace serengeti::short_conv_checks {

constexpr int64_t kMaxTaps = 128;

void check_forward(const ShortConvForwardParams& p);
void check_backward(const ShortConvBackwardParams& p);
void check_step(const ShortConvStepParams& p);

}  // namespace serengeti::short_conv_checks
