"""StripedHyena blocks and LM: the Hyena block against float64 naive math, and the LM's parallel,
prefill and decode paths against each other (every prefill style)."""
from __future__ import annotations


import pytest
import torch

from helpers import one_thread
from serengeti.models.striped_hyena import StripedHyenaConfig, StripedHyenaLM, build, transformer_like
from serengeti.nn.striped_hyena import ParallelGatedConvBlock

STYLES = ("fft", "scan", "recurrence")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny shapes: one thread each for torch and the kernels (thread hand-offs would dominate,
    and the test machine's cores are shared)."""
    with one_thread(kernels=True):
        yield


# ----------------------------------------------------------------------------------------------
# The Hyena block against naive float64 math written out here
# ----------------------------------------------------------------------------------------------

def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Non-trivial values for the parameters the default init leaves at 1 (norm scales)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("scale"):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))


def _naive_filter(P: dict, z: torch.Tensor, layout: str, heads: int) -> torch.Tensor:
    """The gated conv of MODELS.md in float64 with explicit loops: z (B, L, 3d) -> y (B, L, d).

    ``P`` holds the filter's parameters (float64) under their checkpoint names.
    """
    B, L, d3 = z.shape
    d = d3 // 3
    # short FIR (taps w[c, 0, k], k = K-1 meets the current input), bias after the conv
    w_fir = P["short_filter_weight"]
    K = w_fir.shape[-1]
    zf = torch.zeros_like(z)
    for t in range(L):
        for j in range(K):  # input t - j meets tap K-1-j
            if t - j >= 0:
                zf[:, t] += w_fir[:, 0, K - 1 - j] * z[:, t - j]
    if "short_filter_bias" in P:
        zf += P["short_filter_bias"]
    # split
    x2, x1, v = (torch.zeros(B, L, d, dtype=torch.float64) for _ in range(3))
    if layout == "column_split":
        dh = d // heads
        for hd in range(heads):
            base = hd * 3 * dh
            x2[..., hd * dh:(hd + 1) * dh] = zf[..., base:base + dh]
            x1[..., hd * dh:(hd + 1) * dh] = zf[..., base + dh:base + 2 * dh]
            v[..., hd * dh:(hd + 1) * dh] = zf[..., base + 2 * dh:base + 3 * dh]
    else:
        x2, x1, v = zf[..., :d], zf[..., d:2 * d], zf[..., 2 * d:]
    # w = x1 v; h[t] = Re sum_n R_n p_n^t; y = x2 (h (*) w + D w)
    p = torch.view_as_complex(P["poles"][:, :, 0].contiguous())  # (d, S)
    R = torch.view_as_complex(P["residues"][:, :, 0].contiguous())
    h = torch.stack([(R * p ** t).real.sum(-1) for t in range(L)], -1)  # (d, L)
    w = x1 * v
    conv = torch.zeros_like(w)
    for t in range(L):
        for s in range(t + 1):
            conv[:, t] += h[:, s] * w[:, t - s]
    return x2 * (conv + P["D"] * w)


def _naive_block(block: ParallelGatedConvBlock, u: torch.Tensor) -> torch.Tensor:
    """The Hyena block of MODELS.md in float64, from the block's parameters: u (B, L, d) -> (B, L, d)."""
    P = {k: v.detach().double() for k, v in block.state_dict().items()}
    u = u.double()
    eps = block.pre_norm.eps

    def rms(x, scale):
        return scale * x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps)

    z = rms(u, P["pre_norm.scale"]) @ P["projections.weight"].T + P["projections.bias"]  # (B, L, 3d)
    filt = {k[len("filter."):]: v for k, v in P.items() if k.startswith("filter.")}
    y = _naive_filter(filt, z, block.filter.layout, block.filter.heads)
    u = u + y @ P["out_filter_dense.weight"].T + P["out_filter_dense.bias"]
    x = rms(u, P["post_norm.scale"])
    a, b = x @ P["mlp.l1.weight"].T, x @ P["mlp.l2.weight"].T
    return u + (a * torch.sigmoid(a) * b) @ P["mlp.l3.weight"].T


@pytest.mark.parametrize("layout, state_size, bias", [("column_split", 2, True), ("thirds", 3, False)])
def test_gated_conv_filter_float64_matches_naive_math(layout, state_size, bias):
    """The filter alone in float64: every path to rounding (the long filter math follows float64)."""
    torch.manual_seed(0)
    d, L = 16, 45
    block = ParallelGatedConvBlock(d, 24, layout=layout, heads=4, state_size=state_size,
                                   short_filter_bias=bias, dtype=torch.float64)
    P = {k: v.detach().double() for k, v in block.filter.state_dict().items()}
    z = torch.randn(2, L, 3 * d, dtype=torch.float64)
    want = _naive_filter(P, z, layout, 4)
    with torch.no_grad():
        torch.testing.assert_close(block.filter(z), want, atol=1e-11, rtol=1e-11)
        for style in STYLES:
            y, cache = block.filter.prefill(z[:, :30], style=style)
            outs = [y] + [block.filter.step(z[:, t], cache)[:, None] for t in range(30, L)]
            torch.testing.assert_close(torch.cat(outs, 1), want, atol=1e-11, rtol=1e-11)


# float64 is limited by the shared RMSNorm, which computes in float32 whatever the input dtype.
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-6), (torch.float32, 1e-4), (torch.bfloat16, 4e-2)])
@pytest.mark.parametrize("layout, state_size, bias", [("column_split", 2, True), ("thirds", 3, False)])
def test_hyena_block_matches_naive_math(dtype, tol, layout, state_size, bias):
    torch.manual_seed(0)
    d, L = 16, 45
    block = ParallelGatedConvBlock(d, 24, layout=layout, heads=4, state_size=state_size,
                                   short_filter_bias=bias, dtype=dtype)
    _randomize(block, 1)
    assert block.filter.poles.dtype == torch.float32 and block.filter.residues.dtype == torch.float32
    u = torch.randn(2, L, d, dtype=torch.float64)
    want = _naive_block(block, u.to(dtype))
    scale = want.abs().max().item()
    assert (block(u.to(dtype)).double() - want).abs().max().item() <= tol * scale
    for style in STYLES:  # every prefill style gives the same outputs
        y, cache = block.prefill(u.to(dtype), style=style)
        assert (y.double() - want).abs().max().item() <= tol * scale, style
        assert cache.fir_state.dtype == dtype
        assert cache.iir_state.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)


def test_hyena_block_prefill_state_is_the_modal_state():
    """The cache after a prompt: last K-1 pre-FIR inputs (zero-padded) and s = sum_k p^(L-1-k) w_k."""
    torch.manual_seed(1)
    d = 8
    block = ParallelGatedConvBlock(d, 16, heads=2, dtype=torch.float64)
    for L in (1, 5):
        u = torch.randn(3, L, d, dtype=torch.float64)
        z = block.projections(block.pre_norm(u)).detach()  # (B, L, 3d)
        for style in STYLES:
            _, cache = block.prefill(u, style=style)
            want_fir = torch.zeros(3, 3 * d, 2, dtype=torch.float64)
            n = min(L, 2)
            want_fir[..., 2 - n:] = z[:, L - n:].transpose(1, 2)
            torch.testing.assert_close(cache.fir_state, want_fir, atol=1e-12, rtol=0)
            # w from the block's own split, then the state by its definition
            zf = block.filter._fir(z, False)
            _, x1, v = block.filter._split(zf)
            w = (x1 * v).to(torch.complex128)  # (B, d, L)
            p = block.filter.complex_poles().detach().to(torch.complex128)
            s = sum(p[None] ** (L - 1 - k) * w[:, :, k, None] for k in range(L))
            torch.testing.assert_close(cache.iir_state, s, atol=1e-12, rtol=1e-12)


def test_block_argument_errors():
    block = ParallelGatedConvBlock(8, 16, heads=2)
    with pytest.raises(ValueError, match="prefill_style"):
        block.prefill(torch.randn(1, 4, 8), style="chunked")
    with pytest.raises(ValueError, match="h"):
        block(torch.randn(1, 4, 7))
    with pytest.raises(TypeError, match="cache"):
        block.step(torch.randn(1, 8), object())
    with pytest.raises(ValueError, match="heads"):
        ParallelGatedConvBlock(8, 16, heads=3)
    with pytest.raises(ValueError, match="layout"):
        ParallelGatedConvBlock(8, 16, layout="interleave")


# ----------------------------------------------------------------------------------------------
# The LM: parallel == prefill + step, styles agree, batch invariance, causality, cache size
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = StripedHyenaLM(StripedHyenaConfig.tiny()).eval()
    _randomize(model, 2)
    return model


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> bool:
    return (a.double() - b.double()).abs().max().item() <= tol * (1 + b.abs().max().item())


@pytest.mark.parametrize("prompt", [1, 2, 3, 127, 1000])
def test_forward_equals_prefill_then_steps(tiny, prompt):
    steps = 3
    g = torch.Generator().manual_seed(prompt)
    ids = torch.randint(0, tiny.vocab_size, (2, prompt + steps), generator=g)
    with torch.no_grad():
        full = tiny(ids)
    caches = {}
    for style in tiny.prefill_styles:
        logits, cache = tiny.prefill(ids[:, :prompt], prefill_style=style)
        assert cache.position == prompt
        assert _close(logits, full[:, prompt - 1], 1e-5), style
        for t in range(prompt, prompt + steps):
            assert _close(tiny.step(ids[:, t], cache), full[:, t], 1e-5), (style, t)
        caches[style] = cache
    # the styles build the same Hyena states (after the same steps)
    for i, block in enumerate(tiny.blocks):
        if isinstance(block, ParallelGatedConvBlock):
            ref = caches["fft"].layers[i]
            for style in ("scan", "recurrence"):
                c = caches[style].layers[i]
                torch.testing.assert_close(c.fir_state, ref.fir_state, atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(c.iir_state, ref.iir_state, atol=1e-4, rtol=1e-4)


def test_default_prefill_style_follows_config():
    cfg = StripedHyenaConfig.tiny(prefill_style="recurrence")
    model = StripedHyenaLM(cfg)
    assert model.blocks[0].prefill_styles[0] == "recurrence"
    assert set(model.prefill_styles) == {"fft", "scan", "recurrence", "parallel"}


def test_batch_invariance(tiny):
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(0, tiny.vocab_size, (3, 40), generator=g)
    with torch.no_grad():
        full = tiny(ids)
        for b in range(3):
            assert _close(tiny(ids[b:b + 1])[0], full[b], 1e-5)
    for style in STYLES:
        logits, cache = tiny.prefill(ids[:, :30], prefill_style=style)
        steps = [tiny.step(ids[:, t], cache) for t in range(30, 40)]
        for b in range(3):
            lb, cb = tiny.prefill(ids[b:b + 1, :30], prefill_style=style)
            assert _close(lb[0], logits[b], 1e-5)
            for t in range(30, 40):
                assert _close(tiny.step(ids[b:b + 1, t], cb)[0], steps[t - 30][b], 1e-5)


def test_causality(tiny):
    g = torch.Generator().manual_seed(6)
    ids = torch.randint(0, tiny.vocab_size, (1, 64), generator=g)
    changed = ids.clone()
    changed[0, 40] = (ids[0, 40] + 1) % tiny.vocab_size
    with torch.no_grad():
        a, b = tiny(ids), tiny(changed)
    assert _close(b[:, :40], a[:, :40], 1e-6)
    assert (b[:, 40:] - a[:, 40:]).abs().amax(-1).min().item() > 1e-4  # every later position moves


def test_hyena_caches_do_not_grow(tiny):
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, tiny.vocab_size, (2, 1000), generator=g)
    cfg = tiny.config
    d, S, K = cfg.hidden_size, cfg.state_size, cfg.short_filter_length
    hyena = [i for i, blk in enumerate(tiny.blocks) if isinstance(blk, ParallelGatedConvBlock)]
    for style in STYLES:
        _, cache = tiny.prefill(ids, prefill_style=style)
        sizes = [cache.layers[i].nbytes() for i in hyena]
        assert sizes == [2 * 3 * d * (K - 1) * 4 + 2 * d * S * 8] * len(hyena)
        attn_before = cache.nbytes() - sum(sizes)
        for t in range(50):
            tiny.step(ids[:, t], cache)
            assert [cache.layers[i].nbytes() for i in hyena] == sizes
        assert cache.nbytes() - sum(sizes) > attn_before  # the KV caches did grow


def test_bf16_model_keeps_poles_float32_and_tracks_float32(tiny):
    cfg = tiny.config
    model = build(cfg, torch.bfloat16, None)
    model.load_state_dict(tiny.state_dict())
    for name, t in model.state_dict().items():
        if name.endswith(("filter.poles", "filter.residues", "rotary_emb.inv_freq")):
            assert t.dtype == torch.float32, name
        else:
            assert t.dtype == torch.bfloat16, name
    # a module-wide cast keeps them float32 too (and exact)
    cast = build(cfg, None, None)
    cast.load_state_dict(tiny.state_dict())
    cast.to(torch.bfloat16)
    for name, t in cast.state_dict().items():
        if name.endswith(("filter.poles", "filter.residues")):
            assert t.dtype == torch.float32 and torch.equal(t, tiny.state_dict()[name]), name
        elif not name.endswith("inv_freq"):
            assert t.dtype == torch.bfloat16, name
    g = torch.Generator().manual_seed(8)
    ids = torch.randint(0, cfg.vocab_size, (2, 70), generator=g)
    with torch.no_grad():
        want = tiny(ids)
        got = model(ids)
    assert got.dtype == torch.bfloat16
    rel = (got.double() - want.double()).norm() / want.double().norm()
    assert rel < 0.05
    for style in STYLES:
        logits, cache = model.prefill(ids[:, :60], prefill_style=style)
        assert _close(logits, got[:, 59], 0.05)
        for t in range(60, 70):
            assert _close(model.step(ids[:, t], cache), got[:, t], 0.05)


def test_transformer_like_and_thirds_layout():
    torch.manual_seed(3)
    for cfg in (transformer_like(StripedHyenaConfig.tiny()),
                StripedHyenaConfig.tiny(column_split_hyena=False, attn_layer_idxs=(2,), tie_embeddings=True)):
        model = StripedHyenaLM(cfg).eval()
        if cfg.tie_embeddings:
            assert model.unembed.weight is model.embedding_layer.weight
        else:
            assert all(not isinstance(b, ParallelGatedConvBlock) for b in model.blocks)
        ids = torch.randint(0, cfg.vocab_size, (2, 20))
        with torch.no_grad():
            full = model(ids)
        logits, cache = model.prefill(ids[:, :15])
        assert _close(logits, full[:, 14], 1e-5)
        for t in range(15, 20):
            assert _close(model.step(ids[:, t], cache), full[:, t], 1e-5)

