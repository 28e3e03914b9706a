// nvcuda::wmma for m16n16k16 with __half or __nv_bfloat16 inputs and float (or __half)
// accumulators. Every *_sync operation is a warp collective of all 32 lanes, checked like on the
// device: same pointer and ldm in every lane, 256-bit aligned pointer, ldm a multiple of 16 bytes.
//
// Lane mapping (documented because CUDA leaves it unspecified and code must not depend on it):
// a fragment holds the 256 elements of its 16x16 matrix, 8 per lane, row-major by lane:
// lane l's x[i] is element (row, col) = ((8*l + i) / 16, (8*l + i) % 16), where (row, col) is
// (m, k) for matrix_a, (k, n) for matrix_b and (m, n) for the accumulator.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "emu_device_state.h"
#include "emu_errors.h"

namespace sg_emu {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail_wmma {

template <class T> inline float to_float(T v) { return float(v); }
template <> inline float to_float(__half v) { return __half2float(v); }
template <> inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T> inline T from_float(float v) { return T(v); }
template <> inline __half from_float(float v) { return __float2half(v); }
template <> inline __nv_bfloat16 from_float(float v) { return __float2bfloat16(v); }

constexpr int elements_per_lane = 8;

// Where lane l's element i sits in the 16x16 matrix.
inline int row_of(int lane, int i) { return (lane * elements_per_lane + i) / 16; }
inline int col_of(int lane, int i) { return (lane * elements_per_lane + i) % 16; }

struct MemoryOp {
  void* fragment;      // the lane's fragment
  const void* memory;  // mptr
  unsigned ldm;
  bool col_major;
};

struct MmaOp {
  void* d;
  const void* a;
  const void* b;
  const void* c;
};

[[noreturn]] inline void fail(const char* op, const std::string& why) {
  throw WarpSyncError(std::string("nvcuda::wmma::") + op + ": " + why);
}

inline void require_full_warp(sg_emu::detail::WarpArrival* const* lanes, const char* op) {
  for (int l = 0; l < 32; ++l)
    if (!lanes[l]) fail(op, "all 32 lanes of the warp must participate (lane " + std::to_string(l) + " did not)");
}

template <class T>
void check_memory_args(sg_emu::detail::WarpArrival* const* lanes, const char* op) {
  require_full_warp(lanes, op);
  const auto& first = *static_cast<const MemoryOp*>(lanes[0]->data);
  for (int l = 1; l < 32; ++l) {
    const auto& mine = *static_cast<const MemoryOp*>(lanes[l]->data);
    if (mine.memory != first.memory || mine.ldm != first.ldm || mine.col_major != first.col_major)
      fail(op, "lane " + std::to_string(l) + " passes a different pointer, ldm or layout than lane 0");
  }
  if (reinterpret_cast<std::uintptr_t>(first.memory) % 32 != 0)
    fail(op, "the pointer must be 256-bit (32-byte) aligned");
  if ((first.ldm * sizeof(T)) % 16 != 0)
    fail(op, "ldm (" + std::to_string(first.ldm) + " elements) must be a multiple of 16 bytes");
}

template <class Fragment>
void perform_load(sg_emu::detail::WarpArrival* const* lanes) {
  using T = typename Fragment::storage_element_type;
  check_memory_args<T>(lanes, "load_matrix_sync");
  const auto& op = *static_cast<const MemoryOp*>(lanes[0]->data);
  const T* memory = static_cast<const T*>(op.memory);
  for (int l = 0; l < 32; ++l) {
    auto& f = *static_cast<Fragment*>(static_cast<const MemoryOp*>(lanes[l]->data)->fragment);
    for (int i = 0; i < elements_per_lane; ++i) {
      const int r = row_of(l, i), c = col_of(l, i);
      f.x[i] = memory[op.col_major ? c * op.ldm + r : r * op.ldm + c];
    }
  }
}

template <class Fragment>
void perform_store(sg_emu::detail::WarpArrival* const* lanes) {
  using T = typename Fragment::storage_element_type;
  check_memory_args<T>(lanes, "store_matrix_sync");
  const auto& op = *static_cast<const MemoryOp*>(lanes[0]->data);
  T* memory = static_cast<T*>(const_cast<void*>(op.memory));
  for (int l = 0; l < 32; ++l) {
    const auto& f = *static_cast<const Fragment*>(static_cast<const MemoryOp*>(lanes[l]->data)->fragment);
    for (int i = 0; i < elements_per_lane; ++i) {
      const int r = row_of(l, i), c = col_of(l, i);
      memory[op.col_major ? c * op.ldm + r : r * op.ldm + c] = f.x[i];
    }
  }
}

template <class FD, class FA, class FB, class FC>
void perform_mma(sg_emu::detail::WarpArrival* const* lanes) {
  require_full_warp(lanes, "mma_sync");
  float a[16][16], b[16][16], c[16][16];
  for (int l = 0; l < 32; ++l) {
    const auto& op = *static_cast<const MmaOp*>(lanes[l]->data);
    const auto& fa = *static_cast<const FA*>(op.a);
    const auto& fb = *static_cast<const FB*>(op.b);
    const auto& fc = *static_cast<const FC*>(op.c);
    for (int i = 0; i < elements_per_lane; ++i) {
      const int r = row_of(l, i), k = col_of(l, i);
      a[r][k] = to_float(fa.x[i]);
      b[r][k] = to_float(fb.x[i]);
      c[r][k] = to_float(fc.x[i]);
    }
  }
  for (int l = 0; l < 32; ++l) {
    auto& fd = *static_cast<FD*>(static_cast<const MmaOp*>(lanes[l]->data)->d);
    for (int i = 0; i < elements_per_lane; ++i) {
      const int m = row_of(l, i), n = col_of(l, i);
      float sum = c[m][n];
      for (int k = 0; k < 16; ++k) sum = std::fma(a[m][k], b[k][n], sum);
      fd.x[i] = from_float<typename FD::storage_element_type>(sum);
    }
  }
}

template <class T>
void run(sg_emu::detail::WarpPerform perform, const char* name, T* payload,
         const char* file, int line) {
  sg_emu::detail::WarpArrival a{sg_emu::detail::WarpOp::custom, 0xffffffffu, name, file, line};
  a.perform = perform;
  a.data = payload;
  sg_emu::detail::warp_collective(a);
}

}  // namespace detail_wmma

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulator implements wmma m16n16k16 only");

 public:
  using element_type = T;
  using storage_element_type = T;
  enum { num_elements = detail_wmma::elements_per_lane };
  T x[num_elements];
};

template <class Use, class T, class Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm,
                             const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(!std::is_same<Use, accumulator>::value, "accumulator loads take a layout_t");
  detail_wmma::MemoryOp op{&f, p, ldm, std::is_same<Layout, col_major>::value};
  detail_wmma::run(&detail_wmma::perform_load<fragment<Use, 16, 16, 16, T, Layout>>,
                   "load_matrix_sync", &op, file, line);
}

template <class T>
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, T>& f, const T* p, unsigned ldm,
                             layout_t layout, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  detail_wmma::MemoryOp op{&f, p, ldm, layout == mem_col_major};
  detail_wmma::run(&detail_wmma::perform_load<fragment<accumulator, 16, 16, 16, T>>,
                   "load_matrix_sync", &op, file, line);
}

template <class T>
inline void store_matrix_sync(T* p, const fragment<accumulator, 16, 16, 16, T>& f, unsigned ldm,
                              layout_t layout, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  detail_wmma::MemoryOp op{const_cast<fragment<accumulator, 16, 16, 16, T>*>(&f), p, ldm,
                           layout == mem_col_major};
  detail_wmma::run(&detail_wmma::perform_store<fragment<accumulator, 16, 16, 16, T>>,
                   "store_matrix_sync", &op, file, line);
}

template <class Use, class T, class Layout, class V>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, const V& value) {
  for (auto& e : f.x) e = T(value);
}

template <class TA, class TB, class TC, class TD, class LA, class LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, TD>& d,
                     const fragment<matrix_a, 16, 16, 16, TA, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, TB, LB>& b,
                     const fragment<accumulator, 16, 16, 16, TC>& c,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(std::is_same<TA, TB>::value, "matrix_a and matrix_b must have the same element type");
  detail_wmma::MmaOp op{&d, &a, &b, &c};
  detail_wmma::run(&detail_wmma::perform_mma<fragment<accumulator, 16, 16, 16, TD>,
                                             fragment<matrix_a, 16, 16, 16, TA, LA>,
                                             fragment<matrix_b, 16, 16, 16, TB, LB>,
                                             fragment<accumulator, 16, 16, 16, TC>>,
                   "mma_sync", &op, file, line);
}

}  // namespace wmma
}  // namespace sg_emu

// Source compatibility: nvcuda::wmma names the emulator's implementation (a namespace alias, so no
// symbol can clash with anything an nvcc-compiled translation unit defines).
namespace nvcuda {
namespace wmma = ::sg_emu::wmma;
}
