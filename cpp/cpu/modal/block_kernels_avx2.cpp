// AVX2 + FMA build of the block kernels (float only; float64 runs the portable build).
#define SERENGETI_MODAL_ISA avx2
#include "cpu/modal/block_kernels_impl.h"

namespace serengeti::cpu::modal::avx2 {
template void synthesize_block<float>(const BlockTables<float>&, const Complex*, float*);
template void synthesize_run<float>(const BlockTables<float>&, Complex*, const Complex*, float*, int64_t);
template void analyze_block<float>(const BlockTables<float>&, const float*, Complex*, Complex*);
}  // namespace serengeti::cpu::modal::avx2
