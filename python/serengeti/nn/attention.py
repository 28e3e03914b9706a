"""Causal multi-head / grouped-query attention with a growing KV cache.

Math, for x (B, L, d), H query heads, G = num_kv_heads key/value heads, head_dim e = d / H:

    [Q; K; V] = Wqkv x          rows: Q (H*e), K (G*e), V (G*e), heads contiguous in each
    q_h, k_g = rotary(q_h, t), rotary(k_g, t)      (NeoX rotate-half on the first rotary_dim dims)
    o_h[t]   = sum_{s <= t} softmax_s(q_h[t] . k_{g(h)}[s] / sqrt(e)) v_{g(h)}[s],  g(h) = h // (H/G)
    y        = out_proj(concat_h o_h)

This is H3's attention layer (MHA, G = H, biases, optional partial rotary) and StripedHyena's
(GQA 32/8, full-head rotary, no biases). The parallel path is
``torch.nn.functional.scaled_dot_product_attention`` (or flash-attn's ``flash_attn_func`` for CUDA
fp16/bf16 inputs when the package is installed). Decoding keeps the rotated keys and the values in
a :class:`KVCache` whose capacity doubles when full.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from serengeti.nn.base import LayerCache, SequenceMixer, check_sequence_input, check_step_input
from serengeti.nn.rotary import RotaryEmbedding


@functools.lru_cache(maxsize=None)
def _flash_attn_func() -> Optional[Callable[..., Tensor]]:
    """flash_attn.flash_attn_func when the optional package imports, else None."""
    try:
        from flash_attn import flash_attn_func
    except (ImportError, OSError):  # not installed, or built against another torch / CUDA
        return None
    return flash_attn_func


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
    return value


@dataclasses.dataclass
class KVCache(LayerCache):
    """Keys (already rotated) and values of the positions seen so far.

    ``k``, ``v``: (B, num_kv_heads, capacity, head_dim) in the activation dtype; positions
    ``[0, length)`` are valid. When an append does not fit, the capacity doubles (repeatedly if
    needed), so appending one token is amortised O(1) copies; :meth:`nbytes` counts the allocated
    capacity.
    """

    k: Tensor
    v: Tensor
    length: int

    @property
    def capacity(self) -> int:
        return self.k.shape[2]

    @property
    def batch_size(self) -> int:
        return self.k.shape[0]

    def keys(self) -> Tensor:
        """The valid keys (B, num_kv_heads, length, head_dim) (a view)."""
        return self.k[:, :, : self.length]

    def values(self) -> Tensor:
        """The valid values (B, num_kv_heads, length, head_dim) (a view)."""
        return self.v[:, :, : self.length]

    def reserve(self, total_length: int) -> None:
        """Make room for ``total_length`` positions in one allocation (e.g. prompt + max new
        tokens), so later appends up to that length do not reallocate."""
        _check_positive_int(total_length, "total_length")
        if total_length > self.capacity:
            self._reallocate(total_length)

    def _reallocate(self, capacity: int) -> None:
        B, G, _, e = self.k.shape
        k = self.k.new_empty((B, G, capacity, e))
        v = self.v.new_empty((B, G, capacity, e))
        k[:, :, : self.length] = self.keys()
        v[:, :, : self.length] = self.values()
        self.k, self.v = k, v

    def append(self, k_new: Tensor, v_new: Tensor) -> None:
        """Append keys/values (B, num_kv_heads, T, head_dim) at positions [length, length + T)."""
        T = k_new.shape[2]
        needed = self.length + T
        if needed > self.capacity:
            capacity = max(self.capacity, 1)
            while capacity < needed:
                capacity *= 2
            self._reallocate(capacity)
        self.k[:, :, self.length : needed] = k_new
        self.v[:, :, self.length : needed] = v_new
        self.length = needed


class Attention(SequenceMixer):
    """Causal MHA / GQA with optional NeoX rotary (see the module docstring for the math).

    Args:
        d_model: model width d; must be divisible by ``num_heads``.
        num_heads: query heads H; head_dim = d_model // num_heads.
        num_kv_heads: key/value heads G (default H); must divide H. Query head h reads kv head
            h // (H / G).
        qkv_bias, out_bias: biases of ``Wqkv`` (d -> (H + 2G) * head_dim) and ``out_proj`` (d -> d).
        rotary_dim: 0 for no rotary, else an even width <= head_dim rotated in every head
            (submodule ``rotary_emb`` with the persistent float32 buffer ``inv_freq``).
        rotary_base: the rotary frequency base.
        device, dtype: of the linear layers (``inv_freq`` is always float32).
    """

    prefill_styles = ("parallel",)

    def __init__(self, d_model: int, num_heads: int, num_kv_heads: Optional[int] = None, *,
                 qkv_bias: bool = True, out_bias: bool = True, rotary_dim: int = 0,
                 rotary_base: float = 10000.0, device=None, dtype=None) -> None:
        super().__init__()
        _check_positive_int(d_model, "d_model")
        _check_positive_int(num_heads, "num_heads")
        if d_model % num_heads:
            raise ValueError(f"num_heads: must divide d_model={d_model}, got {num_heads}")
        if num_kv_heads is None:
            num_kv_heads = num_heads
        _check_positive_int(num_kv_heads, "num_kv_heads")
        if num_heads % num_kv_heads:
            raise ValueError(f"num_kv_heads: must divide num_heads={num_heads}, got {num_kv_heads}")
        for name, flag in (("qkv_bias", qkv_bias), ("out_bias", out_bias)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name}: expected a bool, got {type(flag).__name__}")
        head_dim = d_model // num_heads
        if (isinstance(rotary_dim, bool) or not isinstance(rotary_dim, int) or rotary_dim < 0
                or rotary_dim % 2 or rotary_dim > head_dim):
            raise ValueError(f"rotary_dim: expected 0 or an even int <= head_dim={head_dim}, got {rotary_dim!r}")
        if (isinstance(rotary_base, bool) or not isinstance(rotary_base, (int, float))
                or not math.isfinite(rotary_base) or rotary_base <= 1):
            raise ValueError(f"rotary_base: expected a finite number > 1, got {rotary_base!r}")

        self.d_model = d_model
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = head_dim
        self.rotary_dim = rotary_dim
        self.Wqkv = nn.Linear(d_model, (num_heads + 2 * num_kv_heads) * head_dim, bias=qkv_bias,
                              device=device, dtype=dtype)
        self.out_proj = nn.Linear(d_model, d_model, bias=out_bias, device=device, dtype=dtype)
        self.rotary_emb: Optional[RotaryEmbedding] = (
            RotaryEmbedding(rotary_dim, float(rotary_base), device=device) if rotary_dim > 0 else None)

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, num_heads={self.num_heads}, num_kv_heads={self.num_kv_heads}, "
                f"head_dim={self.head_dim}, rotary_dim={self.rotary_dim}")

    # -- pieces ----------------------------------------------------------------------------------

    def _project(self, x: Tensor, offset: int) -> Tuple[Tensor, Tensor, Tensor]:
        """x (B, L, d) -> q (B, H, L, e), k and v (B, G, L, e); q and k rotated for positions
        offset .. offset + L - 1."""
        B, L, _ = x.shape
        H, G, e = self.num_heads, self.num_kv_heads, self.head_dim
        qkv = self.Wqkv(x)
        q, k, v = torch.split(qkv, (H * e, G * e, G * e), dim=-1)
        q = q.view(B, L, H, e).transpose(1, 2)
        k = k.view(B, L, G, e).transpose(1, 2)
        v = v.view(B, L, G, e).transpose(1, 2)
        if self.rotary_emb is not None:
            q = self.rotary_emb.rotate(q, offset)
            k = self.rotary_emb.rotate(k, offset)
        return q, k, v

    def _causal_attention(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """q (B, H, L, e), k, v (B, G, L, e) -> o (B, L, H*e), causal."""
        B, H, L, e = q.shape
        flash = _flash_attn_func() if (q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and e <= 256) else None
        if flash is not None:  # flash-attn takes (B, L, heads, e) and handles GQA itself
            o = flash(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=True)
            return o.reshape(B, L, H * e)
        groups = H // self.num_kv_heads
        if groups > 1:  # query head h reads kv head h // groups
            k = k.repeat_interleave(groups, dim=1)
            v = v.repeat_interleave(groups, dim=1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return o.transpose(1, 2).reshape(B, L, H * e)

    # -- the three paths -------------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, d) -> y (B, L, d), causal."""
        check_sequence_input(x, self.d_model)
        q, k, v = self._project(x, 0)
        return self.out_proj(self._causal_attention(q, k, v))

    def _prefill(self, x: Tensor, style: str) -> Tuple[Tensor, KVCache]:
        """x (B, L, d) -> (forward(x), KVCache holding the L rotated keys and values, capacity L)."""
        check_sequence_input(x, self.d_model)
        q, k, v = self._project(x, 0)
        y = self.out_proj(self._causal_attention(q, k, v))
        # Own storage (not a view into the qkv projection, which would stay alive unreported).
        k = k.clone(memory_format=torch.contiguous_format)
        v = v.clone(memory_format=torch.contiguous_format)
        return y, KVCache(k=k, v=v, length=x.shape[1])

    def step(self, x_t: Tensor, cache: LayerCache) -> Tensor:
        """x_t (B, d) at position ``cache.length`` -> y_t (B, d); appends its key/value to ``cache``."""
        check_step_input(x_t, self.d_model)
        if not isinstance(cache, KVCache):
            raise TypeError(f"cache: expected a KVCache (from Attention.prefill), got {type(cache).__name__}")
        B = x_t.shape[0]
        G, e = self.num_kv_heads, self.head_dim
        if cache.batch_size != B:
            raise ValueError(f"cache: batch size {cache.batch_size} does not match x_t's batch size {B}")
        if cache.k.shape[1] != G or cache.k.shape[3] != e:
            raise ValueError(f"cache: expected {G} kv heads of head_dim {e}, got k of shape {tuple(cache.k.shape)}")
        if cache.k.dtype != x_t.dtype or cache.k.device != x_t.device:
            raise ValueError(f"x_t: dtype/device {x_t.dtype}/{x_t.device} differ from the cache's "
                             f"{cache.k.dtype}/{cache.k.device}")
        q, k, v = self._project(x_t[:, None, :], cache.length)  # q (B, H, 1, e); k, v (B, G, 1, e)
        cache.append(k, v)
        # Group the H/G query heads of each kv head as that head's "query rows": no causal mask
        # is needed (every cached position precedes the new token) and the cache is not repeated.
        o = F.scaled_dot_product_attention(q.reshape(B, G, -1, e), cache.keys(), cache.values())
        return self.out_proj(o.reshape(B, self.num_heads * e))
