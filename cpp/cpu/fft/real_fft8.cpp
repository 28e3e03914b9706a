// RealFft8 plans: size checks, twiddle tables (computed once in double), the plan cache, the
// per-thread scratch and the run-time choice between the portable and AVX2 kernels.
#include "cpu/fft/real_fft8.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/fft/fft8_engine.h"
#include "cpu/simd/cpu_features.h"

namespace serengeti::cpu::fft {
namespace {

constexpr int kMinLog2n = 4;
constexpr int kMaxLog2n = 24;
// Plain depth-first recursion while the whole complex signal fits in half the 512 KiB L2.
constexpr int64_t kPlainMaxBytes = 256 * 1024;
// Four-step rows: rows are transformed and split in mirror pairs, so two rows must fit in L2
// with room to spare.
constexpr int64_t kRowBytes = 128 * 1024;
// Columns gathered per batch (each column contiguous in scratch).
constexpr int64_t kColumnScratchBytes = 256 * 1024;
// Leaf blocks are transformed breadth-first; 16 KiB is half of L1d.
constexpr int64_t kLeafBytes = 16 * 1024;

constexpr double kTwoPi = 6.283185307179586476925286766559;

int exact_log2(int64_t v) {
  int l = 0;
  while ((int64_t{1} << l) < v) ++l;
  return l;
}

uint32_t bit_reverse(uint64_t v, int bits) {
  uint64_t r = 0;
  for (int i = 0; i < bits; ++i) r |= ((v >> i) & 1) << (bits - 1 - i);
  return static_cast<uint32_t>(r);
}

// exp(-2 pi i num / den) in double; num/den is exact for power-of-two den.
void unit_root(int64_t num, int64_t den, double* re, double* im) {
  const double angle = kTwoPi * (static_cast<double>(num) / static_cast<double>(den));
  *re = std::cos(angle);
  *im = -std::sin(angle);
}

}  // namespace

template <class T>
struct RealFft8<T>::Tables {
  std::vector<T> radix4;
  std::vector<T> real_split;
  std::vector<uint32_t> cols_bitrev;
  std::vector<double> coarse, fine;
};

template <class T>
RealFft8<T>::RealFft8(int64_t n) {
  auto tables = std::make_unique<Tables>();
  Fft8PlanData<T>& d = data_;
  d.n = n;
  d.m = n / 2;
  d.log2m = exact_log2(d.m);
  const int64_t elem_bytes = kElemValues * static_cast<int64_t>(sizeof(T));
  d.leaf_elems = kLeafBytes / elem_bytes;

  // Four-step only when the whole complex signal overflows the block budget.
  int64_t max_block = d.m;
  if (d.m * elem_bytes > kPlainMaxBytes) {
    d.rows = kRowBytes / elem_bytes;
    d.cols = d.m / d.rows;
    int64_t batch = kColumnScratchBytes / (d.cols * elem_bytes);
    d.column_batch = batch < 1 ? 1 : (batch > 8 ? 8 : batch);
    max_block = d.rows > d.cols ? d.rows : d.cols;
    const int col_bits = exact_log2(d.cols);
    tables->cols_bitrev.resize(d.cols);
    for (int64_t i = 0; i < d.cols; ++i) tables->cols_bitrev[i] = bit_reverse(i, col_bits);
    d.fine_bits = (d.log2m + 1) / 2;
    const int64_t fine_n = int64_t{1} << d.fine_bits, coarse_n = d.m >> d.fine_bits;
    tables->fine.resize(2 * fine_n);
    tables->coarse.resize(2 * coarse_n);
    for (int64_t e = 0; e < fine_n; ++e) unit_root(e, d.m, &tables->fine[2 * e], &tables->fine[2 * e + 1]);
    for (int64_t h = 0; h < coarse_n; ++h)
      unit_root(h << d.fine_bits, d.m, &tables->coarse[2 * h], &tables->coarse[2 * h + 1]);
  }

  // Radix-4 tables for every block size 4 .. max_block (size 4 needs no twiddles).
  for (int l = 3; (int64_t{1} << l) <= max_block; ++l) {
    const int64_t b = int64_t{1} << l;
    d.radix4_offset[l] = static_cast<int64_t>(tables->radix4.size());
    for (int64_t j = 0; j < b / 4; ++j) {
      for (int s = 1; s <= 3; ++s) {
        double re, im;
        unit_root(s * j, b, &re, &im);
        tables->radix4.push_back(static_cast<T>(re));
        tables->radix4.push_back(static_cast<T>(im));
      }
    }
  }

  // Real-split twiddles c_k = -(i/2) exp(-2 pi i k / n) = (-sin/2, -cos/2) of 2 pi k / n, in the
  // order the split pass walks the pairs (lower position p of each octave, k = bitrev(p)).
  tables->real_split.reserve(d.m);
  for (int64_t lo = 2; lo < d.m; lo *= 2) {
    for (int64_t i = 0; i < lo / 2; ++i) {
      const int64_t k = bit_reverse(lo + i, d.log2m);
      double re, im;  // exp(-2 pi i k / n) = (cos, -sin)
      unit_root(k, n, &re, &im);
      tables->real_split.push_back(static_cast<T>(0.5 * im));
      tables->real_split.push_back(static_cast<T>(-0.5 * re));
    }
  }

  d.radix4 = tables->radix4.data();
  d.real_split = tables->real_split.data();
  d.cols_bitrev = tables->cols_bitrev.empty() ? nullptr : tables->cols_bitrev.data();
  d.coarse = tables->coarse.empty() ? nullptr : tables->coarse.data();
  d.fine = tables->fine.empty() ? nullptr : tables->fine.data();
  tables_ = std::move(tables);
}

template <class T>
RealFft8<T>::~RealFft8() = default;

template <class T>
const RealFft8<T>& RealFft8<T>::get(int64_t n) {
  const int l = n > 0 ? exact_log2(n) : -1;
  if (n <= 0 || (int64_t{1} << l) != n || l < kMinLog2n || l > kMaxLog2n)
    throw std::invalid_argument("RealFft8: n must be a power of two in [16, 2^24], got " +
                                std::to_string(n));
  // Lock-free fast path; plans are created once under the mutex and never freed.
  static std::atomic<const RealFft8*> slots[kMaxLog2n + 1];
  static std::mutex create_mutex;
  const RealFft8* plan = slots[l].load(std::memory_order_acquire);
  if (plan == nullptr) {
    std::lock_guard<std::mutex> lock(create_mutex);
    plan = slots[l].load(std::memory_order_acquire);
    if (plan == nullptr) {
      plan = new RealFft8(n);
      slots[l].store(plan, std::memory_order_release);
    }
  }
  return *plan;
}

namespace {
void check_length(const char* what, int64_t len, int64_t n) {
  if (len < 1 || len > n)
    throw std::invalid_argument(std::string("RealFft8: ") + what + " must be in [1, n], got " +
                                std::to_string(len));
}
}  // namespace

template <class T>
void RealFft8<T>::forward(T* buf, int64_t in_len) const {
  check_length("in_len", in_len, data_.n);
#if SERENGETI_HAVE_AVX2_TU
  if (avx2_enabled()) return avx2::fft8_forward(data_, buf, in_len);
#endif
  portable::fft8_forward(data_, buf, in_len);
}

template <class T>
void RealFft8<T>::inverse(T* buf, int64_t out_len) const {
  check_length("out_len", out_len, data_.n);
#if SERENGETI_HAVE_AVX2_TU
  if (avx2_enabled()) return avx2::fft8_inverse(data_, buf, out_len);
#endif
  portable::fft8_inverse(data_, buf, out_len);
}

template <class T>
void RealFft8<T>::multiply(T* dst, const T* a, const T* b, bool conj_b, bool accumulate) const {
#if SERENGETI_HAVE_AVX2_TU
  if (avx2_enabled()) return avx2::fft8_multiply(data_, dst, a, b, conj_b, accumulate);
#endif
  portable::fft8_multiply(data_, dst, a, b, conj_b, accumulate);
}

template <class T>
void RealFft8<T>::convolve(T* buf, const T* kernel_spec, int64_t in_len, int64_t out_len,
                           bool conj_kernel) const {
  check_length("in_len", in_len, data_.n);
  check_length("out_len", out_len, data_.n);
#if SERENGETI_HAVE_AVX2_TU
  if (avx2_enabled())
    return avx2::fft8_convolve(data_, buf, kernel_spec, conj_kernel, in_len, out_len);
#endif
  portable::fft8_convolve(data_, buf, kernel_spec, conj_kernel, in_len, out_len);
}

template <class T>
void RealFft8<T>::to_gradient(T* spec) const {
  const T inv_n = T(1) / static_cast<T>(data_.n);
#if SERENGETI_HAVE_AVX2_TU
  if (avx2_enabled()) return avx2::fft8_scale(data_, spec, inv_n, T(2) * inv_n);
#endif
  portable::fft8_scale(data_, spec, inv_n, T(2) * inv_n);
}

template <class T>
void RealFft8<T>::from_gradient(T* spec) const {
  const T n = static_cast<T>(data_.n);
#if SERENGETI_HAVE_AVX2_TU
  if (avx2_enabled()) return avx2::fft8_scale(data_, spec, n, T(0.5) * n);
#endif
  portable::fft8_scale(data_, spec, n, T(0.5) * n);
}

template class RealFft8<float>;
template class RealFft8<double>;

void* fft8_thread_scratch(int64_t bytes) {
  // Grow-only buffer per thread, freed at thread exit.
  struct Scratch {
    void* ptr = nullptr;
    int64_t size = 0;
    ~Scratch() { std::free(ptr); }
  };
  thread_local Scratch scratch;
  if (bytes > scratch.size) {
    std::free(scratch.ptr);
    const int64_t rounded = (bytes + 63) / 64 * 64;
    scratch.ptr = std::aligned_alloc(64, static_cast<size_t>(rounded));
    if (scratch.ptr == nullptr) {
      scratch.size = 0;
      throw std::bad_alloc();
    }
    scratch.size = rounded;
  }
  return scratch.ptr;
}

}  // namespace serengeti::cpu::fft
