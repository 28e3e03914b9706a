// Four-step (Monarch) complex FFT for m beyond L2, with the real split fused into the row phase.
// Included after fft8_complex_kernels.h and fft8_spectrum_kernels.h in each ISA translation unit.
//
// With m = C * R, input index j = j0 + R t (j0 < R, t < C) and output bin k = k1 + C k2:
//   X[k1 + C k2] = sum_j0 w_R^(j0 k2) [ w_m^(j0 k1) sum_t x[j0 + R t] w_C^(t k1) ].
// Column DFTs (stride R, gathered into scratch a few columns at a time) with bit-reversed output
// put k1 = rev(pos) at row pos; the twiddle w_m^(j0 k1) is applied while scattering back; then
// the DFT of each contiguous row leaves position R pos + pr holding k1 + C rev(pr): exactly the
// bit reversal of the full index, i.e. the same packed order as the plain recursion.
//
// Fused split: the real split pairs position p of octave [lo, 2 lo) with 3 lo - 1 - p. Row 0 holds
// the octaves below R, row 1 is octave R (mirrored onto itself), and for lo >= 2R row r pairs with
// row 3 lo / R - 1 - r, reversed. So rows are transformed in mirror pairs and split while both
// are still in L2, which saves a whole pass over the (memory-sized) buffer.
#ifndef SERENGETI_FFT8_ISA
#error "include fft8_complex_kernels.h first"
#endif

namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA {

// Column accesses stride by a whole row (>= 64 KiB), which the hardware prefetchers do not
// follow; ask for the lines a few rows ahead so the misses overlap.
constexpr int64_t kPrefetchRows = 8;

template <class T>
SERENGETI_FFT8_INLINE void prefetch_row_segment(const T* p, int64_t elems, bool for_write) {
  for (int64_t c = 0; c < elems; ++c) {
    if (for_write)
      __builtin_prefetch(p + c * kElemValues, 1);
    else
      __builtin_prefetch(p + c * kElemValues, 0);
  }
}

template <class T>
SERENGETI_FFT8_INLINE void four_step_twiddle(const Fft8PlanData<T>& p, int64_t e, T* wr, T* wi) {
  const double* c = p.coarse + 2 * (e >> p.fine_bits);
  const double* f = p.fine + 2 * (e & ((int64_t{1} << p.fine_bits) - 1));
  *wr = static_cast<T>(c[0] * f[0] - c[1] * f[1]);
  *wi = static_cast<T>(c[0] * f[1] + c[1] * f[0]);
}

// Column phase of the forward transform; only z[j < zlen] is live input.
template <class T>
void dif_four_step_columns(T* buf, int64_t zlen, const Fft8PlanData<T>& p) {
  const int64_t C = p.cols, R = p.rows, batch = p.column_batch;
  T* scratch = static_cast<T*>(fft8_thread_scratch(batch * C * kElemValues * sizeof(T)));
  for (int64_t j0 = 0; j0 < R; j0 += batch) {
    const int64_t nb = min_i64(batch, R - j0);
    // Column j has ceil((zlen - j) / R) live entries.
    const int64_t len0 = zlen > j0 ? (zlen - j0 + R - 1) / R : 0;
    if (len0 == 0) {
      for (int64_t t = 0; t < C; ++t) zero_elems(buf + (j0 + R * t) * kElemValues, nb);
      continue;
    }
    for (int64_t t = 0; t < len0; ++t) {
      if (t + kPrefetchRows < len0)
        prefetch_row_segment(buf + (j0 + R * (t + kPrefetchRows)) * kElemValues, nb, false);
      for (int64_t c = 0; c < nb; ++c)
        std::memcpy(scratch + (c * C + t) * kElemValues, buf + (j0 + c + R * t) * kElemValues,
                    sizeof(T) * kElemValues);
    }
    for (int64_t c = 0; c < nb; ++c) {
      const int64_t len = zlen > j0 + c ? (zlen - j0 - c + R - 1) / R : 0;
      if (len == 0)
        zero_elems(scratch + c * C * kElemValues, C);
      else
        dif_block(scratch + c * C * kElemValues, C, len, p);
    }
    for (int64_t pos = 0; pos < C; ++pos) {
      const int64_t k1 = p.cols_bitrev[pos];
      if (pos + kPrefetchRows < C)
        prefetch_row_segment(buf + (j0 + R * (pos + kPrefetchRows)) * kElemValues, nb, true);
      for (int64_t c = 0; c < nb; ++c) {
        T wr, wi;
        four_step_twiddle(p, (j0 + c) * k1, &wr, &wi);
        store_elem(buf + (j0 + c + R * pos) * kElemValues,
                   cmul_tw(load_elem(scratch + (c * C + pos) * kElemValues), wr, wi));
      }
    }
  }
}

// Column phase of the inverse transform; only outputs z[j < olen] are computed.
template <class T>
void dit_four_step_columns(T* buf, int64_t olen, const Fft8PlanData<T>& p) {
  const int64_t C = p.cols, R = p.rows, batch = p.column_batch;
  T* scratch = static_cast<T*>(fft8_thread_scratch(batch * C * kElemValues * sizeof(T)));
  for (int64_t j0 = 0; j0 < R && j0 < olen; j0 += batch) {
    const int64_t nb = min_i64(batch, R - j0);
    for (int64_t pos = 0; pos < C; ++pos) {
      const int64_t k1 = p.cols_bitrev[pos];
      if (pos + kPrefetchRows < C)
        prefetch_row_segment(buf + (j0 + R * (pos + kPrefetchRows)) * kElemValues, nb, false);
      for (int64_t c = 0; c < nb; ++c) {
        T wr, wi;
        four_step_twiddle(p, (j0 + c) * k1, &wr, &wi);
        store_elem(scratch + (c * C + pos) * kElemValues,
                   cmul_conj_tw(load_elem(buf + (j0 + c + R * pos) * kElemValues), wr, wi));
      }
    }
    // Column j feeds outputs j + R t; only t < ceil((olen - j) / R) are wanted.
    for (int64_t c = 0; c < nb; ++c) {
      const int64_t col_olen = olen > j0 + c ? (olen - j0 - c + R - 1) / R : 0;
      if (col_olen > 0) dit_block(scratch + c * C * kElemValues, C, col_olen, p);
    }
    const int64_t olen0 = (olen - j0 + R - 1) / R;
    for (int64_t t = 0; t < olen0; ++t) {
      if (t + kPrefetchRows < olen0)
        prefetch_row_segment(buf + (j0 + R * (t + kPrefetchRows)) * kElemValues, nb, true);
      for (int64_t c = 0; c < nb; ++c)
        std::memcpy(buf + (j0 + c + R * t) * kElemValues, scratch + (c * C + t) * kElemValues,
                    sizeof(T) * kElemValues);
    }
  }
}

// Row phase + real split, forward: row FFTs in mirror pairs, each pair split while cache-hot.
template <class T>
void dif_four_step_rows_and_split(T* buf, const Fft8PlanData<T>& p) {
  const int64_t C = p.cols, R = p.rows;
  const SplitDirection fwd{false};
  auto row = [&](int64_t r) { return buf + r * R * kElemValues; };
  dif_block(row(0), R, R, p);
  real_split_all(buf, p, fwd, R);  // octaves below R live in row 0
  dif_block(row(1), R, R, p);
  real_split_range(buf, p, fwd, R, 0, R / 2);  // octave R is row 1, mirrored onto itself
  for (int64_t lo = 2 * R; lo < C * R; lo *= 2) {
    const int64_t first = lo / R, pairs = lo / (2 * R);
    for (int64_t r = first; r < first + pairs; ++r) {
      dif_block(row(r), R, R, p);
      dif_block(row(3 * first - 1 - r), R, R, p);
      real_split_range(buf, p, fwd, lo, r * R - lo, r * R - lo + R);
    }
  }
}

// Real split (inverse) + row phase: the exact mirror of dif_four_step_rows_and_split.
template <class T>
void dit_four_step_split_and_rows(T* buf, const Fft8PlanData<T>& p) {
  const int64_t C = p.cols, R = p.rows;
  const SplitDirection inv{true};
  auto row = [&](int64_t r) { return buf + r * R * kElemValues; };
  real_split_all(buf, p, inv, R);
  dit_block(row(0), R, R, p);
  real_split_range(buf, p, inv, R, 0, R / 2);
  dit_block(row(1), R, R, p);
  for (int64_t lo = 2 * R; lo < C * R; lo *= 2) {
    const int64_t first = lo / R, pairs = lo / (2 * R);
    for (int64_t r = first; r < first + pairs; ++r) {
      real_split_range(buf, p, inv, lo, r * R - lo, r * R - lo + R);
      dit_block(row(r), R, R, p);
      dit_block(row(3 * first - 1 - r), R, R, p);
    }
  }
}

// Row phase of a fused convolution: forward rows, split-multiply-unsplit, inverse rows, one
// mirror pair of rows at a time (the columns run before and after, as in forward and inverse).
template <class T, bool kConj>
void four_step_rows_convolve(T* buf, const T* kspec, const Fft8PlanData<T>& p) {
  const int64_t C = p.cols, R = p.rows;
  const T inv_m = T(1) / static_cast<T>(p.m);
  auto row = [&](int64_t r) { return buf + r * R * kElemValues; };
  dif_block(row(0), R, R, p);
  convolve_split_all<T, kConj>(buf, kspec, p, R);
  dit_block(row(0), R, R, p);
  dif_block(row(1), R, R, p);
  convolve_split_octave<T, kConj>(buf, kspec, inv_m, R, 0, R / 2, p.real_split);
  dit_block(row(1), R, R, p);
  for (int64_t lo = 2 * R; lo < C * R; lo *= 2) {
    const int64_t first = lo / R, pairs = lo / (2 * R);
    for (int64_t r = first; r < first + pairs; ++r) {
      const int64_t mirror = 3 * first - 1 - r;
      dif_block(row(r), R, R, p);
      dif_block(row(mirror), R, R, p);
      convolve_split_octave<T, kConj>(buf, kspec, inv_m, lo, r * R - lo, r * R - lo + R, p.real_split);
      dit_block(row(r), R, R, p);
      dit_block(row(mirror), R, R, p);
    }
  }
}

}  // namespace serengeti::cpu::fft::SERENGETI_FFT8_ISA
