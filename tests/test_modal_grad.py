"""gradcheck (float64) of every differentiable modal op, and float32 backward vs the reference."""
from __future__ import annotations

import math

import pytest
import torch

from serengeti import reference as ref
from serengeti.ops.modal import modal_kernel, modal_scan, modal_state, s4d_kernel, s4d_state

BACKEND_OP = "modal"


def _filter(D, S, seed=0):
    g = torch.Generator().manual_seed(seed)
    radius = 0.5 + 0.45 * torch.rand(D, S, generator=g, dtype=torch.float64)
    p = torch.polar(radius, math.pi * torch.rand(D, S, generator=g, dtype=torch.float64))
    R = torch.randn(D, S, generator=g, dtype=torch.complex128)
    return R.requires_grad_(), p.requires_grad_()


def test_modal_kernel_gradcheck(backend):
    R, p = _filter(3, 2)
    assert torch.autograd.gradcheck(lambda R, p: modal_kernel(R, p, 70), (R, p))  # crosses a block


def test_modal_state_gradcheck(backend):
    _, p = _filter(3, 2, seed=1)
    w = torch.randn(2, 3, 67, dtype=torch.float64, requires_grad=True)
    s0 = torch.randn(2, 3, 2, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(modal_state, (w, p, s0))
    assert torch.autograd.gradcheck(lambda w, p: modal_state(w, p), (w, p))


@pytest.mark.parametrize("L", [1, 5, 70])
def test_modal_scan_gradcheck(backend, L):
    R, p = _filter(3, 2, seed=L)
    w = torch.randn(2, 3, L, dtype=torch.float64, requires_grad=True)
    D = torch.randn(3, dtype=torch.float64, requires_grad=True)
    s0 = torch.randn(2, 3, 2, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w, R, p, D, s0: modal_scan(w, R, p, D, s0, return_final_state=True), (w, R, p, D, s0))
    assert torch.autograd.gradcheck(lambda w, R, p: modal_scan(w, R, p), (w, R, p))


def test_modal_scan_backward_chunked_float32(backend):
    # L > 4096: the backward uses several chunks (carries of states and adjoints).
    B, D, S, L = 1, 3, 2, 9000
    R64, p64 = _filter(D, S, seed=5)
    R, p = R64.detach().to(torch.complex64).requires_grad_(), p64.detach().to(torch.complex64).requires_grad_()
    w = torch.randn(B, D, L, requires_grad=True)
    Dk = torch.randn(D, requires_grad=True)
    s0 = torch.randn(B, D, S, dtype=torch.complex64, requires_grad=True)
    y, f = modal_scan(w, R, p, Dk, s0, return_final_state=True)
    gy, gf = torch.randn_like(y), torch.randn_like(f)
    grads = torch.autograd.grad((y * gy).sum() + (f * gf.conj()).real.sum(), (w, R, p, Dk, s0))
    leaves = [x.detach().to(torch.complex128 if x.is_complex() else torch.float64).requires_grad_()
              for x in (w, R, p, Dk, s0)]
    y_ref, f_ref = ref.modal_scan(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4])
    expected = torch.autograd.grad((y_ref * gy.double()).sum() + (f_ref * gf.to(torch.complex128).conj()).real.sum(), leaves)
    for got, want in zip(grads, expected):
        scale = want.abs().max().item() + 1
        assert (got.to(want.dtype) - want).abs().max().item() < 2e-3 * scale


def test_s4d_gradcheck(backend):
    H, N = 2, 3
    log_dt = torch.log(torch.tensor([0.01, 0.05], dtype=torch.float64)).requires_grad_()
    inv_A_real = torch.log(0.5 * torch.ones(H, N, dtype=torch.float64)).requires_grad_()
    A_imag = (math.pi * torch.arange(N, dtype=torch.float64).repeat(H, 1)).requires_grad_()
    B = torch.randn(H, N, 2, dtype=torch.float64, requires_grad=True)
    C = torch.randn(1, H, N, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: s4d_kernel(*a, 20), (log_dt, inv_A_real, A_imag, B, C))
    u = torch.randn(1, H, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u, *a: torch.view_as_real(s4d_state(u, *a)),
                                    (u, log_dt, inv_A_real, A_imag, B))
