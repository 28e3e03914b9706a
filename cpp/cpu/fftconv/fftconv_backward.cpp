// Backward of the fused FFT convolution. With g = dy * postgate and w = u * pregate:
//
//   z        = k' (*) w                      (k' = k with D in tap 0; only for dpostgate)
//   dpostgate = dy * z
//   dw       = corr(g, k') = inverse(G conj(K'))      (corr: dw[t] = sum_s k'[s] g[t+s]; + D g)
//   du       = dw * pregate,   dpregate = dw * u
//   dD[h]    = sum_b sum_t g w                          (time domain, double, fixed order)
//   dk[s]    = inverse(S)[t(s)],  S = sum_b G_b conj(W_b)    (adjoint of k -> K -> y)
//   dk_f     = to_gradient(S)
//
// Each transform is done only when some requested output needs it. Batch sums (S, dk, dD) are
// accumulated in batch order inside one task per group, so they are the same bits for any thread
// count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/fft/real_fft8.h"
#include "cpu/memory/output_pages.h"
#include "cpu/fftconv/direct_conv.h"
#include "cpu/fftconv/fftconv_cpu.h"
#include "cpu/fftconv/filter_taps.h"
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

// Which intermediate quantities the requested outputs need.
struct BackwardNeeds {
  bool du, dpregate, dpostgate, dk, dk_f, dD;
  bool dw() const { return du || dpregate; }
  bool filter_sum() const { return dk || dk_f; }             // S or the direct dk sums
  bool filter() const { return dw() || dpostgate; }          // K' (or the taps k')
  bool signal() const { return filter_sum() || dpostgate || dD; }   // w
  bool gradient() const { return filter_sum() || dw() || dD; }      // g
};

template <class T>
class BackwardRunner {
 public:
  BackwardRunner(const FftConvBackwardParams& p, const ConvShape& shape)
      : p_(p), shape_(shape), filter_{p.k, p.k_f, p.D},
        needs_{p.du.present(), p.dpregate.present(), p.dpostgate.present(),
               p.dk.present(), p.dk_f.present(), p.dD.present()},
        path_(choose_conv_path(shape, p.k.present())),
        plan_(path_ == ConvPath::kFft ? &fft::RealFft8<T>::get(shape.fft_size) : nullptr) {}

  void run() {
    const int threads = std::max(1, p_.launch.num_threads);
    const int64_t groups = shape_.groups(), batch = shape_.batch;
    // dD partial sums per (batch row, channel), reduced in batch order at the end.
    if (needs_.dD) skip_partials_.assign(size_t(batch * shape_.channels), 0.0);
    if (needs_.filter_sum() || one_task_per_group(groups, batch, threads)) {
      parallel_for(groups, threads, [&](int64_t group, int) { run_group(group, 0, batch, nullptr); });
    } else {
      run_pairs(threads);
    }
    if (needs_.dD) store_skip_gradient();
  }

 private:
  void run_pairs(int threads) {
    const int64_t groups = shape_.groups(), batch = shape_.batch;
    const int64_t spectrum_elems = shape_.fft_size * 8;
    const bool share_spectra = path_ == ConvPath::kFft && p_.k.present() && needs_.filter() &&
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

  void run_group(int64_t group, int64_t b_begin, int64_t b_end, const T* spectrum) {
    if (path_ == ConvPath::kDirect) {
      run_group_direct(group, b_begin, b_end);
    } else {
      run_group_fft(group, b_begin, b_end, spectrum);
    }
  }

  // Loads w and g of one batch row (those that are needed) and records its dD partial sums.
  void load_row(int64_t b, int64_t group, T* signal, T* gradient) {
    const int64_t h0 = group * kGroupLanes, length = shape_.length;
    const int lanes = shape_.lanes_in_group(group);
    if (needs_.signal())
      load_lanes(signal, activation_rows(p_.u, b, h0), activation_rows(p_.pregate, b, h0), lanes,
                 length);
    if (needs_.gradient())
      load_lanes(gradient, activation_rows(p_.dy, b, h0), activation_rows(p_.postgate, b, h0),
                 lanes, length);
    if (needs_.dD) {
      // Lanes innermost so the products vectorise; each lane's sum is in time order, in double.
      double sums[kGroupLanes] = {};
      for (int64_t t = 0; t < length; ++t)
        for (int l = 0; l < kGroupLanes; ++l)
          sums[l] += double(gradient[t * 8 + l]) * double(signal[t * 8 + l]);
      for (int l = 0; l < lanes; ++l) skip_partials_[size_t(b * shape_.channels + h0 + l)] = sums[l];
    }
  }

  // Writes du = dw * pregate and dpregate = dw * u for one batch row.
  void store_input_gradients(int64_t b, int64_t group, const T* dw) const {
    const int64_t h0 = group * kGroupLanes;
    const int lanes = shape_.lanes_in_group(group);
    if (needs_.du)
      store_lanes(mutable_activation_rows(p_.du, b, h0), dw, activation_rows(p_.pregate, b, h0),
                  lanes, shape_.length);
    if (needs_.dpregate)
      store_lanes(mutable_activation_rows(p_.dpregate, b, h0), dw, activation_rows(p_.u, b, h0),
                  lanes, shape_.length);
  }

  void store_postgate_gradient(int64_t b, int64_t group, const T* z) const {
    const int64_t h0 = group * kGroupLanes;
    store_lanes(mutable_activation_rows(p_.dpostgate, b, h0), z, activation_rows(p_.dy, b, h0),
                shape_.lanes_in_group(group), shape_.length);
  }

  void run_group_fft(int64_t group, int64_t b_begin, int64_t b_end, const T* spectrum) {
    const int64_t n = shape_.fft_size, length = shape_.length, h0 = group * kGroupLanes;
    const int lanes = shape_.lanes_in_group(group);
    if (spectrum == nullptr && needs_.filter())
      spectrum = group_spectrum<T>(shape_, *plan_, filter_, group);
    T skip[kGroupLanes];
    load_group_skip(skip, filter_.D, h0, lanes);
    const bool skip_in_time = filter_.skip_in_time_domain();
    const size_t row_bytes = size_t(length * 8) * sizeof(T);

    T* signal = needs_.signal() ? thread_scratch<T>(ScratchSlot::kSignal, n * 8) : nullptr;
    T* gradient = needs_.gradient() ? thread_scratch<T>(ScratchSlot::kGradient, n * 8) : nullptr;
    T* signal_copy = skip_in_time && needs_.dpostgate
                         ? thread_scratch<T>(ScratchSlot::kSignalCopy, length * 8) : nullptr;
    T* gradient_copy = skip_in_time && needs_.dw()
                           ? thread_scratch<T>(ScratchSlot::kGradientCopy, length * 8) : nullptr;
    T* sum = nullptr;
    if (needs_.filter_sum()) {
      sum = thread_scratch<T>(ScratchSlot::kAccumulator, n * 8);
      // The first row writes S; only an empty batch needs explicit zeros.
      if (b_begin == b_end) std::fill(sum, sum + n * 8, T(0));
    }
    const bool transform_signal = needs_.filter_sum() || needs_.dpostgate;
    const bool transform_gradient = needs_.filter_sum() || needs_.dw();

    for (int64_t b = b_begin; b < b_end; ++b) {
      load_row(b, group, signal, gradient);
      if (signal_copy) std::memcpy(signal_copy, signal, row_bytes);
      if (gradient_copy) std::memcpy(gradient_copy, gradient, row_bytes);
      if (transform_signal) plan_->forward(signal, length);
      if (transform_gradient) plan_->forward(gradient, length);
      if (sum) plan_->multiply(sum, gradient, signal, /*conj_b=*/true, /*accumulate=*/b > b_begin);
      if (needs_.dpostgate) {
        plan_->multiply(signal, signal, spectrum, false, false);
        plan_->inverse(signal, length);
        if (signal_copy) add_skip(signal, signal_copy, skip, length);
        store_postgate_gradient(b, group, signal);
      }
      if (needs_.dw()) {
        plan_->multiply(gradient, gradient, spectrum, /*conj_b=*/true, false);
        plan_->inverse(gradient, length);
        if (gradient_copy) add_skip(gradient, gradient_copy, skip, length);
        store_input_gradients(b, group, gradient);
      }
    }

    if (needs_.dk_f) {
      T* dst = p_.dk_f.ptr<T>() + group * n * 8;
      std::memcpy(dst, sum, size_t(n * 8) * sizeof(T));
      plan_->to_gradient(dst);
    }
    if (needs_.dk) {
      const TapPlacement placement = tap_placement(shape_);
      plan_->inverse(sum, placement.used_length());
      store_filter_taps(mutable_filter_rows(p_.dk, h0), shape_.taps, sum, placement, lanes);
    }
  }

  void run_group_direct(int64_t group, int64_t b_begin, int64_t b_end) {
    const int64_t length = shape_.length, h0 = group * kGroupLanes;
    const int64_t taps_len = shape_.causal_taps();
    const int lanes = shape_.lanes_in_group(group);
    const T* taps = needs_.filter() ? group_taps_for_direct<T>(shape_, filter_, group) : nullptr;
    T* signal = needs_.signal() ? thread_scratch<T>(ScratchSlot::kSignal, length * 8) : nullptr;
    T* gradient = needs_.gradient() ? thread_scratch<T>(ScratchSlot::kGradient, length * 8) : nullptr;
    T* out = thread_scratch<T>(ScratchSlot::kOutput, length * 8);
    double* tap_sums = nullptr;
    T* row_taps = nullptr;
    if (needs_.dk) {
      tap_sums = thread_scratch<double>(ScratchSlot::kAccumulator, taps_len * 8);
      std::fill(tap_sums, tap_sums + taps_len * 8, 0.0);
      row_taps = thread_scratch<T>(ScratchSlot::kTapGradient, taps_len * 8);
    }

    for (int64_t b = b_begin; b < b_end; ++b) {
      load_row(b, group, signal, gradient);
      if (needs_.dk) {
        // dk[s] = sum_t w[t] g[t + s]
        correlate_lanes(row_taps, taps_len, signal, length, gradient, length);
        for (int64_t i = 0; i < taps_len * 8; ++i) tap_sums[i] += double(row_taps[i]);
      }
      if (needs_.dpostgate) {
        causal_conv_lanes(out, taps, taps_len, signal, length);
        store_postgate_gradient(b, group, out);
      }
      if (needs_.dw()) {
        correlate_lanes(out, length, taps, taps_len, gradient, length);
        store_input_gradients(b, group, out);
      }
    }

    if (needs_.dk) {
      for (int64_t i = 0; i < taps_len * 8; ++i) row_taps[i] = T(tap_sums[i]);
      store_filter_taps(mutable_filter_rows(p_.dk, h0), shape_.taps, row_taps,
                        tap_placement(shape_), lanes);
    }
  }

  // dD[h] = sum over batch rows, in batch order, of the per-row sums.
  void store_skip_gradient() const {
    for (int64_t h = 0; h < shape_.channels; ++h) {
      double total = 0.0;
      for (int64_t b = 0; b < shape_.batch; ++b)
        total += skip_partials_[size_t(b * shape_.channels + h)];
      store_element<double>(p_.dD.data, p_.dD.dtype, h * p_.dD.strides[0], total);
    }
  }

  static void add_skip(T* out, const T* values, const T* skip, int64_t length) {
    for (int64_t t = 0; t < length; ++t)
      for (int l = 0; l < kGroupLanes; ++l) out[t * 8 + l] += skip[l] * values[t * 8 + l];
  }

  const FftConvBackwardParams& p_;
  const ConvShape shape_;
  const FilterInputs filter_;
  const BackwardNeeds needs_;
  const ConvPath path_;
  const fft::RealFft8<T>* plan_;
  std::vector<double> skip_partials_;
};

}  // namespace

void fftconv_backward(const FftConvBackwardParams& p) {
  const ConvShape shape = validate_backward(p);
  for (const TensorView* out : {&p.du, &p.dpregate, &p.dpostgate}) advise_huge_pages(*out);
  if (p.u.dtype == DType::kFloat64) {
    BackwardRunner<double>(p, shape).run();
  } else {
    BackwardRunner<float>(p, shape).run();
  }
}

}  // namespace serengeti::cpu
