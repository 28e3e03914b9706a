"""LongConv (safari's explicit long convolution) and ConvHistory: forward against a float64 naive
implementation, the kernel regularisation (smoothing, squash), exact decoding (also past l_max).

Tolerances: float32 layer vs float64 reference, rel 1e-5; decoding vs the parallel path, 1e-5
absolute on O(1) outputs.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from serengeti.nn.long_conv import ConvHistory, LongConv, LongConvCache

D, L_MAX = 8, 32


def _layer(**kw) -> LongConv:
    torch.manual_seed(0)
    kw.setdefault("lam", 0.0)
    m = LongConv(D, L_MAX, kernel_init_scale=0.3, **kw)
    return m


def _naive_kernel(m: LongConv) -> torch.Tensor:
    """smooth (explicit window average, zero padded, divided by w) then soft threshold, float64."""
    k = m.kernel.detach().double()
    if m.smooth_window is not None:
        w = m.smooth_window
        kp = F.pad(k, (w // 2, w // 2))
        k = sum(kp[..., j:j + k.shape[-1]] for j in range(w)) / w
    out = torch.zeros_like(k)
    big = k.abs() > m.lam
    out[big] = k[big] - m.lam * torch.sign(k[big])
    return out


def naive_long_conv(m: LongConv, x: torch.Tensor) -> torch.Tensor:
    B, L, _ = x.shape
    k = _naive_kernel(m)                                              # (C, d, l_max)
    u = x.double().transpose(1, 2)                                    # (B, d, L)
    ys = []
    for c in range(m.channels):
        y = torch.zeros(B, D, L, dtype=torch.float64)
        for t in range(L):
            for s in range(min(t + 1, m.l_max)):
                y[:, :, t] += k[c, :, s] * u[:, :, t - s]
        ys.append(y + m.D.double()[c][None, :, None] * u)
    y = torch.cat(ys, dim=1).transpose(1, 2)                          # (B, L, C*d), index c*d + h
    if m.activation == "gelu":
        y = F.gelu(y)
    y = y @ m.output_linear.weight.double().T + m.output_linear.bias.double()
    if m.postact == "glu":
        a, b = y.chunk(2, dim=-1)
        y = a * torch.sigmoid(b)
    return y


def _rel(a, b) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("channels,postact,activation", [(1, None, "gelu"), (2, None, "id"), (3, "glu", "gelu")])
def test_forward_matches_naive(channels, postact, activation):
    m = _layer(channels=channels, postact=postact, activation=activation)
    x = torch.randn(2, 20, D)
    y = m(x)
    assert y.shape == x.shape
    assert _rel(y, naive_long_conv(m, x)) < 1e-5


def test_sequences_longer_than_the_kernel():
    m = _layer(channels=2)
    x = torch.randn(1, L_MAX + 13, D)          # the kernel is zero past l_max taps
    assert _rel(m(x), naive_long_conv(m, x)) < 1e-5


@pytest.mark.parametrize("lam,window", [(0.2, None), (0.0, 5), (0.1, 3)])
def test_smoothing_and_squash(lam, window):
    m = _layer(channels=2, lam=lam, smooth_window=window)
    k = m.effective_kernel()
    torch.testing.assert_close(k.double(), _naive_kernel(m), rtol=1e-6, atol=1e-7)
    if lam > 0:
        assert bool((k == 0).any())             # the threshold zeroes the small taps
    x = torch.randn(2, 16, D)
    assert _rel(m(x), naive_long_conv(m, x)) < 1e-5


@pytest.mark.parametrize("prompt", [1, 2, 3, 20])
def test_prefill_step_equals_forward_past_l_max(prompt):
    m = _layer(channels=2, postact="glu", lam=0.05, smooth_window=3)
    x = torch.randn(2, 3 * L_MAX + 5, D)       # decoding slides the history past 2 * l_max
    y, cache = m.prefill(x[:, :prompt])
    assert isinstance(cache, LongConvCache)
    steps = [m.step(x[:, t], cache) for t in range(prompt, x.shape[1])]
    got = torch.cat([y] + [s[:, None] for s in steps], dim=1)
    torch.testing.assert_close(got, m(x), rtol=0, atol=1e-5)
    assert cache.history.buffer.shape[-1] <= 2 * L_MAX


def test_prefill_longer_than_l_max():
    m = _layer()
    x = torch.randn(1, L_MAX + 10, D)
    y, cache = m.prefill(x[:, : L_MAX + 4])
    steps = [m.step(x[:, t], cache) for t in range(L_MAX + 4, x.shape[1])]
    torch.testing.assert_close(torch.stack(steps, 1), m(x)[:, L_MAX + 4:], rtol=0, atol=1e-5)


def test_conv_history_window_and_memory():
    taps = 12
    w = torch.arange(3.0)[None]                                # positions 0, 1, 2 of one channel
    h = ConvHistory.from_prompt(w, taps)
    assert h.buffer.shape[-1] < 2 * taps       # room to grow, then to slide
    seen = [0.0, 1.0, 2.0]
    for t in range(3, 40):
        h.append(torch.tensor([float(t)]))
        seen.append(float(t))
        assert h.recent()[0].tolist() == seen[-taps:]          # the last `taps` inputs, oldest first
        assert h.buffer.shape[-1] <= 2 * taps
    assert h.length == 40


def test_parameter_dtypes_and_validation():
    m = LongConv(D, L_MAX, dtype=torch.bfloat16)
    assert m.kernel.dtype == torch.float32 and m.D.dtype == torch.float32
    assert m.output_linear.weight.dtype == torch.bfloat16
    y = m(torch.randn(1, 10, D, dtype=torch.bfloat16))
    assert y.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="smooth_window"):
        LongConv(D, L_MAX, smooth_window=4)
    with pytest.raises(ValueError, match="lam"):
        LongConv(D, L_MAX, lam=-1.0)
    with pytest.raises(ValueError, match="postact"):
        LongConv(D, L_MAX, postact="relu")
    with pytest.raises(ValueError, match="activation"):
        LongConv(D, L_MAX, activation="tanh")
