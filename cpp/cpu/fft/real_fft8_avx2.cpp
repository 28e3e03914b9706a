// AVX2 + FMA build of the 8-lane real FFT kernels (float: one __m256 per 8 lanes; double: two
// __m256d). Compiled only on x86-64, with -mavx2 -mfma -mf16c; reached through avx2_enabled().
#include "cpu/simd/vec8_avx2.h"

#define SERENGETI_FFT8_ISA avx2
#include "cpu/fft/fft8_engine_impl.h"
