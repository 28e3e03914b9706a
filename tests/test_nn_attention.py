"""serengeti.nn.attention (Attention, KVCache) and serengeti.nn.rotary against a float64 naive
implementation written here: explicit rotary formula, explicit causal mask, loops over heads.

Tolerances (outputs are O(1): weights from nn.Linear's default init, inputs N(0, 1)):
- float32: atol = rtol = 1e-5. The layer does O(d + L) float32 multiply-adds per output
  (eps 6e-8 each), so errors are ~1e-6; 1e-5 leaves headroom yet catches any wrong index,
  mask, scale or rotary angle (those move outputs by >= 1e-2).
- bfloat16: relative RMS error <= 1e-2 against the naive math run on the same bf16-rounded
  weights and inputs (observed ~3e-3). bf16 has unit roundoff 3.9e-3 and the layer rounds a
  handful of times (projections, q/k/v, attention output, out_proj), so a small multiple of one
  roundoff is the expected error; a wrong mapping or scale gives O(1).
- Cached decoding vs forward: same tolerance as the dtype (the two paths use different kernels).
"""
from __future__ import annotations

import functools
import math

import pytest
import torch

from serengeti.nn.attention import Attention, KVCache
from serengeti.nn.base import LayerCache
from serengeti.nn.rotary import RotaryEmbedding, rotary_inv_freq

D_MODEL = 32

# (num_heads, num_kv_heads): MHA, GQA 2 query heads per kv head, GQA 4 per kv head (MQA), 1 head
HEADS = [(4, 4), (4, 2), (4, 1), (1, 1)]
HEAD_IDS = ["mha4", "gqa4-2", "gqa4-1", "mha1"]


def _rotary_dim(kind: str, head_dim: int) -> int:
    return {"none": 0, "partial": head_dim // 2, "full": head_dim}[kind]


def _make(num_heads: int, num_kv_heads: int, rotary: str = "none", bias: bool = True,
          dtype: torch.dtype = torch.float32, base: float = 10000.0, seed: int = 0) -> Attention:
    torch.manual_seed(seed)
    rd = _rotary_dim(rotary, D_MODEL // num_heads)
    return Attention(D_MODEL, num_heads, num_kv_heads, qkv_bias=bias, out_bias=bias, rotary_dim=rd,
                     rotary_base=base, dtype=dtype)


# -- the naive float64 implementation -----------------------------------------------------------

def naive_rotary(x: torch.Tensor, positions: list[int], rotary_dim: int, base: float) -> torch.Tensor:
    """x (L, e) float64: rotate-half on the first rotary_dim dims, explicit angles per (t, i)."""
    out = x.clone()
    half = rotary_dim // 2
    for t, pos in enumerate(positions):
        for i in range(half):
            theta = pos * base ** (-(2.0 * i) / rotary_dim)
            c, s = math.cos(theta), math.sin(theta)
            a, b = x[t, i].item(), x[t, half + i].item()
            out[t, i] = a * c - b * s
            out[t, half + i] = b * c + a * s
    return out


def naive_attention(attn: Attention, x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """x (B, L, d) -> y (B, L, d) in float64 from attn's weights."""
    H, G, e, rd = attn.num_heads, attn.num_kv_heads, attn.head_dim, attn.rotary_dim
    W = attn.Wqkv.weight.detach().double()
    zeros = functools.partial(torch.zeros, dtype=torch.float64)
    b = attn.Wqkv.bias.detach().double() if attn.Wqkv.bias is not None else zeros(W.shape[0])
    Wo = attn.out_proj.weight.detach().double()
    bo = attn.out_proj.bias.detach().double() if attn.out_proj.bias is not None else zeros(D_MODEL)
    x = x.detach().double()
    B, L, _ = x.shape
    qkv = x @ W.T + b
    q = qkv[..., : H * e].reshape(B, L, H, e)
    k = qkv[..., H * e : (H + G) * e].reshape(B, L, G, e)
    v = qkv[..., (H + G) * e :].reshape(B, L, G, e)
    mask = torch.ones(L, L, dtype=torch.bool).tril()  # mask[t, s]: s <= t
    out = torch.zeros(B, L, H * e, dtype=torch.float64)
    for bi in range(B):
        for h in range(H):
            g = h // (H // G)
            qh, kg = q[bi, :, h], k[bi, :, g]
            if rd:
                qh = naive_rotary(qh, list(range(L)), rd, base)
                kg = naive_rotary(kg, list(range(L)), rd, base)
            scores = torch.einsum("te,se->ts", qh, kg) / math.sqrt(e)
            scores = scores.masked_fill(~mask, float("-inf"))
            out[bi, :, h * e : (h + 1) * e] = torch.softmax(scores, dim=-1) @ v[bi, :, g]
    return out @ Wo.T + bo


def _rel_rms(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return ((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt()).item()


def _decode(attn: Attention, x: torch.Tensor, prompt_len: int) -> tuple[torch.Tensor, KVCache]:
    """prefill x[:, :prompt_len], then step through the rest; returns (y (B, L, d), cache)."""
    y0, cache = attn.prefill(x[:, :prompt_len])
    ys = [y0] + [attn.step(x[:, t], cache)[:, None] for t in range(prompt_len, x.shape[1])]
    return torch.cat(ys, dim=1), cache


# -- forward ------------------------------------------------------------------------------------

@pytest.mark.parametrize("heads", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("rotary", ["none", "partial", "full"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_forward_matches_naive(heads: tuple[int, int], rotary: str, bias: bool) -> None:
    attn = _make(*heads, rotary=rotary, bias=bias)
    torch.manual_seed(1)
    x = torch.randn(2, 9, D_MODEL)
    with torch.no_grad():
        y = attn(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    torch.testing.assert_close(y.double(), naive_attention(attn, x), atol=1e-5, rtol=1e-5)


def test_forward_rotary_base_is_used() -> None:
    attn = _make(4, 2, rotary="full", base=500000.0)
    torch.manual_seed(2)
    x = torch.randn(1, 6, D_MODEL)
    with torch.no_grad():
        y = attn(x)
    torch.testing.assert_close(y.double(), naive_attention(attn, x, base=500000.0), atol=1e-5, rtol=1e-5)
    # and the base matters: the 10000 answer is far from it
    assert (naive_attention(attn, x, base=10000.0) - y.double()).abs().max() > 1e-3


# -- decoding -----------------------------------------------------------------------------------

@pytest.mark.parametrize("heads,rotary", [((4, 4), "partial"), ((4, 2), "full"), ((4, 1), "none"), ((4, 1), "full")],
                         ids=["mha-partial", "gqa2-full", "gqa1-none", "gqa1-full"])
@pytest.mark.parametrize("prompt_len", [1, 2, 3, 17])
def test_prefill_then_steps_match_forward(heads: tuple[int, int], rotary: str, prompt_len: int) -> None:
    attn = _make(*heads, rotary=rotary)
    torch.manual_seed(3)
    total = prompt_len + 20  # every prompt length grows past its initial capacity (= prompt_len)
    x = torch.randn(2, total, D_MODEL)
    with torch.no_grad():
        y_full = attn(x)
        y_prefill, _ = attn.prefill(x[:, :prompt_len])
        y_dec, cache = _decode(attn, x, prompt_len)
    torch.testing.assert_close(y_prefill, y_full[:, :prompt_len], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y_dec, y_full, atol=1e-5, rtol=1e-5)
    assert cache.length == total and cache.capacity >= total


def test_cached_keys_are_rotated_keys() -> None:
    """The cache holds k after rotary at its absolute position (so steps never re-rotate)."""
    attn = _make(4, 2, rotary="partial")
    torch.manual_seed(4)
    x = torch.randn(1, 5, D_MODEL)
    with torch.no_grad():
        _, cache = _decode(attn, x, 2)
        kv = x.double() @ attn.Wqkv.weight.double().T + attn.Wqkv.bias.double()
    e, H, G = attn.head_dim, attn.num_heads, attn.num_kv_heads
    k = kv[0, :, H * e : (H + G) * e].reshape(5, G, e)
    v = kv[0, :, (H + G) * e :].reshape(5, G, e)
    for g in range(G):
        k_rot = naive_rotary(k[:, g], list(range(5)), attn.rotary_dim, 10000.0)
        torch.testing.assert_close(cache.keys()[0, g].double(), k_rot, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(cache.values()[0, g].double(), v[:, g], atol=1e-5, rtol=1e-5)


def test_kv_cache_grows_geometrically() -> None:
    attn = _make(4, 2, rotary="full")
    B, L0, steps = 2, 3, 30
    torch.manual_seed(5)
    x = torch.randn(B, L0 + steps, D_MODEL)
    per_position = 2 * B * attn.num_kv_heads * attn.head_dim * 4  # k and v, float32
    with torch.no_grad():
        _, cache = attn.prefill(x[:, :L0])
        assert cache.length == L0 and cache.capacity == L0
        assert cache.nbytes() == L0 * per_position
        reallocations = 0
        for n in range(1, steps + 1):
            before = cache.k.data_ptr()
            attn.step(x[:, L0 + n - 1], cache)
            reallocations += cache.k.data_ptr() != before
            expected_capacity = L0 * 2 ** math.ceil(math.log2((L0 + n) / L0))
            assert cache.length == L0 + n
            assert cache.capacity == expected_capacity, n
            assert cache.nbytes() == expected_capacity * per_position, n
    # 3 -> 6 -> 12 -> 24 -> 48: four reallocations for 30 appends (amortised O(1))
    assert reallocations == 4


def test_kv_cache_reserve_avoids_reallocation() -> None:
    attn = _make(4, 4)
    torch.manual_seed(6)
    x = torch.randn(1, 12, D_MODEL)
    with torch.no_grad():
        y_full = attn(x)
        y0, cache = attn.prefill(x[:, :2])
        cache.reserve(12)
        ptr = cache.k.data_ptr()
        ys = [y0] + [attn.step(x[:, t], cache)[:, None] for t in range(2, 12)]
    assert cache.capacity == 12 and cache.k.data_ptr() == ptr
    torch.testing.assert_close(torch.cat(ys, 1), y_full, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="^total_length:"):
        cache.reserve(0)


def test_kv_cache_is_a_layer_cache() -> None:
    attn = _make(4, 1)
    with torch.no_grad():
        _, cache = attn.prefill(torch.randn(2, 4, D_MODEL))
    assert isinstance(cache, LayerCache)
    assert cache.k.shape == (2, 1, 4, attn.head_dim) and cache.v.shape == cache.k.shape
    assert {id(t) for t in cache.tensors()} == {id(cache.k), id(cache.v)}
    # the cache owns its storage: nbytes() is what it keeps alive (no view into the qkv output)
    storage = cache.k.untyped_storage().nbytes() + cache.v.untyped_storage().nbytes()
    assert storage == cache.nbytes() == 2 * 2 * 1 * 4 * attn.head_dim * 4


# -- invariances --------------------------------------------------------------------------------

def test_batch_invariance() -> None:
    attn = _make(4, 2, rotary="partial")
    torch.manual_seed(7)
    x = torch.randn(3, 11, D_MODEL)
    with torch.no_grad():
        y = attn(x)
        y_dec, _ = _decode(attn, x, 4)
        for i in range(3):
            torch.testing.assert_close(attn(x[i : i + 1]), y[i : i + 1], atol=1e-6, rtol=1e-6)
            y_dec_i, _ = _decode(attn, x[i : i + 1], 4)
            torch.testing.assert_close(y_dec_i, y_dec[i : i + 1], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("t", [0, 5, 10])
def test_causality(t: int) -> None:
    attn = _make(4, 2, rotary="full")
    torch.manual_seed(8)
    x = torch.randn(2, 11, D_MODEL)
    x2 = x.clone()
    x2[:, t] += torch.randn(2, D_MODEL)
    with torch.no_grad():
        y, y2 = attn(x), attn(x2)
    torch.testing.assert_close(y2[:, :t], y[:, :t], atol=1e-6, rtol=0)
    assert (y2[:, t:] - y[:, t:]).abs().amax(dim=-1).min() > 1e-4  # every later output moves


# -- dtypes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("heads,rotary", [((4, 4), "partial"), ((4, 2), "full")], ids=["mha-partial", "gqa-full"])
def test_bfloat16(heads: tuple[int, int], rotary: str) -> None:
    attn = _make(*heads, rotary=rotary, dtype=torch.bfloat16)
    assert attn.Wqkv.weight.dtype == torch.bfloat16
    assert attn.rotary_dim == 0 or attn.rotary_emb.inv_freq.dtype == torch.float32
    torch.manual_seed(9)
    x = torch.randn(2, 13, D_MODEL).to(torch.bfloat16)
    with torch.no_grad():
        y = attn(x)
        y_dec, cache = _decode(attn, x, 5)
    assert y.dtype == torch.bfloat16 and y_dec.dtype == torch.bfloat16 and cache.k.dtype == torch.bfloat16
    ref = naive_attention(attn, x)  # float64 math on the bf16 weights and inputs
    assert _rel_rms(y, ref) <= 1e-2
    assert _rel_rms(y_dec, ref) <= 1e-2


# -- rotary -------------------------------------------------------------------------------------

def test_rotary_inv_freq_value() -> None:
    for dim, base in [(2, 10000.0), (8, 10000.0), (128, 500000.0)]:
        f = rotary_inv_freq(dim, base)
        expected = torch.tensor([base ** (-(2.0 * i) / dim) for i in range(dim // 2)], dtype=torch.float64)
        assert f.dtype == torch.float32 and f.shape == (dim // 2,)
        torch.testing.assert_close(f.double(), expected, rtol=1e-6, atol=0)


def test_rotary_matches_naive_with_positions_and_offset() -> None:
    rot = RotaryEmbedding(6, 10000.0)
    torch.manual_seed(10)
    x = torch.randn(2, 3, 4, 10)  # (B, heads, L, head_dim): dims 6..9 pass through
    positions = torch.tensor([0, 7, 1000, 20000])
    out = rot.rotate(x, positions)
    assert out.shape == x.shape and out.dtype == x.dtype
    torch.testing.assert_close(out[..., 6:], x[..., 6:], atol=0, rtol=0)
    for b in range(2):
        for h in range(3):
            ref = naive_rotary(x[b, h].double(), positions.tolist(), 6, 10000.0)
            # float32 angles: theta = t * f has relative error ~6e-8, i.e. ~1.2e-3 rad at t = 2e4
            torch.testing.assert_close(out[b, h].double(), ref, atol=5e-3, rtol=0)
            ref_small = naive_rotary(x[b, h].double(), [5, 6, 7, 8], 6, 10000.0)
            torch.testing.assert_close(rot.rotate(x, 5)[b, h].double(), ref_small, atol=1e-5, rtol=1e-5)
    # apply() is the same as rotate() for tensors
    torch.testing.assert_close(rot.apply(x, 5), rot.rotate(x, 5), atol=0, rtol=0)


def test_rotary_low_precision_inv_freq_is_recomputed_in_float32() -> None:
    """A module cast (model.to(bf16)) turns the buffer bf16; angles must still use float32
    frequencies (as flash-attn does), or long positions are off by whole radians."""
    rot = RotaryEmbedding(16, 10000.0)
    rot_bf16 = RotaryEmbedding(16, 10000.0).to(torch.bfloat16)
    assert rot_bf16.inv_freq.dtype == torch.bfloat16
    torch.manual_seed(11)
    x = torch.randn(1, 2, 3, 16)
    torch.testing.assert_close(rot_bf16.rotate(x, 30000), rot.rotate(x, 30000), atol=0, rtol=0)


def test_module_apply_still_recurses() -> None:
    """RotaryEmbedding.apply(tensor) rotates, but nn.Module.apply(fn) must keep working."""
    attn = _make(4, 2, rotary="full")
    seen = []
    attn.apply(lambda m: seen.append(type(m).__name__))
    assert seen.count("RotaryEmbedding") == 1 and seen.count("Linear") == 2 and seen[-1] == "Attention"


# -- state dict, meta device, compile -----------------------------------------------------------

def test_state_dict_keys() -> None:
    with_rot = _make(4, 2, rotary="partial", bias=True)
    assert list(with_rot.state_dict()) == ["Wqkv.weight", "Wqkv.bias", "out_proj.weight", "out_proj.bias",
                                           "rotary_emb.inv_freq"]
    assert with_rot.state_dict()["rotary_emb.inv_freq"].shape == (with_rot.head_dim // 4,)
    without = _make(4, 2, rotary="none", bias=False)
    assert list(without.state_dict()) == ["Wqkv.weight", "out_proj.weight"]
    assert with_rot.Wqkv.weight.shape == ((4 + 2 * 2) * 8, D_MODEL)
    assert with_rot.out_proj.weight.shape == (D_MODEL, D_MODEL)


def test_meta_construction_then_assign() -> None:
    """What the checkpoint loader does: build on meta, load_state_dict(assign=True)."""
    src = _make(4, 2, rotary="full", dtype=torch.bfloat16)
    meta = Attention(D_MODEL, 4, 2, rotary_dim=8, device="meta", dtype=torch.bfloat16)
    for name, t in meta.state_dict().items():
        assert t.device.type == "meta", name
        assert t.dtype == (torch.float32 if name.endswith("inv_freq") else torch.bfloat16), name
    meta.load_state_dict(src.state_dict(), assign=True)
    torch.manual_seed(12)
    x = torch.randn(1, 5, D_MODEL, dtype=torch.bfloat16)
    with torch.no_grad():
        torch.testing.assert_close(meta(x), src(x), atol=0, rtol=0)


@functools.lru_cache(maxsize=None)
def _compile_unusable_reason() -> str:
    """'' if torch.compile (inductor, CPU) works here, else why not. Probed on plain torch code so
    our own failures never skip."""
    try:
        fn = torch.compile(lambda x: torch.sin(x) * 2 + 1, fullgraph=True)
        x = torch.randn(8)
        torch.testing.assert_close(fn(x), torch.sin(x) * 2 + 1)
    except Exception as e:  # noqa: BLE001 - any failure means compile is unusable here
        return f"torch.compile unusable in this environment: {type(e).__name__}: {str(e)[:200]}"
    return ""


def test_compile_fullgraph_forward() -> None:
    reason = _compile_unusable_reason()
    if reason:
        pytest.skip(reason)
    torch._dynamo.reset()
    attn = _make(4, 2, rotary="partial")
    torch.manual_seed(13)
    x = torch.randn(2, 9, D_MODEL)
    with torch.no_grad():
        compiled = torch.compile(attn, fullgraph=True)(x)
        torch.testing.assert_close(compiled, attn(x), atol=1e-5, rtol=1e-5)


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,name", [
    (dict(d_model=0, num_heads=1), "d_model"),
    (dict(d_model=32.0, num_heads=4), "d_model"),
    (dict(d_model=32, num_heads=0), "num_heads"),
    (dict(d_model=32, num_heads=5), "num_heads"),
    (dict(d_model=32, num_heads=4, num_kv_heads=3), "num_kv_heads"),
    (dict(d_model=32, num_heads=4, num_kv_heads=0), "num_kv_heads"),
    (dict(d_model=32, num_heads=4, rotary_dim=3), "rotary_dim"),
    (dict(d_model=32, num_heads=4, rotary_dim=10), "rotary_dim"),
    (dict(d_model=32, num_heads=4, rotary_dim=-2), "rotary_dim"),
    (dict(d_model=32, num_heads=4, rotary_dim=8, rotary_base=0.5), "rotary_base"),
    (dict(d_model=32, num_heads=4, rotary_dim=8, rotary_base=float("inf")), "rotary_base"),
])
def test_constructor_errors_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}:"):
        Attention(**kwargs)


def test_bias_flag_type_error() -> None:
    with pytest.raises(TypeError, match="^qkv_bias:"):
        Attention(32, 4, qkv_bias="yes")
    with pytest.raises(TypeError, match="^out_bias:"):
        Attention(32, 4, out_bias=1)


def test_input_errors_name_the_argument() -> None:
    attn = _make(4, 2, rotary="full")
    with pytest.raises(ValueError, match="^x:"):
        attn(torch.randn(2, 5, D_MODEL + 1))
    with pytest.raises(ValueError, match="^x:"):
        attn(torch.randn(2, 0, D_MODEL))
    with pytest.raises(TypeError, match="^x:"):
        attn([[0.0] * D_MODEL])
    with pytest.raises(ValueError, match="^x:"):
        attn.prefill(torch.randn(5, D_MODEL))
    with pytest.raises(ValueError, match="^prefill_style:"):
        attn.prefill(torch.randn(1, 5, D_MODEL), style="fft")
    with torch.no_grad():
        _, cache = attn.prefill(torch.randn(2, 5, D_MODEL))
    with pytest.raises(ValueError, match="^x_t:"):
        attn.step(torch.randn(2, 1, D_MODEL), cache)
    with pytest.raises(ValueError, match="^cache: batch size"):
        attn.step(torch.randn(3, D_MODEL), cache)
    with pytest.raises(TypeError, match="^cache:"):
        attn.step(torch.randn(2, D_MODEL), (cache.k, cache.v))
    with pytest.raises(ValueError, match="^x_t:"):
        attn.step(torch.randn(2, D_MODEL, dtype=torch.float64), cache)
    other = _make(4, 1)
    with pytest.raises(ValueError, match="^cache:"):
        other.step(torch.randn(2, D_MODEL), cache)
    assert cache.length == 5  # failed steps leave the cache untouched


def test_rotary_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="^dim:"):
        RotaryEmbedding(3)
    with pytest.raises(ValueError, match="^base:"):
        RotaryEmbedding(4, base=1.0)
    with pytest.raises(ValueError, match="^dim:"):
        rotary_inv_freq(0)
    rot = RotaryEmbedding(8)
    with pytest.raises(ValueError, match="^x:"):
        rot.rotate(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="^positions:"):
        rot.rotate(torch.randn(2, 3, 8), torch.arange(4))
    with pytest.raises(ValueError, match="^positions:"):
        rot.rotate(torch.randn(2, 3, 8), torch.arange(3.0))
    with pytest.raises(ValueError, match="^positions:"):
        rot.rotate(torch.randn(2, 3, 8), -1)
    with pytest.raises(TypeError, match="^positions:"):
        rot.rotate(torch.randn(2, 3, 8), 1.5)
