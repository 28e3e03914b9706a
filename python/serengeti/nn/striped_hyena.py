"""StripedHyena's two blocks: the gated-convolution (Hyena) block and the attention block.

Attribute names are the official ones, so the published checkpoints' keys load as they are
(``blocks.i.filter.poles``, ``blocks.i.inner_mha_cls.Wqkv.weight``, ...; see MODELS.md).

Hyena block, u (B, L, d) -> (B, L, d)::

    z        = projections(pre_norm(u))                        (B, L, 3d), Linear with bias
    z~       = short_filter_bias + short FIR (K = 3 taps, depthwise) of z, all 3d channels
    x2,x1,v  = split(z~)    "column_split": per head of d/heads channels, blocks [x2 | x1 | v]
                            "thirds":       [x2 | x1 | v] over all 3d channels
    w        = x1 * v
    y        = x2 * (h (*) w + D * w),      h[c, t] = Re sum_n R[c,n] p[c,n]^t   (S modes)
    u        = u + out_filter_dense(y)
    u        = u + mlp(post_norm(u))                            mlp = l3(silu(l1 x) * l2 x)

The long filter's math runs in float32 / complex64 (float64 / complex128 for a float64 model)
whatever the activation dtype; poles and residues are float32 parameters (d, S, 1, 2), last axis
(re, im). Decoding state per Hyena block: the last K-1 pre-FIR inputs (B, 3d, K-1) and the modal
state s (B, d, S) complex, ``s <- p s + w_t`` — a fixed size whatever the prompt length.

Attention block: ``u += inner_mha_cls(pre_norm u); u += mlp(post_norm u)`` with GQA and a
full-head NeoX rotary (:class:`serengeti.nn.attention.Attention`).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from serengeti.nn.attention import Attention
from serengeti.nn.base import LayerCache, SequenceMixer, check_sequence_input, check_step_input
from serengeti.nn.mlp import GatedMLP
from serengeti.nn.norms import RMSNorm
from serengeti.ops import (fftconv, gated_conv_recurrence, gated_conv_step, modal_kernel, modal_scan,
                           modal_state, short_conv)

HYENA_PREFILL_STYLES = ("fft", "scan", "recurrence")
HYENA_LAYOUTS = ("column_split", "thirds")


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
    return value


def _filter_dtype(act: torch.dtype) -> torch.dtype:
    """Real dtype of the long-filter math: float64 for a float64 model, float32 otherwise."""
    return torch.float64 if act == torch.float64 else torch.float32


def _as_complex(x: Tensor) -> Tensor:
    """(d, S, 1, 2) real pairs -> complex (d, S): a view for float32 / float64 storage."""
    x = x[:, :, 0]
    return torch.view_as_complex(x if x.dtype in (torch.float32, torch.float64) else x.float())


def _ordered_styles(default: Optional[str]) -> Tuple[str, ...]:
    """HYENA_PREFILL_STYLES with ``default`` first (the protocol's default is the first style)."""
    if default is None:
        return HYENA_PREFILL_STYLES
    if default not in HYENA_PREFILL_STYLES:
        raise ValueError(f"prefill_style: expected one of {list(HYENA_PREFILL_STYLES)}, got {default!r}")
    return (default,) + tuple(s for s in HYENA_PREFILL_STYLES if s != default)


@dataclasses.dataclass
class GatedConvCache(LayerCache):
    """Decoding state of one Hyena block (fixed size).

    fir_state: (B, 3d, K-1) the last K-1 pre-FIR inputs, oldest first, activation dtype.
    iir_state: (B, d, S) complex64 (complex128 for a float64 model), the modal state s.
    """

    fir_state: Tensor
    iir_state: Tensor


class GatedConvFilter(SequenceMixer):
    """StripedHyena's ``filter`` submodule: short FIR, split, modal long conv, gates.

    Input is the in-projection output z (B, L, 3d); output y (B, L, d) (see the module docstring).

    Parameters (official names): ``short_filter_weight`` (3d, 1, K), ``short_filter_bias`` (3d,)
    (absent when ``short_filter_bias=False``), ``D`` (d,), ``poles`` and ``residues``
    (d, S, 1, 2) float32 whatever ``dtype`` is.

    Args:
        d_model: d. state_size: S modes per channel. short_filter_length: K (<= 128).
        short_filter_bias: whether the FIR has a bias.
        layout: "column_split" (heads blocks [x2 | x1 | v]) or "thirds".
        heads: heads of the column split (must divide d); ignored by "thirds".
        prefill_style: the default prefill style (None: "fft").
        device, dtype: of every tensor except poles and residues (float32).
    """

    def __init__(self, d_model: int, *, state_size: int = 2, short_filter_length: int = 3,
                 short_filter_bias: bool = True, layout: str = "column_split", heads: int = 1,
                 prefill_style: Optional[str] = None, device=None, dtype=None) -> None:
        super().__init__()
        _positive_int(d_model, "d_model")
        _positive_int(state_size, "state_size")
        _positive_int(short_filter_length, "short_filter_length")
        if short_filter_length > 128:
            raise ValueError(f"short_filter_length: expected at most 128 taps, got {short_filter_length}")
        if not isinstance(short_filter_bias, bool):
            raise TypeError(f"short_filter_bias: expected a bool, got {type(short_filter_bias).__name__}")
        if layout not in HYENA_LAYOUTS:
            raise ValueError(f"layout: expected one of {list(HYENA_LAYOUTS)}, got {layout!r}")
        _positive_int(heads, "heads")
        if layout == "column_split" and d_model % heads:
            raise ValueError(f"heads: expected a divisor of d_model={d_model} for the column split, got {heads}")
        self.d_model = d_model
        self.state_size = state_size
        self.short_filter_length = short_filter_length
        self.layout = layout
        self.heads = heads if layout == "column_split" else 1
        self.prefill_styles = _ordered_styles(prefill_style)

        fk = {"device": device, "dtype": dtype}
        self.short_filter_weight = nn.Parameter(torch.empty(3 * d_model, 1, short_filter_length, **fk))
        if short_filter_bias:
            self.short_filter_bias = nn.Parameter(torch.empty(3 * d_model, **fk))
        else:
            self.register_parameter("short_filter_bias", None)
        self.D = nn.Parameter(torch.empty(d_model, **fk))
        f32 = {"device": device, "dtype": torch.float32}
        self.poles = nn.Parameter(torch.empty(d_model, state_size, 1, 2, **f32))
        self.residues = nn.Parameter(torch.empty(d_model, state_size, 1, 2, **f32))
        self.reset_parameters()

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, state_size={self.state_size}, short_filter_length="
                f"{self.short_filter_length}, layout={self.layout!r}, heads={self.heads}")

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """A stable random system: |p| in [0.5, 0.999], angle in [0, pi), residues scaled by
        (1 - |p|) so each mode's filter has an O(1) gain; FIR as conv1d's default; D ~ N(0, 1)."""
        bound = 1.0 / math.sqrt(self.short_filter_length)
        self.short_filter_weight.uniform_(-bound, bound)
        if self.short_filter_bias is not None:
            self.short_filter_bias.uniform_(-bound, bound)
        self.D.normal_()
        shape = (self.d_model, self.state_size, 1)
        dev = self.poles.device
        one_minus_r = torch.exp(torch.empty(shape, device=dev).uniform_(math.log(1e-3), math.log(0.5)))
        radius, angle = 1.0 - one_minus_r, torch.empty(shape, device=dev).uniform_(0.0, math.pi)
        self.poles.copy_(torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], -1))
        self.residues.normal_().mul_(one_minus_r[..., None])

    def _apply(self, fn, recurse=True):
        """Module-wide casts (``model.to(torch.bfloat16)``, ``.half()``) leave poles and residues
        float32 (the dtype policy); device moves and float64 casts apply to them as usual."""
        before = {name: getattr(self, name).detach() for name in ("poles", "residues")}
        super()._apply(fn, recurse)
        for name, old in before.items():
            p = getattr(self, name)
            if p.dtype in (torch.float16, torch.bfloat16) and old.dtype == torch.float32:
                p.data = old.to(device=p.device)
        return self

    # -- views of the parameters -----------------------------------------------------------------

    def complex_poles(self) -> Tensor:
        """The poles p as a complex (d, S) tensor (complex64 for float32 parameters: a view)."""
        return _as_complex(self.poles)

    def complex_residues(self) -> Tensor:
        """The residues R as a complex (d, S) tensor (complex64 for float32 parameters: a view)."""
        return _as_complex(self.residues)

    def fir_weight(self) -> Tensor:
        """The FIR taps as (3d, K) (a view of ``short_filter_weight``)."""
        return self.short_filter_weight[:, 0, :]

    def _modal(self, act: torch.dtype) -> Tuple[Tensor, Tensor, Tensor]:
        """(poles, residues) as real views (d, S, 2) and D (d,), in the filter dtype for ``act``."""
        fdt = _filter_dtype(act)
        return self.poles[:, :, 0].to(fdt), self.residues[:, :, 0].to(fdt), self.D.to(fdt)

    def kernel(self, L: int, act: torch.dtype = torch.float32) -> Tensor:
        """The long filter h (d, L): ``h[c, t] = Re sum_n R[c,n] p[c,n]^t`` (float32; float64 for
        ``act`` float64)."""
        p, r, _ = self._modal(act)
        return modal_kernel(r, p, L)

    # -- the pieces ------------------------------------------------------------------------------

    def _check_z(self, z: object) -> Tensor:
        return check_sequence_input(z, 3 * self.d_model, "z")

    def _fir(self, z: Tensor, final_state: bool):
        """Short FIR with bias over all 3d channels: z (B, L, 3d) -> z~ (B, L, 3d) [, state]."""
        return short_conv(z, self.fir_weight(), self.short_filter_bias, None,
                          return_final_state=final_state, channels_last=True)

    def _split(self, zf: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """z~ (B, L, 3d) -> x2, x1, v as (B, d, L) (views where the layout allows)."""
        B, L, _ = zf.shape
        d = self.d_model
        if self.layout == "column_split":
            parts = zf.reshape(B, L, self.heads, 3, d // self.heads).unbind(3)
            return tuple(t.reshape(B, L, d).transpose(1, 2) for t in parts)  # type: ignore[return-value]
        return tuple(t.transpose(1, 2) for t in zf.split(d, dim=-1))  # type: ignore[return-value]

    # -- the three paths -------------------------------------------------------------------------

    def forward(self, z: Tensor) -> Tensor:
        """z (B, L, 3d) -> y (B, L, d): FIR, split, ``fftconv(v, h, D, pregate=x1, postgate=x2)``."""
        self._check_z(z)
        x2, x1, v = self._split(self._fir(z, False))
        p, r, D = self._modal(z.dtype)
        h = modal_kernel(r, p, z.shape[1])
        return fftconv(v, h, D, pregate=x1, postgate=x2).transpose(1, 2)

    def _prefill(self, z: Tensor, style: str) -> Tuple[Tensor, GatedConvCache]:
        self._check_z(z)
        act, L = z.dtype, z.shape[1]
        fdt = _filter_dtype(act)
        p, r, D = self._modal(act)
        if style == "recurrence":  # one fused pass, memory constant in L
            y, fir_state, iir_state = gated_conv_recurrence(
                z.transpose(1, 2), self.fir_weight(), self.short_filter_bias, p, r, D,
                layout=self.layout, heads=self.heads)
            return y.transpose(1, 2), GatedConvCache(fir_state, iir_state)
        zf, fir_state = self._fir(z, True)
        x2, x1, v = self._split(zf)
        w = x1.to(fdt) * v.to(fdt)
        if style == "fft":
            y = fftconv(v, modal_kernel(r, p, L), D, pregate=x1, postgate=x2)
            iir_state = modal_state(w, p)
        else:  # "scan"
            s, iir_state = modal_scan(w, r, p, D, return_final_state=True)
            y = (s * x2.to(fdt)).to(act)
        return y.transpose(1, 2), GatedConvCache(fir_state, iir_state)

    def step(self, z_t: Tensor, cache: LayerCache) -> Tensor:
        """z_t (B, 3d) -> y_t (B, d) through the fused ``gated_conv_step``; updates ``cache``."""
        check_step_input(z_t, 3 * self.d_model, "z_t")
        if not isinstance(cache, GatedConvCache):
            raise TypeError(f"cache: expected a GatedConvCache (from prefill), got {type(cache).__name__}")
        fdt = _filter_dtype(z_t.dtype)
        if fdt == torch.float32 and self.poles.dtype == torch.float32 and self.residues.dtype == torch.float32:
            p, r = torch.view_as_complex(self.poles[:, :, 0]), torch.view_as_complex(self.residues[:, :, 0])
            D = self.D if self.D.dtype == torch.float32 else self.D.float()
        else:
            p, r, D = self._modal(z_t.dtype)
        return gated_conv_step(z_t, cache.fir_state, self.fir_weight(), self.short_filter_bias, p, r, D,
                               cache.iir_state, layout=self.layout, heads=self.heads)


class _PrePostNormBlock(nn.Module):
    """The frame both blocks share, ``u += mixer(pre_norm u); u += mlp(post_norm u)``: ``d_model``
    and the two RMSNorms. The subclass then registers its mixer modules and ``mlp``
    (:class:`GatedMLP` d -> inner_mlp_size -> d), in that order (the official key order, and the
    order the random initialisation runs in)."""

    def __init__(self, d_model: int, inner_mlp_size: int, eps: float, *, device=None, dtype=None) -> None:
        super().__init__()
        _positive_int(inner_mlp_size, "inner_mlp_size")
        self.d_model = d_model
        self.pre_norm = RMSNorm(d_model, eps, device=device, dtype=dtype)
        self.post_norm = RMSNorm(d_model, eps, device=device, dtype=dtype)


class ParallelGatedConvBlock(_PrePostNormBlock):
    """StripedHyena's Hyena block (see the module docstring); block protocol of models/base.py.

    Submodules (official names): ``pre_norm``, ``post_norm`` (RMSNorm), ``projections``
    (d -> 3d, bias), ``filter`` (:class:`GatedConvFilter`), ``out_filter_dense`` (d -> d, bias),
    ``mlp`` (:class:`GatedMLP` d -> inner_mlp_size -> d).

    Args:
        d_model, inner_mlp_size: widths. eps: RMSNorm eps. Other arguments as for
        :class:`GatedConvFilter`.
    """

    def __init__(self, d_model: int, inner_mlp_size: int, *, eps: float = 1e-5, state_size: int = 2,
                 short_filter_length: int = 3, short_filter_bias: bool = True,
                 layout: str = "column_split", heads: int = 1, prefill_style: Optional[str] = None,
                 device=None, dtype=None) -> None:
        super().__init__(d_model, inner_mlp_size, eps, device=device, dtype=dtype)
        fk = {"device": device, "dtype": dtype}
        self.projections = nn.Linear(d_model, 3 * d_model, bias=True, **fk)
        self.filter = GatedConvFilter(d_model, state_size=state_size, short_filter_length=short_filter_length,
                                      short_filter_bias=short_filter_bias, layout=layout, heads=heads,
                                      prefill_style=prefill_style, **fk)
        self.out_filter_dense = nn.Linear(d_model, d_model, bias=True, **fk)
        self.mlp = GatedMLP(d_model, inner_mlp_size, **fk)

    @property
    def prefill_styles(self) -> Tuple[str, ...]:
        return self.filter.prefill_styles

    def forward(self, u: Tensor) -> Tensor:
        """u (B, L, d) -> (B, L, d)."""
        check_sequence_input(u, self.d_model, "h")
        u = u + self.out_filter_dense(self.filter(self.projections(self.pre_norm(u))))
        return u + self.mlp(self.post_norm(u))

    def prefill(self, u: Tensor, *, style: Optional[str] = None) -> Tuple[Tensor, GatedConvCache]:
        """u (B, L, d) -> (the forward output, cache at position L); ``style`` one of
        "fft" (forward path + modal_state), "scan" (modal_scan), "recurrence" (fused, O(1) memory)."""
        check_sequence_input(u, self.d_model, "h")
        y, cache = self.filter.prefill(self.projections(self.pre_norm(u)), style=style)
        u = u + self.out_filter_dense(y)
        return u + self.mlp(self.post_norm(u)), cache

    def step(self, u_t: Tensor, cache: LayerCache) -> Tensor:
        """u_t (B, d) -> (B, d); updates ``cache`` in place."""
        check_step_input(u_t, self.d_model, "h_t")
        u_t = u_t + self.out_filter_dense(self.filter.step(self.projections(self.pre_norm(u_t)), cache))
        return u_t + self.mlp(self.post_norm(u_t))


class AttentionBlock(_PrePostNormBlock):
    """StripedHyena's attention block: ``u += inner_mha_cls(pre_norm u); u += mlp(post_norm u)``.

    ``inner_mha_cls`` is :class:`Attention` with ``num_heads`` query heads, ``num_kv_heads`` key/value
    heads, rotary over the whole head (NeoX rotate-half, base ``rotary_base``).
    """

    prefill_styles: Tuple[str, ...] = ("parallel",)

    def __init__(self, d_model: int, inner_mlp_size: int, num_heads: int, num_kv_heads: Optional[int] = None, *,
                 eps: float = 1e-5, qkv_bias: bool = False, out_bias: bool = False,
                 rotary_base: float = 10000.0, device=None, dtype=None) -> None:
        super().__init__(d_model, inner_mlp_size, eps, device=device, dtype=dtype)
        fk = {"device": device, "dtype": dtype}
        self.inner_mha_cls = Attention(d_model, num_heads, num_kv_heads, qkv_bias=qkv_bias, out_bias=out_bias,
                                       rotary_dim=d_model // num_heads, rotary_base=rotary_base, **fk)
        self.mlp = GatedMLP(d_model, inner_mlp_size, **fk)

    def forward(self, u: Tensor) -> Tensor:
        """u (B, L, d) -> (B, L, d)."""
        u = u + self.inner_mha_cls(self.pre_norm(u))
        return u + self.mlp(self.post_norm(u))

    def prefill(self, u: Tensor, *, style: Optional[str] = None) -> Tuple[Tensor, LayerCache]:
        """u (B, L, d) -> (the forward output, the attention's KVCache)."""
        y, cache = self.inner_mha_cls.prefill(self.pre_norm(u), style=style)
        u = u + y
        return u + self.mlp(self.post_norm(u)), cache

    def step(self, u_t: Tensor, cache: LayerCache) -> Tensor:
        """u_t (B, d) -> (B, d); appends to the KV cache."""
        u_t = u_t + self.inner_mha_cls.step(self.pre_norm(u_t), cache)
        return u_t + self.mlp(self.post_norm(u_t))
