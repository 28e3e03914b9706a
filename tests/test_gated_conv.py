"""gated_conv_recurrence + gated_conv_step against StripedHyena's parallel block math."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import serengeti
from serengeti import reference as ref
from serengeti.ops.modal import gated_conv_recurrence, gated_conv_step, modal_kernel

BACKEND_OP = "modal"
LAYOUTS = ("column_split", "thirds", "interleave")


def _block(D=8, S=2, K=3, heads=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.polar(0.6 + 0.39 * torch.rand(D, S, generator=g, dtype=torch.float64),
                    math.pi * torch.rand(D, S, generator=g, dtype=torch.float64)).to(torch.complex64)
    R = torch.randn(D, S, generator=g, dtype=torch.complex64)
    fir_weight = torch.randn(3 * D, K, generator=g) / K
    fir_bias = torch.randn(3 * D, generator=g) * 0.1
    Dk = torch.randn(D, generator=g)
    return fir_weight, fir_bias, p, R, Dk


def _parallel(z, fir_weight, fir_bias, p, R, Dk, layout, heads):
    """short conv (F.conv1d) -> split -> fftconv with modal_kernel -> x2 gate, in float32 ops."""
    K = fir_weight.shape[1]
    u = F.conv1d(z, fir_weight[:, None], fir_bias, padding=K - 1, groups=z.shape[1])[..., : z.shape[-1]]
    x2, x1, v = ref.gated_conv_split(u, layout, heads)
    h = modal_kernel(R, p, z.shape[-1])
    with serengeti.use_backend("cpu"):  # the reference side runs fftconv on the cpu backend
        return x2 * serengeti.fftconv((x1 * v).contiguous(), h, Dk)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("prompt", [1, 2, 3, 127])
def test_prefill_then_decode_equals_parallel(backend, layout, prompt):
    B, D, heads, steps = 2, 8, 2, 50
    fir_weight, fir_bias, p, R, Dk = _block(D=D, heads=heads, seed=prompt)
    z = torch.randn(B, 3 * D, prompt + steps)
    y_par = _parallel(z, fir_weight, fir_bias, p, R, Dk, layout, heads)
    y_ref = ref.gated_conv(z, fir_weight, fir_bias, R, p, Dk, layout, heads)
    torch.testing.assert_close(y_par.double(), y_ref, atol=1e-4, rtol=1e-4)
    y0, fir_state, iir_state = gated_conv_recurrence(z[..., :prompt], fir_weight, fir_bias, p, R, Dk,
                                                     layout=layout, heads=heads)
    outs = [y0]
    for t in range(prompt, prompt + steps):
        outs.append(gated_conv_step(z[..., t], fir_state, fir_weight, fir_bias, p, R, Dk, iir_state,
                                    layout=layout, heads=heads)[..., None])
    y = torch.cat(outs, -1)
    torch.testing.assert_close(y.double(), y_ref, atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_recurrence_in_pieces_and_dtypes(backend, dtype):
    B, D, heads, L = 1, 16, 4, 300
    fir_weight, fir_bias, p, R, Dk = _block(D=D, heads=heads, K=4)
    if dtype == torch.float64:
        p, R, Dk = p.to(torch.complex128), R.to(torch.complex128), Dk.double()
    z = torch.randn(B, 3 * D, L).to(dtype)
    y_ref = ref.gated_conv(z, fir_weight, fir_bias, R, p, Dk, "column_split", heads)
    y, fs, s = gated_conv_recurrence(z, fir_weight, fir_bias, p, R, Dk, heads=heads)
    assert y.dtype == dtype and fs.dtype == dtype and fs.shape == (B, 3 * D, 3)
    tol = {torch.float32: 1e-4, torch.bfloat16: 3e-2, torch.float64: 1e-10}[dtype]
    torch.testing.assert_close(y.double(), y_ref, atol=tol * (y_ref.abs().max().item() + 1), rtol=0)
    # the same prompt in two pieces (one shorter than the FIR history)
    ya, fa, sa = gated_conv_recurrence(z[..., :2], fir_weight, fir_bias, p, R, Dk, heads=heads)
    yb, fb, sb = gated_conv_recurrence(z[..., 2:], fir_weight, fir_bias, p, R, Dk, heads=heads,
                                       fir_state=fa, iir_state=sa)
    torch.testing.assert_close(torch.cat([ya, yb], -1), y)
    torch.testing.assert_close(fb, fs)
    torch.testing.assert_close(sb, s)


def test_step_updates_states_in_place(backend):
    B, D = 3, 8
    fir_weight, fir_bias, p, R, Dk = _block(D=D)
    z = torch.randn(B, 3 * D)
    fir_state = torch.randn(B, 3 * D, 2)
    iir_state = torch.randn(B, D, 2, dtype=torch.complex64)
    f0, s0 = fir_state.clone(), iir_state.clone()
    y = gated_conv_step(z, fir_state, fir_weight, fir_bias, p, R, None, iir_state, layout="thirds")
    u = fir_bias + fir_weight[:, 2] * z + fir_weight[:, 0] * f0[..., 0] + fir_weight[:, 1] * f0[..., 1]
    x2, x1, v = u[:, :D], u[:, D : 2 * D], u[:, 2 * D :]
    w = x1 * v
    s = p * s0 + w[..., None]
    torch.testing.assert_close(iir_state, s)
    torch.testing.assert_close(fir_state, torch.stack([f0[..., 1], z], -1))
    torch.testing.assert_close(y, x2 * (R * s).real.sum(-1))


def test_large_step_matches_reference(backend):
    B, D, S = 1, 4096, 2
    fir_weight, fir_bias, p, R, Dk = _block(D=D, S=S, heads=32)
    z = torch.randn(B, 3 * D, 3)
    y_ref = ref.gated_conv(z, fir_weight, fir_bias, R, p, Dk, "column_split", 32)
    y0, fs, ss = gated_conv_recurrence(z[..., :2], fir_weight, fir_bias, p, R, Dk, heads=32)
    y1 = gated_conv_step(z[..., 2], fs, fir_weight, fir_bias, p, R, Dk, ss, heads=32)
    torch.testing.assert_close(y1.double(), y_ref[..., 2], atol=1e-4, rtol=1e-4)
