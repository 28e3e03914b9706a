// Direct sum or FFT: which algorithm computes a causal convolution with given sizes.
//
// Per output sample and channel, the direct sum costs ~2*Lk flops (Lk = min(Lk, L) taps) and the
// FFT path costs two transforms of size N per L samples, ~2 * 2.5 N log2 N / L flops plus the
// filter transform; with N ~ 2L that is ~10 log2 N per sample. The measured crossover constant
// (see kDirectCostRatio) accounts for the direct kernel running closer to peak than the FFT.
#pragma once

#include <cstdint>

#include "cpu/fftconv/conv_problem.h"

namespace serengeti::cpu::fftconv {

enum class ConvPath { kDirect, kFft };

// Direct only for causal filters given as taps (k), never for a precomputed spectrum (k_f) or a
// bidirectional filter. The environment variable SERENGETI_FFTCONV_PATH=direct|fft forces the
// choice where both are possible (tests use it to exercise each path on every shape).
ConvPath choose_conv_path(const ConvShape& shape, bool have_taps);

}  // namespace serengeti::cpu::fftconv
