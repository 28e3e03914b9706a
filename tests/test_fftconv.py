"""Forward correctness of serengeti.fftconv / fft_filter / fft_size against serengeti.reference.

Coverage:
- full cross product dtype x causal/bidirectional x (k | k_f) x D x pregate x postgate on small
  shapes;
- a covering subset over L in {1, 2, 3, 7, 127, 128, 1000, 4097, 65536}, Lk < L, = L, 2L-1, > 2L-1,
  H in {1, 3, 111}, B in {1, 2, 5}, with every option on and off somewhere (seeded, listed in ids);
- one L >= 2^20 case per mode (slow);
- strided / transposed / expanded (stride 0) inputs of every argument;
- the op never writes to its inputs, never leaves NaN in its output, returns u's dtype;
- fft_filter equivalence and shape contract, fft_size contract.
Every test runs once per backend in serengeti.available_backends("fftconv") (float64 cases on the
cpu backend only: helpers.skip_unless_dtype_supported).
All numeric checks use helpers.assert_fftconv_close (the tolerance rule is documented there).
"""

from __future__ import annotations

import itertools
import math
import random

from typing import NamedTuple

import pytest
import torch

import helpers
import serengeti

from helpers import ACT_DTYPES, FFTConvInputs, assert_fftconv_close, call_fftconv, device_for

BACKEND_OP = "fftconv"  # the op family whose backends the `backend` fixture runs

# Emulated kernels are slow: keep them to small problems.
EMU_MAX_ELEMENTS = 1 << 15


def _skip_if_too_big_for(backend: str, B: int, H: int, L: int) -> None:
    if backend == "emu" and B * H * L > EMU_MAX_ELEMENTS:
        pytest.skip("emu backend: small shapes only")


def _dtype_id(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _run_and_check(
    inp: FFTConvInputs, *, bidirectional: bool, use_k_f: bool, label: str = ""
) -> torch.Tensor:
    """Call the op, check it left its inputs alone, and check the output against the reference."""
    snap = inp.snapshot()
    y = call_fftconv(inp, bidirectional=bidirectional, use_k_f=use_k_f)
    inp.assert_unchanged(snap)
    assert_fftconv_close(y, inp, bidirectional=bidirectional, label=label)
    return y


# ------------------------------------------------------------------ full cross product, small


@pytest.mark.parametrize("B,H,L,Lk", [(2, 3, 7, 5), (2, 3, 128, 200)], ids=["L7", "L128"])
@pytest.mark.parametrize("postgate", [False, True], ids=["", "post"])
@pytest.mark.parametrize("pregate", [False, True], ids=["", "pre"])
@pytest.mark.parametrize("use_D", [False, True], ids=["", "D"])
@pytest.mark.parametrize("use_k_f", [False, True], ids=["k", "k_f"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("dtype", ACT_DTYPES, ids=_dtype_id)
def test_cross_product_small(
    backend: str, dtype: torch.dtype, bidirectional: bool, use_k_f: bool, use_D: bool,
    pregate: bool, postgate: bool, B: int, H: int, L: int, Lk: int,
) -> None:
    helpers.skip_unless_dtype_supported(backend, dtype)
    inp = helpers.make_fftconv_inputs(B, H, L, Lk, dtype, D=use_D, pregate=pregate, postgate=postgate,
                                      seed=L, device=device_for(backend))
    _run_and_check(inp, bidirectional=bidirectional, use_k_f=use_k_f)


# ------------------------------------------------------------------------ covering subset


class Case(NamedTuple):
    B: int
    H: int
    L: int
    Lk: int
    dtype: torch.dtype
    bidirectional: bool
    use_k_f: bool
    D: bool
    pregate: bool
    postgate: bool

    def id(self) -> str:
        flags = "".join(f"-{n}" for n in ("D", "pregate", "postgate") if getattr(self, n))
        return (f"B{self.B}H{self.H}L{self.L}Lk{self.Lk}-{_dtype_id(self.dtype)}-"
                f"{'bidir' if self.bidirectional else 'causal'}-{'k_f' if self.use_k_f else 'k'}{flags}")


def _covering_cases() -> list[Case]:
    """Every L with filters shorter than, equal to, and longer than L (2L-1 and more), cycling
    H over {1, 3, 111} and B over {1, 2, 5} (capped so B*H*L stays <= ~1M elements), and the six
    options (dtype, mode, k/k_f, D, pregate, postgate) chosen by a seeded shuffle so that each
    value of each option appears about equally often."""
    Ls = [1, 2, 3, 7, 127, 128, 1000, 4097, 65536]
    shapes = []
    for L in Ls:
        Lks = sorted({L, 2 * L - 1, 2 * L + 5} | ({max(1, L // 3)} if L > 1 else set()))
        for Lk in Lks:
            shapes.append((L, Lk))
    rng = random.Random(2024)
    n = len(shapes)

    def balanced(values: list) -> list:
        out = [values[i % len(values)] for i in range(n)]
        rng.shuffle(out)
        return out

    dtypes = balanced(list(ACT_DTYPES))
    flags = {name: balanced([False, True]) for name in ("bidir", "k_f", "D", "pre", "post")}
    Hs, Bs = [1, 3, 111], [1, 2, 5]
    cases = []
    for i, (L, Lk) in enumerate(shapes):
        H, B = Hs[i % 3], Bs[(i // 3) % 3]
        while B * H * L > 1_100_000 and B > 1:
            B -= 1
        while B * H * L > 1_100_000 and H > 2:
            H = max(2, H // 4)
        cases.append(Case(B, H, L, Lk, dtypes[i], flags["bidir"][i], flags["k_f"][i],
                          flags["D"][i], flags["pre"][i], flags["post"][i]))
    # Make sure the long sequences see both modes in float32.
    cases.append(Case(1, 2, 65536, 65536, torch.float32, False, False, True, False, False))
    cases.append(Case(1, 2, 65536, 2 * 65536 - 1, torch.float32, True, True, False, True, True))
    return cases


COVERING = _covering_cases()


@pytest.mark.parametrize("case", COVERING, ids=[c.id() for c in COVERING])
def test_covering_shapes(backend: str, case: Case) -> None:
    _skip_if_too_big_for(backend, case.B, case.H, case.L)
    helpers.skip_unless_dtype_supported(backend, case.dtype)
    inp = helpers.make_fftconv_inputs(case.B, case.H, case.L, case.Lk, case.dtype, D=case.D,
                                      pregate=case.pregate, postgate=case.postgate,
                                      seed=case.L * 7 + case.Lk, device=device_for(backend))
    _run_and_check(inp, bidirectional=case.bidirectional, use_k_f=case.use_k_f, label=case.id())


def test_covering_subset_covers_every_option() -> None:
    """Guard on the parametrisation itself: every option value and size value is exercised."""
    seen = {
        "L": {c.L for c in COVERING}, "H": {c.H for c in COVERING}, "B": {c.B for c in COVERING},
        "dtype": {c.dtype for c in COVERING},
    }
    assert seen["L"] >= {1, 2, 3, 7, 127, 128, 1000, 4097, 65536}
    assert seen["H"] >= {1, 3, 111} and seen["B"] >= {1, 2, 5}
    assert seen["dtype"] == set(ACT_DTYPES)
    for field in ("bidirectional", "use_k_f", "D", "pregate", "postgate"):
        assert {getattr(c, field) for c in COVERING} == {False, True}, field
    rel = {("<" if c.Lk < c.L else "=" if c.Lk == c.L else ">") for c in COVERING}
    assert rel == {"<", "=", ">"}
    assert any(c.bidirectional and c.Lk > 2 * c.L - 1 for c in COVERING)
    assert any(c.bidirectional and c.Lk % 2 == 0 for c in COVERING)


@pytest.mark.slow
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=_dtype_id)
def test_very_long_sequence(backend: str, dtype: torch.dtype, bidirectional: bool) -> None:
    L = 1 << 20
    _skip_if_too_big_for(backend, 1, 2, L)
    Lk = 2 * L - 1 if bidirectional else L
    inp = helpers.make_fftconv_inputs(1, 2, L, Lk, dtype, D=True, pregate=bidirectional,
                                      postgate=not bidirectional, seed=99, device=device_for(backend))
    _run_and_check(inp, bidirectional=bidirectional, use_k_f=bidirectional)


# ----------------------------------------------------------------- strides and memory layouts


def _layout_inputs(layout: str, dtype: torch.dtype, device: torch.device) -> FFTConvInputs:
    """Inputs with the same kind of values as make_fftconv_inputs but unusual strides.

    sliced:     u = big[:, ::2, 1::3], gates sliced likewise, k = bigk[::2, 1::2], D = bigD[::3]
    transposed: u, gates stored as (B, L, H) / (L, B, H) and permuted; k stored (Lk, H) and .t()
    expanded:   pregate (1, H, L) and postgate (B, H, 1) expanded (stride 0), u = (B, 1, L)
                expanded over H, k = (1, Lk) expanded over H
    """
    B, H, L, Lk = 3, 5, 37, 30
    g = torch.Generator().manual_seed(7)
    pdt = torch.float64 if dtype == torch.float64 else torch.float32

    def r(*shape: int, dt: torch.dtype = dtype) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dt)

    if layout == "sliced":
        u = r(B, 2 * H, 3 * L + 1)[:, ::2, 1::3]
        pre = r(B + 1, H, 2 * L)[1:, :, ::2]
        post = r(B, H + 2, L + 4)[:, 1:-1, 2:-2]
        k = (r(2 * H, 2 * Lk, dt=pdt) / math.sqrt(Lk))[::2, 1::2]
        D = r(3 * H, dt=pdt)[::3]
    elif layout == "transposed":
        u = r(B, L, H).transpose(1, 2)
        pre = r(L, B, H).permute(1, 2, 0)
        post = r(H, L, B).permute(2, 0, 1)
        k = (r(Lk, H, dt=pdt) / math.sqrt(Lk)).t()
        D = r(H, dt=pdt)
    elif layout == "expanded":
        u = r(B, 1, L).expand(B, H, L)
        pre = r(1, H, L).expand(B, H, L)
        post = r(B, H, 1).expand(B, H, L)
        k = (r(1, Lk, dt=pdt) / math.sqrt(Lk)).expand(H, Lk)
        D = r(1, dt=pdt).expand(H)
    else:  # pragma: no cover
        raise ValueError(layout)
    assert u.shape == (B, H, L) and pre.shape == (B, H, L) and post.shape == (B, H, L)
    assert k.shape == (H, Lk) and D.shape == (H,)
    assert not u.is_contiguous() and not k.is_contiguous()
    return FFTConvInputs(u=u, k=k, D=D, pregate=pre, postgate=post)


@pytest.mark.parametrize("use_k_f", [False, True], ids=["k", "k_f"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("dtype", ACT_DTYPES, ids=_dtype_id)
@pytest.mark.parametrize("layout", ["sliced", "transposed", "expanded"])
def test_strided_inputs(backend: str, layout: str, dtype: torch.dtype, bidirectional: bool,
                        use_k_f: bool) -> None:
    helpers.skip_unless_dtype_supported(backend, dtype)
    inp = _layout_inputs(layout, dtype, device_for(backend))
    y = _run_and_check(inp, bidirectional=bidirectional, use_k_f=use_k_f, label=layout)
    # Same values, contiguous storage: same answer (up to the float32 tolerance of both).
    dense = FFTConvInputs(**{n: t.contiguous() for n, t in inp.tensors().items()})
    y_dense = call_fftconv(dense, bidirectional=bidirectional, use_k_f=use_k_f)
    scale = helpers.error_scale(dense, bidirectional=bidirectional).max().item()
    eps = 1e-12 if dtype == torch.float64 else 1e-5 if dtype == torch.float32 else 2 * helpers.EPS[dtype]
    torch.testing.assert_close(y.cpu().double(), y_dense.cpu().double(), rtol=eps, atol=eps * scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=_dtype_id)
def test_gates_and_D_optional_independently(backend: str, dtype: torch.dtype) -> None:
    """Each optional term changes the output exactly as the formula says (catches an op that
    ignores or mixes up D / pregate / postgate while still being self-consistent)."""
    dev = device_for(backend)
    full = helpers.make_fftconv_inputs(2, 3, 50, 20, dtype, D=True, pregate=True, postgate=True,
                                       seed=3, device=dev)
    for keep in itertools.product([False, True], repeat=3):
        D, pre, post = (t if on else None for t, on in zip((full.D, full.pregate, full.postgate), keep))
        inp = FFTConvInputs(u=full.u, k=full.k, D=D, pregate=pre, postgate=post)
        _run_and_check(inp, bidirectional=False, use_k_f=False, label=f"D,pre,post={keep}")


def test_output_is_fresh_and_finite_for_repeated_calls(backend: str) -> None:
    """Repeated calls (reusing any internal buffers) give identical, finite, fresh outputs."""
    inp = helpers.make_fftconv_inputs(2, 3, 1000, 1000, torch.float32, D=True, seed=4,
                                      device=device_for(backend))
    y1 = call_fftconv(inp)
    y1_copy = y1.clone()
    y2 = call_fftconv(inp)
    assert y1.data_ptr() != y2.data_ptr()
    assert torch.equal(y1, y1_copy), "a second call wrote into the first call's output"
    assert torch.equal(y1, y2)
    # A different shape in between must not leave stale data behind.
    call_fftconv(helpers.make_fftconv_inputs(1, 5, 77, 9, torch.float32, seed=5, device=device_for(backend)))
    assert torch.equal(call_fftconv(inp), y1)


# --------------------------------------------------------------------------- fft_filter / size


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("dtype", ACT_DTYPES, ids=_dtype_id)
@pytest.mark.parametrize("L,Lk", [(1, 1), (5, 3), (100, 100), (100, 250), (1000, 17)])
def test_fft_filter_equals_k(backend: str, dtype: torch.dtype, bidirectional: bool, L: int, Lk: int) -> None:
    helpers.skip_unless_dtype_supported(backend, dtype)
    inp = helpers.make_fftconv_inputs(2, 11, L, Lk, dtype, D=True, pregate=True, seed=L + Lk,
                                      device=device_for(backend))
    snap = inp.snapshot()
    k_f = serengeti.fft_filter(inp.k, L, bidirectional=bidirectional)
    inp.assert_unchanged(snap)
    assert isinstance(k_f, torch.Tensor) and k_f.dtype == inp.k.dtype and k_f.device == inp.k.device
    assert not k_f.is_complex()
    y_kf = serengeti.fftconv(inp.u, D=inp.D, pregate=inp.pregate, k_f=k_f, bidirectional=bidirectional)
    y_k = serengeti.fftconv(inp.u, inp.k, inp.D, inp.pregate, bidirectional=bidirectional)
    assert_fftconv_close(y_kf, inp, bidirectional=bidirectional)
    assert_fftconv_close(y_k, inp, bidirectional=bidirectional)
    # The spectrum is reusable: a second batch with the same k_f.
    inp2 = helpers.make_fftconv_inputs(3, 11, L, Lk, dtype, seed=L + Lk + 1, device=device_for(backend))
    inp2.k = inp.k
    assert_fftconv_close(serengeti.fftconv(inp2.u, k_f=k_f, bidirectional=bidirectional), inp2,
                         bidirectional=bidirectional)


def test_fft_filter_shape_depends_only_on_H_and_L(backend: str) -> None:
    dev = device_for(backend)
    short = torch.randn(6, 3, device=dev)
    long = torch.randn(6, 400, device=dev)
    for L in (1, 7, 100):
        for bidirectional in (False, True):
            a = serengeti.fft_filter(short, L, bidirectional=bidirectional)
            b = serengeti.fft_filter(long, L, bidirectional=bidirectional)
            assert a.shape == b.shape
    assert serengeti.fft_filter(short, 10).shape != serengeti.fft_filter(short, 1000).shape


@pytest.mark.parametrize("L", list(range(1, 70)) + [127, 128, 129, 1000, 4096, 4097, 65536, 1 << 20, (1 << 20) + 1])
def test_fft_size(L: int) -> None:
    N = serengeti.fft_size(L)
    assert isinstance(N, int) and not isinstance(N, bool)
    assert N >= 2 * L - 1, "transform too small: circular wrap-around would corrupt the output"
    assert N & (N - 1) == 0, "not a power of two"
    assert N <= max(16, 4 * L), "wastefully large transform"
    assert serengeti.fft_size(L) == N  # deterministic
    assert serengeti._C.fftconv_fft_size(L) == N, "Python and C++ disagree on the transform size"
