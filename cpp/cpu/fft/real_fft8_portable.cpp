// Portable build of the 8-lane real FFT kernels (plain C++; the compiler vectorises the lane loops).
#include "cpu/simd/vec8_portable.h"

#define SERENGETI_FFT8_ISA portable
#include "cpu/fft/fft8_engine_impl.h"
