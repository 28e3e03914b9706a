// CPU backend of the short depthwise causal convolution (semantics: serengeti/short_conv.h).
// The dispatcher (cpp/dispatch/short_conv.cpp) validates the params with short_conv_checks.h first;
// these functions assume valid arguments.
#pragma once

#include "serengeti/short_conv.h"

namespace serengeti::cpu {

void short_conv_forward(const ShortConvForwardParams& p);
void short_conv_backward(const ShortConvBackwardParams& p);
void short_conv_step(const ShortConvStepParams& p);

}  // namespace serengeti::cpu
