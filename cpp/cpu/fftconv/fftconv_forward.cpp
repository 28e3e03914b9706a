// Forward fused FFT convolution, one channel group (8 lanes) of one batch row at a time:
//
//   w = u * pregate                         (load: strided, any dtype -> lane layout, T)
//   y = postgate * (k' (*) w [+ D w])       (k' = k with D folded into tap 0; k_f: D added here)
//
// FFT path: W = forward(w, in_len = L); W *= K; y = inverse(W, out_len = L). Padding to N and the
// discarded upper half never exist as tensors: the engine prunes them.
// Direct path (short causal filters): y[t] = sum_{s < min(Lk, L)} k'[s] w[t - s].
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/fft/real_fft8.h"
#include "cpu/memory/output_pages.h"
#include "cpu/fftconv/direct_conv.h"
#include "cpu/fftconv/fftconv_cpu.h"
#include "cpu/fftconv/group_filter.h"
#include "cpu/fftconv/lane_io.h"
#include "cpu/fftconv/path_choice.h"
#include "cpu/fftconv/task_split.h"
#include "cpu/fftconv/thread_scratch.h"
#include "cpu/fftconv/validate_params.h"
#include "cpu/threading/parallel_for.h"

namespace serengeti::cpu {
namespace {

using namespace fftconv;

template <class T>
class ForwardRunner {
 public:
  ForwardRunner(const FftConvForwardParams& p, const ConvShape& shape)
      : p_(p), shape_(shape), filter_{p.k, p.k_f, p.D},
        path_(choose_conv_path(shape, p.k.present())),
        plan_(path_ == ConvPath::kFft ? &fft::RealFft8<T>::get(shape.fft_size) : nullptr) {}

  void run() {
    const int threads = std::max(1, p_.launch.num_threads);
    const int64_t groups = shape_.groups(), batch = shape_.batch;
    if (groups == 0 || batch == 0) return;
    if (one_task_per_group(groups, batch, threads)) {
      parallel_for(groups, threads, [&](int64_t group, int) { run_group(group, 0, batch, nullptr); });
      return;
    }
    // (batch row, group) tasks. The FFT path computes every group's spectrum first when it comes
    // from k and fits the memory budget; otherwise each task prepares its own filter.
    const int64_t spectrum_elems = shape_.fft_size * 8;
    const bool share_spectra = path_ == ConvPath::kFft && p_.k.present() &&
                               groups * spectrum_elems * int64_t(sizeof(T)) <= kMaxSharedFilterBytes;
    std::vector<T> spectra;
    if (share_spectra) {
      spectra.resize(size_t(groups * spectrum_elems));
      parallel_for(groups, threads, [&](int64_t group, int) {
        group_spectrum<T>(shape_, *plan_, filter_, group, spectra.data() + group * spectrum_elems);
      });
    }
    parallel_for(groups * batch, threads, [&](int64_t item, int) {
      const int64_t group = item % groups, b = item / groups;
      run_group(group, b, b + 1, share_spectra ? spectra.data() + group * spectrum_elems : nullptr);
    });
  }

 private:
  // Batch rows [b_begin, b_end) of one group; `spectrum` is the prepared filter or null.
  void run_group(int64_t group, int64_t b_begin, int64_t b_end, const T* spectrum) const {
    if (path_ == ConvPath::kDirect) {
      run_group_direct(group, b_begin, b_end);
    } else {
      run_group_fft(group, b_begin, b_end, spectrum);
    }
  }

  void run_group_fft(int64_t group, int64_t b_begin, int64_t b_end, const T* spectrum) const {
    const int64_t n = shape_.fft_size, length = shape_.length, h0 = group * kGroupLanes;
    const int lanes = shape_.lanes_in_group(group);
    if (spectrum == nullptr) spectrum = group_spectrum<T>(shape_, *plan_, filter_, group);
    T skip[kGroupLanes];
    load_group_skip(skip, filter_.D, h0, lanes);
    const bool skip_in_time = filter_.skip_in_time_domain();
    T* work = thread_scratch<T>(ScratchSlot::kSignal, n * 8);
    T* signal_copy = skip_in_time ? thread_scratch<T>(ScratchSlot::kSignalCopy, length * 8) : nullptr;
    for (int64_t b = b_begin; b < b_end; ++b) {
      load_lanes(work, activation_rows(p_.u, b, h0), activation_rows(p_.pregate, b, h0), lanes,
                 length);
      if (skip_in_time) std::memcpy(signal_copy, work, size_t(length * 8) * sizeof(T));
      plan_->forward(work, length);
      plan_->multiply(work, work, spectrum, /*conj_b=*/false, /*accumulate=*/false);
      plan_->inverse(work, length);
      if (skip_in_time) add_skip(work, signal_copy, skip, length);
      store_lanes(mutable_activation_rows(p_.y, b, h0), work, activation_rows(p_.postgate, b, h0),
                  lanes, length);
    }
  }

  void run_group_direct(int64_t group, int64_t b_begin, int64_t b_end) const {
    const int64_t length = shape_.length, h0 = group * kGroupLanes;
    const int lanes = shape_.lanes_in_group(group);
    const T* taps = group_taps_for_direct<T>(shape_, filter_, group);  // D folded in
    T* signal = thread_scratch<T>(ScratchSlot::kSignal, length * 8);
    T* out = thread_scratch<T>(ScratchSlot::kOutput, length * 8);
    for (int64_t b = b_begin; b < b_end; ++b) {
      load_lanes(signal, activation_rows(p_.u, b, h0), activation_rows(p_.pregate, b, h0), lanes,
                 length);
      causal_conv_lanes(out, taps, shape_.causal_taps(), signal, length);
      store_lanes(mutable_activation_rows(p_.y, b, h0), out, activation_rows(p_.postgate, b, h0),
                  lanes, length);
    }
  }

  // out[t][l] += D[l] * w[t][l]: the skip term for a spectrum that could not absorb it.
  static void add_skip(T* out, const T* signal, const T* skip, int64_t length) {
    for (int64_t t = 0; t < length; ++t)
      for (int l = 0; l < kGroupLanes; ++l) out[t * 8 + l] += skip[l] * signal[t * 8 + l];
  }

  const FftConvForwardParams& p_;
  const ConvShape shape_;
  const FilterInputs filter_;
  const ConvPath path_;
  const fft::RealFft8<T>* plan_;
};

}  // namespace

void fftconv_forward(const FftConvForwardParams& p) {
  const ConvShape shape = validate_forward(p);
  advise_huge_pages(p.y);  // fresh outputs fault in 4 KiB at a time otherwise
  if (p.u.dtype == DType::kFloat64) {
    ForwardRunner<double>(p, shape).run();
  } else {
    ForwardRunner<float>(p, shape).run();
  }
}

}  // namespace serengeti::cpu
