"""modal_kernel, modal_state, modal_scan and the H3 helpers against float64 references."""
from __future__ import annotations

import math

import pytest
import torch

import serengeti
from serengeti import reference as ref
from serengeti.ops.modal import (modal_kernel, modal_scan, modal_state, s4d_discretize, s4d_kernel,
                                 s4d_state, shift_ssm_kernel)

BACKEND_OP = "modal"

# float32 arithmetic: errors are relative to the magnitude sum_n |R| |p|^t (a few ulp per term).
TOL = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2, torch.float64: 1e-12}


def _filter(D: int, S: int, seed: int = 0, rmin: float = 0.7, rmax: float = 0.999):
    g = torch.Generator().manual_seed(seed)
    radius = rmin + (rmax - rmin) * torch.rand(D, S, generator=g, dtype=torch.float64)
    angle = math.pi * torch.rand(D, S, generator=g, dtype=torch.float64)
    p = torch.polar(radius, angle).to(torch.complex64)
    R = torch.randn(D, S, generator=g, dtype=torch.complex128).to(torch.complex64)
    return R, p


def _close(actual: torch.Tensor, expected: torch.Tensor, tol: float) -> None:
    scale = expected.abs().max().item() + 1.0
    err = (actual.to(expected.dtype) - expected).abs().max().item()
    assert err <= tol * scale, f"max error {err:.3g} > {tol:.1g} * {scale:.3g}"


@pytest.mark.parametrize("D,S,L", [(1, 1, 1), (3, 2, 7), (8, 32, 127), (11, 3, 1000), (2, 2, 4097)])
def test_modal_kernel_matches_reference(backend, D, S, L):
    R, p = _filter(D, S, seed=L)
    h = modal_kernel(R, p, L)
    assert h.shape == (D, L) and h.dtype == torch.float32
    _close(h, ref.modal_kernel(R, p, L), 2e-5)
    # the real-view form gives the same
    torch.testing.assert_close(modal_kernel(torch.view_as_real(R), torch.view_as_real(p), L), h)


def test_modal_kernel_threads_and_time_split(backend):
    R, p = _filter(2, 2, rmin=0.99999, rmax=1.0)
    L = 70000  # few channels and long L: each channel is split into ranges across threads
    serengeti.set_num_threads(2)
    try:
        h2 = modal_kernel(R, p, L)
    finally:
        serengeti.set_num_threads(None)
    t = torch.tensor([0, 1, 63, 64, 16383, 16384, 40000, L - 1])
    _close(h2[:, t], ref.modal_kernel_at(R, p, t), 2e-5)


@pytest.mark.parametrize("radius", [0.9999, 1.0, 1.000001])
def test_modal_kernel_4m_long(backend, radius):
    L = 4 * 1024 * 1024
    g = torch.Generator().manual_seed(1)
    angle = math.pi * torch.rand(2, 2, generator=g, dtype=torch.float64)
    p = torch.polar(torch.full((2, 2), radius, dtype=torch.float64), angle).to(torch.complex64)
    R = torch.randn(2, 2, generator=g, dtype=torch.complex64)
    h = modal_kernel(R, p, L)
    t = torch.cat([torch.arange(5), torch.randint(0, L, (200,), generator=g), torch.tensor([L - 1])])
    expected = ref.modal_kernel_at(R, p, t)
    # Error relative to sum |R| |p|^t: one float32 rounding of the anchor and of the table entry.
    # (|p| = 0.9999 decays below float32's range after t ~ 900K: there the floor 1e-30 applies.)
    scale = (R.abs().double()[..., None] * p.abs().double()[..., None] ** t.double()).sum(1)
    err = (h[:, t].double() - expected).abs()
    assert (err <= 1e-5 * scale + 1e-30).all(), (err / scale).max().item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("L", [1, 3, 127, 1000])
def test_modal_state_matches_reference(backend, dtype, L):
    D, S, B = 5, 3, 2
    R, p = _filter(D, S, seed=L)
    w = torch.randn(B, D, L).to(dtype)
    s0 = torch.randn(B, D, S, dtype=torch.complex64)
    if dtype == torch.float64:
        p, s0 = p.to(torch.complex128), s0.to(torch.complex128)
    s = modal_state(w, p, s0)
    assert s.shape == (B, D, S) and s.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)
    expected = ref.modal_state(w, p, s0)
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    assert (s.to(torch.complex128) - expected).abs().max().item() <= tol * (expected.abs().max().item() + 1)
    assert torch.allclose(modal_state(w, p).to(torch.complex128), ref.modal_state(w, p), atol=tol * 100 + 1e-5)


def test_modal_state_strided_and_time_split(backend):
    D, S, B, L = 3, 2, 1, 50000
    R, p = _filter(D, S, rmin=0.999, rmax=0.9999)
    w = torch.randn(B, L, D).transpose(1, 2)  # channels-last memory
    serengeti.set_num_threads(2)
    try:
        s = modal_state(w, p)
    finally:
        serengeti.set_num_threads(None)
    expected = ref.modal_state(w, p)
    assert (s.to(torch.complex128) - expected).abs().max().item() < 2e-5 * expected.abs().max().item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("B,D,S,L", [(1, 1, 1, 1), (2, 3, 2, 7), (1, 11, 4, 130), (2, 9, 2, 1000)])
def test_modal_scan_matches_reference(backend, dtype, B, D, S, L):
    R, p = _filter(D, S, seed=D + L)
    Dk = torch.randn(D)
    w = torch.randn(B, D, L).to(dtype)
    s0 = torch.randn(B, D, S, dtype=torch.complex64)
    if dtype == torch.float64:
        R, p, Dk, s0 = R.to(torch.complex128), p.to(torch.complex128), Dk.double(), s0.to(torch.complex128)
    y, final = modal_scan(w, R, p, Dk, s0, return_final_state=True)
    assert y.dtype == dtype and y.shape == (B, D, L)
    y_ref, final_ref = ref.modal_scan(w, R, p, Dk, s0)
    tol = {torch.float32: 2e-5, torch.bfloat16: 1e-2, torch.float64: 1e-10}[dtype]
    _close(y.double(), y_ref, tol)
    assert (final.to(torch.complex128) - final_ref).abs().max().item() <= 1e-4 * (final_ref.abs().max().item() + 1)
    # without the optional arguments
    _close(modal_scan(w, R, p).double(), ref.modal_scan(w, R, p)[0], tol)


def test_modal_scan_chunked_across_threads(backend):
    # One lane group and L long enough that the forward splits time into chunks (two passes + carry).
    B, D, S, L = 1, 3, 2, 9000
    R, p = _filter(D, S, rmin=0.99, rmax=0.999)
    w = torch.randn(B, D, L)
    s0 = torch.randn(B, D, S, dtype=torch.complex64)
    serengeti.set_num_threads(2)
    try:
        y, final = modal_scan(w, R, p, None, s0, return_final_state=True)
    finally:
        serengeti.set_num_threads(None)
    y1, final1 = modal_scan(w, R, p, None, s0, return_final_state=True)
    y_ref, final_ref = ref.modal_scan(w, R, p, None, s0)
    _close(y.double(), y_ref, 1e-4)
    _close(y1.double(), y_ref, 1e-4)
    assert (final.to(torch.complex128) - final_ref).abs().max() < 1e-3 * final_ref.abs().max()


@pytest.mark.parametrize("S", [2, 32])
def test_fftconv_with_modal_kernel_equals_modal_scan(backend, S):
    B, D, L = 2, 16, 600
    R, p = _filter(D, S, seed=S)
    Dk = torch.randn(D)
    w = torch.randn(B, D, L)
    h = modal_kernel(R, p, L)
    with serengeti.use_backend("cpu"):  # the FFT path is the reference side: cpu on every backend
        via_fft = serengeti.fftconv(w, h, Dk)
    via_scan = modal_scan(w, R, p, Dk)
    torch.testing.assert_close(via_scan, via_fft, atol=2e-4 * (via_fft.abs().max().item() + 1), rtol=0)


def test_modal_state_equals_last_scan_state_and_steps(backend):
    B, D, S, L = 2, 4, 3, 257
    R, p = _filter(D, S)
    w = torch.randn(B, D, L)
    s0 = torch.randn(B, D, S, dtype=torch.complex64)
    state = modal_state(w, p, s0)
    _, final = modal_scan(w, R, p, None, s0, return_final_state=True)
    s = s0.clone()
    for t in range(L):  # step by step in complex64
        s = p * s + w[..., t, None]
    torch.testing.assert_close(state, final, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(state, s, atol=1e-4, rtol=1e-4)


def _h3_params(H: int = 3, N: int = 4, dtype=torch.float64):
    g = torch.Generator().manual_seed(3)
    log_dt = (torch.rand(H, generator=g, dtype=dtype) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
    inv_A_real = torch.log(0.5 * torch.ones(H, N, dtype=dtype))
    A_imag = math.pi * torch.arange(N, dtype=dtype).repeat(H, 1)
    B = torch.randn(H, N, 2, generator=g, dtype=dtype)
    C = torch.randn(1, H, N, 2, generator=g, dtype=dtype)
    return log_dt, inv_A_real, A_imag, B, C


def _s4d_by_formula(log_dt, inv_A_real, A_imag, B, C, L):
    """MODELS.md, element by element in complex128."""
    dt = torch.exp(log_dt.double())[:, None]
    A = -torch.exp(inv_A_real.double()) + 1j * A_imag.double()
    dA = (1 + dt * A / 2) / (1 - dt * A / 2)
    Bc = torch.view_as_complex(B.double().contiguous())
    Cc = torch.view_as_complex(C.double().contiguous())[0]
    Cp = Bc * Cc * dt / (1 - dt * A / 2)
    K = torch.stack([2 * (Cp * dA ** l).sum(-1).real for l in range(L)], -1)
    return K, dA, Bc * dt / (1 - dt * A / 2)


def test_s4d_kernel_matches_formula(backend):
    params = _h3_params()
    L = 50
    K = s4d_kernel(*params, L)
    K_ref, _, _ = _s4d_by_formula(*params, L)
    torch.testing.assert_close(K, K_ref, atol=1e-10, rtol=1e-10)
    K32 = s4d_kernel(*(x.float() for x in params), L)
    assert K32.dtype == torch.float32
    torch.testing.assert_close(K32.double(), K_ref, atol=1e-4, rtol=1e-4)


def test_s4d_state_matches_formula(backend):
    params = _h3_params()
    log_dt, inv_A_real, A_imag, B, C = params
    u = torch.randn(2, 3, 20, dtype=torch.float64)
    s = s4d_state(u, log_dt, inv_A_real, A_imag, B)
    _, dA, dB = _s4d_by_formula(*params, 1)
    expected = sum(dA ** (19 - l) * dB * u[..., l, None] for l in range(20))
    torch.testing.assert_close(s, expected, atol=1e-10, rtol=1e-10)
    s0 = torch.randn(2, 3, 4, dtype=torch.complex128)
    torch.testing.assert_close(s4d_state(u, log_dt, inv_A_real, A_imag, B, s0), expected + dA ** 20 * s0)


def test_shift_ssm_kernel_matches_formula():
    H, N = 3, 64
    B, C = torch.randn(H, N, dtype=torch.float64), torch.randn(1, H, N, dtype=torch.float64)
    K = shift_ssm_kernel(B, C)
    assert K.shape == (H, 64)
    for m in (0, 1, 17, 63):
        torch.testing.assert_close(K[:, m], sum(B[:, n] * C[0, :, n + m] for n in range(N - m)))


def test_discretize_shapes():
    dA, dB, Cp = s4d_discretize(*_h3_params(H=2, N=5))
    assert dA.shape == dB.shape == Cp.shape == (2, 5) and dA.is_complex()
