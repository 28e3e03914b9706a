"""HyenaOperator / HyenaFilter: forward against a float64 naive implementation written from safari's
math, exact decoding (prefill + step == forward, the l_max limit), distilled decoding, dtypes, keys.

Tolerances: float32 layers against float64 references agree to rel 1e-5 (a handful of float32
roundings per output, FFT convolution error ~1e-7 * log2 N); decoding paths against the parallel
path to 1e-5 absolute on O(1) outputs (different float32 summation orders).
"""
from __future__ import annotations

import math

import pytest
import torch

from serengeti import reference
from serengeti.nn.hyena import HyenaCache, HyenaModalCache, HyenaOperator

D, L_MAX = 16, 64


def _layer(order: int = 2, modulate: bool = True, seed: int = 0, **kw) -> HyenaOperator:
    torch.manual_seed(seed)
    return HyenaOperator(D, L_MAX, order=order, filter_order=8, emb_dim=5, modulate=modulate, **kw)


def _naive_filter(m: HyenaOperator, L: int) -> torch.Tensor:
    """safari's HyenaFilter.filter in float64, then its rearrange 'c l (v o) -> c o v l'[0]:
    returns (order-1, d, L)."""
    f = m.filter_fn
    z = f.pos_emb.z[0, :L].double()                                   # (L, emb)
    layers = list(f.implicit_filter)
    h = z
    for layer in layers:
        if isinstance(layer, torch.nn.Linear):
            h = h @ layer.weight.double().T
            if layer.bias is not None:
                h = h + layer.bias.double()
        else:
            h = torch.sin(layer.freq.double() * h)
    if f.normalized:
        h = h / h.abs().sum(-1, keepdim=True)
    if f.modulation.modulate:
        t = f.pos_emb.t[0, :L].double()                              # (L, 1)
        h = h * (torch.exp(-t * f.modulation.deltas[0].double().abs()) + f.modulation.shift)
    o = m.order - 1
    return h.reshape(L, D, o).permute(2, 1, 0)                        # [o, v, l] = h[l, v*o_n + o]


def _naive_bias(m: HyenaOperator) -> torch.Tensor:
    o = m.order - 1
    b = m.filter_fn.bias.double().reshape(D, o).T                     # '(v o) -> o v'
    return b if m.filter_fn.use_bias else torch.zeros_like(b)


def _causal(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """y[b, c, t] = sum_{s<=t} h[c, s] w[b, c, t-s] as an explicit lower-triangular Toeplitz sum."""
    L = w.shape[-1]
    t = torch.arange(L)
    lag = t[:, None] - t[None, :]                                     # [t, s'] = t - s'
    T = torch.where(lag >= 0, h[:, lag.clamp(min=0)], torch.zeros((), dtype=h.dtype))  # (C, L, L)
    return torch.einsum("cts,bcs->bct", T, w)


def naive_hyena(m: HyenaOperator, x: torch.Tensor, h: torch.Tensor = None) -> torch.Tensor:
    """The operator in float64 from safari's forward (x (B, L, d)); h (order-1, d, L) overrides the filter."""
    B, L, _ = x.shape
    x = x.double()
    z = x @ m.in_proj.weight.double().T + m.in_proj.bias.double()    # (B, L, (N+1)d)
    z = z.transpose(1, 2)
    K = m.short_filter_order
    wt = m.short_filter.weight.double()[:, 0, :]                      # (C, K), cross-correlation
    zp = torch.nn.functional.pad(z, (K - 1, 0))
    uc = m.short_filter.bias.double()[None, :, None] + sum(wt[None, :, j, None] * zp[:, :, j:j + L] for j in range(K))
    chunks = uc.split(D, dim=1)
    xs, v = chunks[:-1], chunks[-1]
    k = _naive_filter(m, L) if h is None else h.double()
    bias = _naive_bias(m)
    for o, x_i in enumerate(reversed(xs[1:])):
        w = v * x_i
        v = _causal(k[o], w) + bias[o][None, :, None] * w
    y = (v * xs[0]).transpose(1, 2)
    return y @ m.out_proj.weight.double().T + m.out_proj.bias.double()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm())


# ----------------------------------------------------------------------------------------------
# Parameters, keys, forward
# ----------------------------------------------------------------------------------------------

def test_keys_and_shapes_are_safaris():
    m = _layer(order=2)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    F_, E = 8, 5
    want = {
        "in_proj.weight": (3 * D, D), "in_proj.bias": (3 * D,), "out_proj.weight": (D, D), "out_proj.bias": (D,),
        "short_filter.weight": (3 * D, 1, 3), "short_filter.bias": (3 * D,),
        "filter_fn.bias": (D,), "filter_fn.pos_emb.z": (1, L_MAX, E), "filter_fn.pos_emb.t": (1, L_MAX, 1),
        "filter_fn.implicit_filter.0.weight": (F_, E), "filter_fn.implicit_filter.0.bias": (F_,),
        "filter_fn.implicit_filter.1.freq": (1, F_),
        "filter_fn.implicit_filter.2.weight": (F_, F_), "filter_fn.implicit_filter.2.bias": (F_,),
        "filter_fn.implicit_filter.3.freq": (1, F_),
        "filter_fn.implicit_filter.4.weight": (F_, F_), "filter_fn.implicit_filter.4.bias": (F_,),
        "filter_fn.implicit_filter.5.freq": (1, F_),
        "filter_fn.implicit_filter.6.weight": (D, F_), "filter_fn.modulation.deltas": (1, 1, D),
    }
    assert shapes == want
    sin = m.filter_fn.implicit_filter
    assert sin[1].freq is sin[3].freq is sin[5].freq  # one shared frequency tensor
    # order 3: (N+1)d projections, (N-1)d filter channels
    m3 = _layer(order=3)
    assert tuple(m3.in_proj.weight.shape) == (4 * D, D)
    assert tuple(m3.filter_fn.implicit_filter[6].weight.shape) == (2 * D, 8)


def test_positional_features_and_modulation_init():
    m = _layer()
    z, t = m.filter_fn.pos_emb.z[0].double(), m.filter_fn.pos_emb.t[0, :, 0].double()
    j = torch.arange(L_MAX, dtype=torch.float64)
    assert torch.allclose(t, j / (L_MAX - 1), atol=1e-7)
    bands = 2
    f = torch.linspace(1e-4, bands - 1, bands, dtype=torch.float64)
    w = 2 * math.pi * j / L_MAX
    want = torch.cat([t[:, None], torch.cos(f[None] * w[:, None]), -torch.sin(f[None] * w[:, None])], dim=1)
    assert torch.allclose(z, want, atol=1e-6)
    deltas = m.filter_fn.modulation.deltas[0, 0].double()
    assert math.isclose(float(deltas[0]), math.log(1e-2) / 1.5, rel_tol=1e-6)
    assert math.isclose(float(deltas[-1]), math.log(1e-2) / 0.3, rel_tol=1e-6)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("modulate", [True, False])
def test_forward_matches_naive(order, modulate):
    m = _layer(order=order, modulate=modulate)
    x = torch.randn(2, 37, D)
    y = m(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert _rel(y, naive_hyena(m, x)) < 1e-5


def test_forward_options_normalized_no_bias_and_full_length():
    m = _layer(order=2, normalized=True, filter_bias=False, modulation_shift=0.25)
    x = torch.randn(1, L_MAX, D)
    assert _rel(m(x), naive_hyena(m, x)) < 1e-5


def test_forward_float64_matches_naive_tightly():
    m = _layer(order=3, dtype=torch.float64)
    assert m.filter_fn.bias.dtype == torch.float64
    x = torch.randn(2, 20, D, dtype=torch.float64)
    assert _rel(m(x), naive_hyena(m, x)) < 1e-11


def test_bf16_layer_keeps_float32_filter():
    m32 = _layer(order=2)
    mbf = _layer(order=2, dtype=torch.bfloat16)
    mbf.load_state_dict(m32.state_dict())
    for name, p in list(mbf.named_parameters()) + list(mbf.named_buffers()):
        want = torch.float32 if name.startswith("filter_fn.") else torch.bfloat16
        assert p.dtype == want, name
    x = torch.randn(2, 30, D)
    y = mbf(x.bfloat16())
    assert y.dtype == torch.bfloat16
    assert _rel(y, m32(x)) < 0.05   # bf16 activations: ~2^-8 per rounding, a few roundings deep


def test_gradients_reach_every_parameter():
    m = _layer(order=3)
    x = torch.randn(2, 12, D, requires_grad=True)
    m(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_forward_rejects_sequences_longer_than_l_max():
    m = _layer()
    with pytest.raises(ValueError, match="l_max"):
        m(torch.randn(1, L_MAX + 1, D))
    with pytest.raises(ValueError, match="x"):
        m(torch.randn(1, 5, D + 1))


def test_constructor_validation():
    with pytest.raises(ValueError, match="order"):
        HyenaOperator(D, L_MAX, order=1)
    with pytest.raises(ValueError, match="emb_dim"):
        HyenaOperator(D, L_MAX, emb_dim=4)
    with pytest.raises(ValueError, match="short_filter_order"):
        HyenaOperator(D, L_MAX, short_filter_order=200)


def test_torch_compile_forward():
    m = _layer(order=2)
    x = torch.randn(2, 24, D)
    compiled = torch.compile(m, fullgraph=True)
    torch.testing.assert_close(compiled(x), m(x), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# Exact decoding
# ----------------------------------------------------------------------------------------------

def _decode(m: HyenaOperator, x: torch.Tensor, n: int, style=None):
    """prefill x[:, :n], then step through the rest; returns (B, L, d) and the cache."""
    y, cache = m.prefill(x[:, :n], style=style)
    steps = [m.step(x[:, t], cache) for t in range(n, x.shape[1])]
    return torch.cat([y] + [s[:, None] for s in steps], dim=1), cache


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("prompt", [1, 2, 3, 33])
def test_exact_prefill_step_equals_forward(order, prompt):
    m = _layer(order=order)
    x = torch.randn(2, 45, D)
    got, cache = _decode(m, x, prompt)
    assert isinstance(cache, HyenaCache) and cache.length == 45
    torch.testing.assert_close(got, m(x), rtol=0, atol=1e-5)


def test_exact_decoding_to_l_max_then_clear_error():
    m = _layer(order=2)
    x = torch.randn(1, L_MAX, D)
    got, cache = _decode(m, x, L_MAX - 20)     # history grows geometrically on the way
    torch.testing.assert_close(got, m(x), rtol=0, atol=1e-5)
    state = cache.conv_state.clone()
    with pytest.raises(ValueError, match=r"position 64.*l_max=64.*distill"):
        m.step(torch.randn(1, D), cache)
    assert torch.equal(cache.conv_state, state) and cache.length == L_MAX   # nothing advanced


def test_exact_history_capacity_grows_geometrically():
    m = _layer(order=2)
    _, cache = m.prefill(torch.randn(1, 4, D))
    caps = []
    for _ in range(40):
        m.step(torch.randn(1, D), cache)
        caps.append(cache.history.buffer.shape[-1])
    reallocations = sum(1 for a, b in zip(caps, caps[1:]) if a != b)
    assert reallocations <= 3 and caps[-1] >= 44


def test_step_argument_checks():
    m = _layer()
    _, cache = m.prefill(torch.randn(2, 5, D))
    with pytest.raises(ValueError, match="batch size"):
        m.step(torch.randn(3, D), cache)
    with pytest.raises(TypeError, match="cache"):
        m.step(torch.randn(2, D), object())
    with pytest.raises(ValueError, match="prefill_style"):
        m.prefill(torch.randn(2, 5, D), style="scan")   # only after distillation


# ----------------------------------------------------------------------------------------------
# Distilled decoding
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", [2, 3])
def test_distilled_forward_uses_the_modal_filter(order):
    m = _layer(order=order)
    report = m.distill(8)
    assert m.is_distilled and m.prefill_styles == ("fft", "scan")
    assert report.rel_error.shape == (order - 1, D) and report.num_modes == 8
    x = torch.randn(2, 40, D)
    exact = m(x)
    assert _rel(exact, naive_hyena(m, x)) < 1e-5       # forward stays exact by default
    m.use_distilled_in_forward = True
    R = torch.view_as_complex(m.distilled_residues.contiguous())
    p = torch.view_as_complex(m.distilled_poles.contiguous())
    h = reference.modal_kernel(R.reshape(-1, 8), p.reshape(-1, 8), 40).reshape(order - 1, D, 40)
    assert _rel(m(x), naive_hyena(m, x, h)) < 1e-5
    # the report's errors are those of this filter
    hx = _naive_filter(m, L_MAX)
    hm = reference.modal_kernel(R.reshape(-1, 8), p.reshape(-1, 8), L_MAX).reshape(order - 1, D, L_MAX)
    rel = ((hx - hm).norm(dim=-1) / hx.norm(dim=-1)).detach()
    # the layer fits its float32 filter: the reports agree with this float64 recomputation to
    # float32 precision of h (~1e-6 relative), far below the errors being reported
    torch.testing.assert_close(report.rel_error.double(), rel, rtol=1e-3, atol=1e-5)
    assert math.isclose(report.max_rel_error, float(rel.max()), rel_tol=1e-3, abs_tol=1e-5)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("style", ["fft", "scan"])
def test_distilled_prefill_step_equals_distilled_forward_past_l_max(order, style):
    m = _layer(order=order)
    m.distill(8, use_in_forward=True)
    x = torch.randn(2, L_MAX + 20, D)                  # the modal filter is defined at every t
    got, cache = _decode(m, x, 30, style=style)
    assert isinstance(cache, HyenaModalCache) and cache.length == L_MAX + 20
    torch.testing.assert_close(got, m(x), rtol=0, atol=2e-5)


@pytest.mark.parametrize("order", [2, 3])
def test_float64_decoding_is_exact_to_rounding(order):
    m = _layer(order=order, dtype=torch.float64)
    x = torch.randn(2, 40, D, dtype=torch.float64)
    got, _ = _decode(m, x[:, :L_MAX // 2], 5)
    torch.testing.assert_close(got, m(x[:, :L_MAX // 2]), rtol=0, atol=1e-12)
    m.distill(4, use_in_forward=True)
    for style in ("fft", "scan"):
        got, cache = _decode(m, x, 5, style=style)
        assert cache.poles.dtype == torch.complex128
        torch.testing.assert_close(got, m(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("prompt", [1, 2])
def test_distilled_short_prompts(prompt):
    m = _layer(order=2)
    m.distill(4, use_in_forward=True)
    x = torch.randn(1, 10, D)
    for style in ("fft", "scan"):
        got, _ = _decode(m, x, prompt, style=style)
        torch.testing.assert_close(got, m(x), rtol=0, atol=1e-5)


def test_distillation_is_not_in_the_state_dict_and_clears():
    m = _layer()
    keys = set(m.state_dict())
    m.distill(4, use_in_forward=True)
    assert set(m.state_dict()) == keys
    m.clear_distillation()
    assert not m.is_distilled and not m.use_distilled_in_forward and m.prefill_styles == ("fft",)
    with pytest.raises(ValueError, match="distill"):
        m.distilled_filters(8)


def test_exact_cache_keeps_decoding_exactly_after_distill():
    """A cache follows the mode it was built in (it carries its own filter)."""
    m = _layer(order=2)
    x = torch.randn(1, 30, D)
    want = m(x)
    y, cache = m.prefill(x[:, :10])
    m.distill(4)
    steps = [m.step(x[:, t], cache) for t in range(10, 30)]
    torch.testing.assert_close(torch.stack(steps, 1), want[:, 10:], rtol=0, atol=1e-5)
