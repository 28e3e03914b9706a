"""The modal ops' two CPU builds agree, and the decode step's fast (dense float32) path agrees with
its general path (strided and other-dtype arguments are copied to dense arrays first).

serengeti._C.set_force_portable(True) routes every dispatcher to the portable build; with AVX2
available the default is the AVX2 build (FMA contraction, other vector widths), so results may
differ by float rounding only: a few float32 ulps relative to the output's scale.
"""
from __future__ import annotations

import contextlib
import math

import pytest
import torch

from serengeti import _C
from serengeti.ops.modal import gated_conv_recurrence, gated_conv_step, modal_kernel, modal_scan, modal_state

BACKEND_OP = "modal"


@contextlib.contextmanager
def _portable():
    before = _C.force_portable() if hasattr(_C, "force_portable") else False
    _C.set_force_portable(True)
    try:
        yield
    finally:
        _C.set_force_portable(before)


def _filter(D, S, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.polar(0.8 + 0.199 * torch.rand(D, S, generator=g), math.pi * torch.rand(D, S, generator=g))
    return torch.randn(D, S, generator=g, dtype=torch.complex64), p.to(torch.complex64)


def _same(a: torch.Tensor, b: torch.Tensor, rel: float = 2e-6) -> None:
    a = torch.view_as_real(a) if a.is_complex() else a
    b = torch.view_as_real(b) if b.is_complex() else b
    scale = b.double().abs().max().item() + 1e-30
    err = (a.double() - b.double()).abs().max().item() / scale
    assert err <= rel, f"max |diff| / max |ref| = {err:.3g} > {rel:g}"


def _both(fn):
    fast = fn()
    with _portable():
        slow = fn()
    return fast, slow


@pytest.mark.parametrize("D,S,L", [(5, 2, 1000), (17, 32, 127), (9, 3, 4097)])
def test_modal_kernel_portable_equals_default(D, S, L):
    R, p = _filter(D, S)
    fast, slow = _both(lambda: modal_kernel(R, p, L))
    _same(fast, slow)


def test_modal_state_and_scan_portable_equal_default():
    R, p = _filter(11, 2, seed=1)
    w = torch.randn(2, 11, 777)
    Dk = torch.randn(11)
    s0 = torch.randn(2, 11, 2, dtype=torch.complex64)
    _same(*_both(lambda: modal_state(w, p, s0)))
    (y1, f1), (y2, f2) = _both(lambda: modal_scan(w, R, p, Dk, s0, return_final_state=True))
    _same(y1, y2)
    _same(f1, f2)


def _step_args(B=2, D=48, S=2, K=3, seed=0):
    R, p = _filter(D, S, seed)
    g = torch.Generator().manual_seed(seed + 1)
    return dict(z=torch.randn(B, 3 * D, generator=g), fs=torch.randn(B, 3 * D, K - 1, generator=g),
                fw=torch.randn(3 * D, K, generator=g), fb=torch.randn(3 * D, generator=g), p=p, R=R,
                Dk=torch.randn(D, generator=g), ss=torch.randn(B, D, S, generator=g, dtype=torch.complex64))


def _run_steps(a, layout, heads, steps=3):
    fs, ss = a["fs"].clone(), a["ss"].clone()
    ys = [gated_conv_step(a["z"] * (i + 1), fs, a["fw"], a["fb"], a["p"], a["R"], a["Dk"], ss,
                          layout=layout, heads=heads) for i in range(steps)]
    return torch.stack(ys), fs, ss


@pytest.mark.parametrize("layout,heads", [("column_split", 4), ("thirds", 1), ("interleave", 1)])
@pytest.mark.parametrize("K,S", [(3, 2), (4, 1), (7, 5), (1, 4)])
def test_gated_step_portable_equals_default(layout, heads, K, S):
    a = _step_args(K=K, S=S)
    (y1, fs1, ss1), (y2, fs2, ss2) = _both(lambda: _run_steps(a, layout, heads))
    _same(y1, y2, rel=1e-5)
    assert torch.equal(fs1, fs2)  # raw inputs, shifted: exact
    _same(ss1, ss2, rel=1e-5)


def test_gated_step_general_path_equals_fast_path():
    """Strided, real-view and bfloat16-weight arguments take the copy-to-dense path."""
    a = _step_args(B=3, D=16, S=2, K=3, seed=4)
    y_fast, fs_fast, ss_fast = _run_steps(a, "column_split", 2)
    # The same values in strided / real-view storage.
    fs_big = torch.zeros(3, 3 * 16, 5)
    fs_view = fs_big[:, :, 1:3]
    fs_view.copy_(a["fs"])
    ss_real = torch.view_as_real(a["ss"].clone())
    ss_t = torch.zeros(3, 2, 16, 2).transpose(1, 2)  # (B, D, S, 2), non-contiguous
    ss_t.copy_(ss_real)
    fw_t = a["fw"].t().contiguous().t()  # (3D, K) column-major
    ys = []
    for i in range(3):
        ys.append(gated_conv_step(a["z"] * (i + 1), fs_view, fw_t, a["fb"], torch.view_as_real(a["p"]),
                                  torch.view_as_real(a["R"]), a["Dk"], ss_t, layout="column_split", heads=2))
    torch.testing.assert_close(torch.stack(ys), y_fast, rtol=1e-6, atol=1e-6)
    assert torch.equal(fs_view, fs_fast)
    torch.testing.assert_close(torch.view_as_complex(ss_t.contiguous()), ss_fast, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_gated_step_half_dtypes_match_float32_math(dtype):
    a = _step_args(B=2, D=24, S=2, K=3, seed=7)
    a16 = dict(a, z=a["z"].to(dtype), fs=a["fs"].to(dtype), fw=a["fw"].to(dtype), fb=a["fb"].to(dtype))
    a32 = dict(a16, z=a16["z"].float(), fs=a16["fs"].float(), fw=a16["fw"].float(), fb=a16["fb"].float())
    y16, fs16, ss16 = _run_steps(a16, "thirds", 1, steps=1)
    y32, fs32, ss32 = _run_steps(a32, "thirds", 1, steps=1)
    assert y16.dtype == dtype and fs16.dtype == dtype
    torch.testing.assert_close(y16.float(), y32.to(dtype).float(), rtol=0, atol=0)
    assert torch.equal(fs16.float(), fs32)
    torch.testing.assert_close(ss16, ss32, rtol=1e-6, atol=1e-6)


def test_gated_recurrence_portable_equals_default():
    a = _step_args(B=2, D=16, S=2, K=3, seed=9)
    z = torch.randn(2, 48, 200)
    (y1, f1, s1), (y2, f2, s2) = _both(lambda: gated_conv_recurrence(z, a["fw"], a["fb"], a["p"], a["R"], a["Dk"],
                                                                     layout="column_split", heads=4))
    _same(y1, y2, rel=1e-5)
    assert torch.equal(f1, f2)
    _same(s1, s2, rel=1e-5)
