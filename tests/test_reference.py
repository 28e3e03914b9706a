"""Tests of serengeti.reference (the float64 naive math) and of the tolerance helpers.

The reference is checked against hand-computed values, numpy.convolve (an independent
implementation), structural identities, and its own FFT variant; the helpers are checked to
accept correct outputs and reject slightly wrong ones (so the op tests can actually fail).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import helpers

R = helpers.reference  # serengeti.reference (loaded by path if the extension is not built)

F64 = torch.float64


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _numpy_ref(u: torch.Tensor, k: torch.Tensor, bidirectional: bool) -> torch.Tensor:
    """Independent implementation via numpy.convolve (full linear convolution, then a window).

    full[m] = sum_j k[j] u[m - j]; causal y[t] = full[t]; bidirectional y[t] = sum_s k[c+s] u[t-s]
    = full[t + c] with c = (Lk - 1) // 2.
    """
    B, H, L = u.shape
    Lk = k.shape[1]
    off = (Lk - 1) // 2 if bidirectional else 0
    out = np.zeros((B, H, L))
    for b in range(B):
        for h in range(H):
            full = np.convolve(u[b, h].numpy(), k[h].numpy())
            seg = full[off : off + L]
            out[b, h, : len(seg)] = seg
    return torch.from_numpy(out)


# ------------------------------------------------------------------------------ hand examples


def test_hand_example_causal() -> None:
    u = torch.tensor([[[1.0, 2.0, 3.0]]], dtype=F64)
    k = torch.tensor([[10.0, 1.0, 0.5, 7.0]], dtype=F64)  # tap 3 can never reach (L = 3)
    # y0 = 10*1; y1 = 10*2 + 1*1; y2 = 10*3 + 1*2 + 0.5*1
    expected = torch.tensor([[[10.0, 21.0, 32.5]]], dtype=F64)
    torch.testing.assert_close(R.fftconv(u, k), expected, rtol=0, atol=0)
    torch.testing.assert_close(R.fftconv_fft(u, k), expected, rtol=1e-14, atol=1e-13)


def test_hand_example_bidirectional() -> None:
    u = torch.tensor([[[1.0, 2.0, 3.0]]], dtype=F64)
    # Lk = 5, centre c = 2: kc[-2] = 1, kc[-1] = 2, kc[0] = 3, kc[1] = 4, kc[2] = 5
    k = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]], dtype=F64)
    # y[t] = sum_s kc[s] u[t - s]
    # y0 = kc0 u0 + kc-1 u1 + kc-2 u2 = 3 + 4 + 3 = 10
    # y1 = kc1 u0 + kc0 u1 + kc-1 u2 = 4 + 6 + 6 = 16
    # y2 = kc2 u0 + kc1 u1 + kc0 u2 = 5 + 8 + 9 = 22
    expected = torch.tensor([[[10.0, 16.0, 22.0]]], dtype=F64)
    torch.testing.assert_close(R.fftconv(u, k, bidirectional=True), expected, rtol=0, atol=0)
    torch.testing.assert_close(R.fftconv_fft(u, k, bidirectional=True), expected, rtol=1e-14, atol=1e-13)


def test_hand_example_even_lk_bidirectional_and_gates() -> None:
    u = torch.tensor([[[1.0, -1.0]]], dtype=F64)
    k = torch.tensor([[2.0, 3.0, 5.0, 7.0]], dtype=F64)  # Lk = 4: c = 1, kc[-1]=2, kc0=3, kc1=5
    pre = torch.tensor([[[2.0, 3.0]]], dtype=F64)  # w = [2, -3]
    post = torch.tensor([[[0.5, -1.0]]], dtype=F64)
    D = torch.tensor([10.0], dtype=F64)
    # conv0 = kc0 w0 + kc-1 w1 = 6 - 6 = 0;  conv1 = kc1 w0 + kc0 w1 = 10 - 9 = 1
    # y = post * (conv + D w) = [0.5 * (0 + 20), -1 * (1 - 30)] = [10, 29]
    expected = torch.tensor([[[10.0, 29.0]]], dtype=F64)
    for fn in (R.fftconv, R.fftconv_fft):
        torch.testing.assert_close(fn(u, k, D, pre, post, bidirectional=True), expected,
                                   rtol=1e-14, atol=1e-13)


# ------------------------------------------------------------------ independent implementation


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("L,Lk", [(1, 1), (1, 4), (2, 1), (5, 3), (7, 7), (7, 13), (8, 15), (9, 30), (33, 8)])
def test_matches_numpy_convolve(L: int, Lk: int, bidirectional: bool) -> None:
    u, k = _rand(2, 3, L, seed=1), _rand(3, Lk, seed=2)
    expected = _numpy_ref(u, k, bidirectional)
    torch.testing.assert_close(R.fftconv(u, k, bidirectional=bidirectional), expected, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(R.fftconv_fft(u, k, bidirectional=bidirectional), expected,
                               rtol=1e-12, atol=1e-12)


def _random_cases(n: int) -> list[tuple]:
    """n seeded random (B, H, L, Lk, bidirectional, D, pregate, postgate, seed) tuples."""
    rng = np.random.default_rng(1234)
    return [
        (int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 41)),
         int(rng.integers(1, 91)), *(bool(b) for b in rng.integers(0, 2, size=4)), i)
        for i in range(n)
    ]


@pytest.mark.parametrize("B,H,L,Lk,bidirectional,use_D,use_pre,use_post,seed", _random_cases(60))
def test_random_direct_fft_numpy_agree(
    B: int, H: int, L: int, Lk: int, bidirectional: bool, use_D: bool, use_pre: bool,
    use_post: bool, seed: int,
) -> None:
    inp = helpers.make_fftconv_inputs(B, H, L, Lk, F64, D=use_D, pregate=use_pre,
                                      postgate=use_post, seed=seed)
    w = inp.u if inp.pregate is None else inp.u * inp.pregate
    expected = _numpy_ref(w, inp.k, bidirectional)
    if inp.D is not None:
        expected = expected + inp.D[:, None] * w
    if inp.postgate is not None:
        expected = inp.postgate * expected
    args = (inp.u, inp.k, inp.D, inp.pregate, inp.postgate)
    torch.testing.assert_close(R.fftconv(*args, bidirectional=bidirectional), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(R.fftconv_fft(*args, bidirectional=bidirectional), expected,
                               rtol=1e-11, atol=1e-11)


# -------------------------------------------------------------------------- identities


def test_impulse_response_is_the_filter() -> None:
    L, Lk = 10, 6
    k = _rand(2, Lk, seed=3)
    u = torch.zeros(1, 2, L, dtype=F64)
    u[..., 0] = 1.0
    y = R.fftconv(u, k)
    torch.testing.assert_close(y[0, :, :Lk], k, rtol=0, atol=0)
    assert torch.all(y[0, :, Lk:] == 0)
    # bidirectional: an impulse at t0 reproduces kc[s] at t0 + s
    kb = _rand(2, 2 * L - 1, seed=4)
    ub = torch.zeros(1, 2, L, dtype=F64)
    t0 = 4
    ub[..., t0] = 1.0
    yb = R.fftconv(ub, kb, bidirectional=True)
    c = L - 1
    for t in range(L):
        torch.testing.assert_close(yb[0, :, t], kb[:, c + t - t0], rtol=0, atol=0)


def test_taps_out_of_reach_are_ignored() -> None:
    L = 6
    u = _rand(2, 3, L, seed=5)
    k = _rand(3, L, seed=6)
    k_long = torch.cat([k, _rand(3, 9, seed=7)], dim=1)
    for fn in (R.fftconv, R.fftconv_fft):
        torch.testing.assert_close(fn(u, k_long), fn(u, k), rtol=1e-13, atol=1e-13)
    # bidirectional, Lk = 2L - 1 (centre L - 1) padded by 4 taps on both sides: same centre, more taps
    kb = _rand(3, 2 * L - 1, seed=8)
    kb_long = torch.cat([_rand(3, 4, seed=9), kb, _rand(3, 4, seed=10)], dim=1)
    for fn in (R.fftconv, R.fftconv_fft):
        torch.testing.assert_close(fn(u, kb_long, bidirectional=True), fn(u, kb, bidirectional=True),
                                   rtol=1e-13, atol=1e-13)


def test_bidirectional_with_two_taps_is_causal() -> None:
    # Lk = 2: c = 0, so kc[0] = k[0], kc[1] = k[1]: exactly the causal convolution.
    u, k = _rand(2, 3, 9, seed=11), _rand(3, 2, seed=12)
    torch.testing.assert_close(R.fftconv(u, k, bidirectional=True), R.fftconv(u, k), rtol=0, atol=0)


def test_bidirectional_time_reversal() -> None:
    # odd Lk: reversing k mirrors kc (kc'[s] = kc[-s]), so y(flip u; flip k) = flip y(u; k)
    u, k = _rand(2, 3, 11, seed=13), _rand(3, 9, seed=14)
    y = R.fftconv(u, k, bidirectional=True)
    y_rev = R.fftconv(u.flip(-1), k.flip(-1), bidirectional=True)
    torch.testing.assert_close(y_rev, y.flip(-1), rtol=1e-13, atol=1e-13)


def test_optional_terms_compose() -> None:
    B, H, L, Lk = 2, 3, 12, 5
    u, k = _rand(B, H, L, seed=15), _rand(H, Lk, seed=16)
    D, pre, post = _rand(H, seed=17), _rand(B, H, L, seed=18), _rand(B, H, L, seed=19)
    for fn in (R.fftconv, R.fftconv_fft):
        for bidir in (False, True):
            base = fn(u * pre, k, bidirectional=bidir)
            torch.testing.assert_close(fn(u, k, pregate=pre, bidirectional=bidir), base)
            torch.testing.assert_close(fn(u, k, D, pre, bidirectional=bidir), base + D[:, None] * u * pre)
            torch.testing.assert_close(fn(u, k, D, pre, post, bidirectional=bidir),
                                       post * (base + D[:, None] * u * pre))


def test_taps_helper() -> None:
    k = torch.arange(1.0, 6.0, dtype=F64)[None]  # Lk = 5, centre 2
    taps, s0 = R.fftconv_taps(k, 3)
    assert s0 == 0 and taps.tolist() == [[1.0, 2.0, 3.0]]
    taps, s0 = R.fftconv_taps(k, 2, bidirectional=True)  # lags -1, 0, 1 -> k[1], k[2], k[3]
    assert s0 == -1 and taps.tolist() == [[2.0, 3.0, 4.0]]
    taps, s0 = R.fftconv_taps(k, 4, bidirectional=True)  # lags -2..2 (k[-1], k[5] do not exist)
    assert s0 == -2 and taps.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0]]
    taps, s0 = R.fftconv_taps(torch.arange(8.0, dtype=F64)[None], 3, bidirectional=True)  # c = 3
    assert s0 == -2 and taps.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0]]
    taps, s0 = R.fftconv_taps(torch.arange(4.0, dtype=F64)[None], 3, bidirectional=True)  # c = 1
    assert s0 == -1 and taps.tolist() == [[0.0, 1.0, 2.0, 3.0]]


# ---------------------------------------------------------------------- dtypes, purity, autograd


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_inputs_are_upcast_exactly(dtype: torch.dtype) -> None:
    inp = helpers.make_fftconv_inputs(2, 3, 17, 9, dtype, D=True, pregate=True, postgate=True, seed=20)
    y = R.fftconv(inp.u, inp.k, inp.D, inp.pregate, inp.postgate)
    assert y.dtype == F64
    y64 = R.fftconv(inp.u.double(), inp.k.double(), inp.D.double(), inp.pregate.double(),
                    inp.postgate.double())
    torch.testing.assert_close(y, y64, rtol=0, atol=0)


@pytest.mark.parametrize("fn", [R.fftconv, R.fftconv_fft])
def test_reference_does_not_modify_inputs(fn) -> None:  # type: ignore[no-untyped-def]
    for dtype in (F64, torch.float32):
        inp = helpers.make_fftconv_inputs(2, 3, 10, 7, dtype, D=True, pregate=True, postgate=True, seed=21)
        snap = inp.snapshot()
        fn(inp.u, inp.k, inp.D, inp.pregate, inp.postgate, bidirectional=True)
        inp.assert_unchanged(snap)


def test_reference_rejects_bad_shapes() -> None:
    u, k = _rand(1, 2, 5), _rand(2, 3)
    with pytest.raises(ValueError):
        R.fftconv(u[0], k)
    with pytest.raises(ValueError):
        R.fftconv(u, k[:1])
    with pytest.raises(ValueError):
        R.fftconv_fft(u, k, D=_rand(3))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_reference_gradients_agree_and_gradcheck(bidirectional: bool) -> None:
    inp = helpers.make_fftconv_inputs(2, 3, 9, 7, F64, D=True, pregate=True, postgate=True,
                                      seed=22, requires_grad=True)
    args = (inp.u, inp.k, inp.D, inp.pregate, inp.postgate)
    g = _rand(2, 3, 9, seed=23)
    small = helpers.make_fftconv_inputs(1, 2, 5, 4, F64, D=True, pregate=True, postgate=True,
                                        seed=24, requires_grad=True)
    grads_direct = torch.autograd.grad(R.fftconv(*args, bidirectional=bidirectional), args, g)
    grads_fft = torch.autograd.grad(R.fftconv_fft(*args, bidirectional=bidirectional), args, g)
    for a, b in zip(grads_direct, grads_fft):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)
    small_args = (small.u, small.k, small.D, small.pregate, small.postgate)
    assert torch.autograd.gradcheck(lambda *a: R.fftconv_fft(*a, bidirectional=bidirectional), small_args)


# ----------------------------------------------------------- the FFT reference at moderate L


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("L,Lk", [(127, 64), (128, 128), (1000, 1000), (1000, 1999), (1000, 2500), (4097, 333)])
def test_fft_reference_matches_direct_sum(L: int, Lk: int, bidirectional: bool) -> None:
    inp = helpers.make_fftconv_inputs(2, 3, L, Lk, F64, D=True, pregate=True, postgate=True, seed=L + Lk)
    args = (inp.u, inp.k, inp.D, inp.pregate, inp.postgate)
    y = R.fftconv(*args, bidirectional=bidirectional)
    y_fft = R.fftconv_fft(*args, bidirectional=bidirectional)
    assert helpers.rel_rms(y_fft, y) <= 1e-13


# ------------------------------------------------------------------- the test helpers themselves


@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_baseline_matches_reference(bidirectional: bool) -> None:
    for L in (1, 2, 7, 100):
        inp = helpers.make_fftconv_inputs(2, 3, L, 2 * L + 1, F64, D=True, pregate=True, postgate=True, seed=L)
        y = helpers.torch_fftconv(inp.u, inp.k, inp.D, inp.pregate, inp.postgate, bidirectional, dtype=F64)
        y_ref = helpers.reference_fftconv(inp, bidirectional=bidirectional)
        assert helpers.rel_rms(y, y_ref) <= 1e-13


@pytest.mark.parametrize("dtype", helpers.ACT_DTYPES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_tolerance_helper_accepts_good_and_rejects_bad(dtype: torch.dtype, bidirectional: bool) -> None:
    """Good: torch's float32 FFT path (rounded to the dtype). Bad: the same with one tap dropped,
    one element perturbed by a few ulps of the output scale, or a NaN."""
    L, Lk = 300, 300
    inp = helpers.make_fftconv_inputs(2, 3, L, Lk, dtype, D=True, pregate=True, postgate=True, seed=5)
    y_ref = helpers.reference_fftconv(inp, bidirectional=bidirectional)
    compute = F64 if dtype == F64 else torch.float32
    good = helpers.torch_fftconv(inp.u, inp.k, inp.D, inp.pregate, inp.postgate, bidirectional,
                                 dtype=compute).to(dtype)
    helpers.assert_fftconv_close(good, inp, bidirectional=bidirectional, y_ref=y_ref)

    k_bad = inp.k.clone()
    k_bad[:, Lk // 2] = 0.0
    bad = helpers.torch_fftconv(inp.u, k_bad, inp.D, inp.pregate, inp.postgate, bidirectional,
                                dtype=compute).to(dtype)
    with pytest.raises(AssertionError):
        helpers.assert_fftconv_close(bad, inp, bidirectional=bidirectional, y_ref=y_ref)

    one_off = good.clone()
    scale = helpers.error_scale(inp, bidirectional=bidirectional)
    lg = math.log2(helpers.fft_size_ref(L)) + 2
    one_off[1, 2, 17] += 10 * (helpers.EPS[dtype] if dtype in helpers.HALF_DTYPES else 1e-7) * lg * scale[1, 2].item()
    with pytest.raises(AssertionError):
        helpers.assert_fftconv_close(one_off, inp, bidirectional=bidirectional, y_ref=y_ref)

    nan = good.clone()
    nan[0, 0, L - 1] = math.nan
    with pytest.raises(AssertionError, match="NaN"):
        helpers.assert_fftconv_close(nan, inp, bidirectional=bidirectional, y_ref=y_ref)

    with pytest.raises(AssertionError, match="dtype"):
        helpers.assert_fftconv_close(good.double() if dtype != F64 else good.float(), inp,
                                     bidirectional=bidirectional, y_ref=y_ref)


def test_float32_torch_ratio_rule_is_not_vacuous() -> None:
    """An error of 5x torch's float32 FFT error (a sloppier FFT) must fail the float32 rule."""
    L = 4097
    inp = helpers.make_fftconv_inputs(1, 4, L, L, torch.float32, seed=6)
    y_ref = helpers.reference_fftconv(inp)
    y32 = helpers.torch_fftconv(inp.u, inp.k).double()
    err = y32 - y_ref
    helpers.assert_fftconv_close(y32.float(), inp, y_ref=y_ref)
    sloppy = (y_ref + 5.0 * err).float()
    with pytest.raises(AssertionError, match="relative RMS"):
        helpers.assert_fftconv_close(sloppy, inp, y_ref=y_ref)
