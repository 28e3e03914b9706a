"""safari's Hyena operator (implicit long filters), with exact and distilled decoding.

Operator of order N >= 2, input x (B, L, d), L <= l_max (safari's attribute names, so the checkpoint
keys ``mixer.in_proj``, ``mixer.short_filter``, ``mixer.filter_fn.*``, ``mixer.out_proj`` load as
they are)::

    z               = short_filter(in_proj(x))      in_proj d -> (N+1) d with bias; short_filter a
                                                    depthwise causal conv of K = 3 taps with bias
    x_0, .., x_{N-1}, v = split(z, d)               channel blocks in that order
    for o, x_i in enumerate((x_{N-1}, .., x_1)):    (safari: reversed(x[1:]))
        w = v * x_i
        v = h_o (*) w + bias_o * w                  (*) causal: sum_{s<=t} h_o[s] w[t-s]
    out             = out_proj(v * x_0)

The implicit filter (:class:`HyenaFilter`) outputs (N-1) d channels; channel c belongs to stage
o = c mod (N-1), model channel c div (N-1) (safari's ``'(v o)'`` layout; for N = 2 it is the identity):

    z_pos (1, l_max, emb_dim) = [t, cos(f w), -sin(f w)]   t = j/(l_max-1), w = 2 pi j / l_max,
                                                           f = linspace(1e-4, bands-1, bands),
                                                           bands = (emb_dim-1)/2  (a trained
                                                           parameter in the checkpoints: loaded)
    h = Linear(emb_dim, F) -> Sin -> [Linear(F, F) -> Sin] x num_inner_mlps -> Linear(F, (N-1)d, no bias)
    Sin(a) = sin(freq * a), one freq (1, F) shared by every Sin (the keys list it once per Sin)
    h = h / ||h||_1 over channels                          (only when normalized=True)
    h *= exp(-t |delta|) + shift                           (only when modulate=True; delta (1,1,(N-1)d))

Filter math runs in float32 (float64 for a float64 layer) whatever the activation dtype; the
filter parameters are float32.

Kernels: ``short_conv`` for the 3-tap conv (bias inside), ``fftconv(v, h_o, D=bias_o,
pregate=x_i, postgate=x_0 on the last stage)``: the gates are fused into the FFT convolution.

Decoding, two modes (chosen by the cache ``prefill`` returns; ``step`` follows the cache):

- exact (default): :class:`HyenaCache` = the short conv's state (B, (N+1)d, K-1), the filter
  h (N-1, d, l_max) and, per stage, the history of that stage's input w (:class:`ConvHistory`,
  capacity doubling). Step t costs O(t d): ``y_t = sum_{s<=t} h[s] w[t-s] + bias * w_t``. The
  filter has l_max taps, so positions >= l_max cannot be decoded exactly: ValueError (distil).
  Prefill style "fft".
- distilled, after :meth:`HyenaOperator.distill`: each h_o[c] is fitted by S modes,
  ``h~[t] = Re sum_n R_n p_n^t`` (:func:`serengeti.nn.distill.fit_modal`); :class:`HyenaModalCache`
  holds the short conv's state and a complex state s (B, d, S) per stage: ``s <- p s + w``,
  ``y_t = Re sum_n R_n s_n + bias * w_t``: O(d S) per token, at any position (also past l_max).
  For N = 2 the whole step is the fused ``gated_conv_step`` (layout "thirds") and the "scan"
  prefill the fused ``gated_conv_recurrence``. Prefill styles "fft" (fftconv with
  ``modal_kernel(R, p, L)`` and ``modal_state``) and "scan" (``modal_scan``).

  ``forward`` keeps the exact filter h unless ``use_distilled_in_forward`` is True; then it uses
  h~ (and accepts any L). So ``prefill`` + ``step`` of a distilled layer equal ``forward`` with
  ``use_distilled_in_forward=True``, and the exact ``forward`` measures what distillation changed.
"""
from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from serengeti.nn.base import LayerCache, SequenceMixer, check_sequence_input, check_step_input
from serengeti.nn.distill import DEFAULT_MAX_RADIUS, DistillReport, fit_modal
from serengeti.nn.long_conv import ConvHistory, compute_dtype
from serengeti.ops import (fftconv, gated_conv_recurrence, gated_conv_step, modal_kernel, modal_scan,
                           modal_state, short_conv, short_conv_step)
from serengeti.ops.short_conv import MAX_TAPS


def _positive_int(x: object, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        raise ValueError(f"{name}: expected a positive int, got {x!r}")
    return x


def _number(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ValueError(f"{name}: expected a finite number, got {x!r}")
    return float(x)


def _filter_dtype(dtype: Optional[torch.dtype]) -> torch.dtype:
    """dtype of the filter parameters for a layer built in ``dtype``: float64 or float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


# ----------------------------------------------------------------------------------------------
# The implicit filter (safari's HyenaFilter and its parts)
# ----------------------------------------------------------------------------------------------

class Sin(nn.Module):
    """``sin(freq * x)`` with a trained ``freq`` (1, dim), initialised to ``w``."""

    def __init__(self, dim: int, w: float = 1.0, *, device=None, dtype=None) -> None:
        super().__init__()
        self.freq = nn.Parameter(torch.full((1, dim), float(w), device=device, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.freq * x)


class PositionalEmbedding(nn.Module):
    """safari's positional features: ``z`` (1, l_max, emb_dim) = [t, cos(f w), -sin(f w)]
    (a trained Parameter) and the time ``t`` (1, l_max, 1) = linspace(0, 1) (a buffer)."""

    def __init__(self, emb_dim: int, l_max: int, *, device=None, dtype=None) -> None:
        super().__init__()
        bands = (emb_dim - 1) // 2
        t = torch.linspace(0, 1, l_max, device=device, dtype=dtype)[None, :, None]
        w = 2 * math.pi * torch.linspace(0, l_max - 1, l_max, device=device, dtype=dtype)[None, :, None] / l_max
        f = torch.linspace(1e-4, bands - 1, bands, device=device, dtype=dtype)[None, None]
        self.z = nn.Parameter(torch.cat([t, torch.cos(f * w), -torch.sin(f * w)], dim=-1))
        self.register_buffer("t", t)


class ExponentialModulation(nn.Module):
    """``h * (exp(-t |deltas|) + shift)`` when ``modulate``; ``deltas`` (1, 1, channels) a buffer,
    initialised linspace(log(target)/slow_decay_pct, log(target)/fast_decay_pct) as safari."""

    def __init__(self, channels: int, *, modulate: bool = True, fast_decay_pct: float = 0.3,
                 slow_decay_pct: float = 1.5, target: float = 1e-2, shift: float = 0.0,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.modulate = bool(modulate)
        self.shift = float(shift)
        max_decay = math.log(target) / fast_decay_pct
        min_decay = math.log(target) / slow_decay_pct
        self.register_buffer("deltas", torch.linspace(min_decay, max_decay, channels, device=device,
                                                      dtype=dtype)[None, None])

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        """t (1, L, 1), h (1, L, channels) -> h (modulated when ``modulate``)."""
        if not self.modulate:
            return h
        return h * (torch.exp(-t * self.deltas.to(h.dtype).abs()) + self.shift)

    def extra_repr(self) -> str:
        return f"modulate={self.modulate}, shift={self.shift}"


class HyenaFilter(nn.Module):
    """safari's implicit long filter h (channels, L) (see the module docstring).

    Args:
        channels: filter channels ((order - 1) * d_model in a HyenaOperator).
        l_max: longest filter (rows of the positional features).
        emb_dim: positional features, odd >= 3.
        filter_order: width F of the MLP.
        w: initial frequency of the Sin activations.
        num_inner_mlps: hidden Linear(F, F) layers (safari: 2).
        use_bias: whether the skip ``bias`` is used (safari multiplies it by 0 otherwise; the
            parameter exists either way).
        normalized: divide h by its L1 norm over channels at each position.
        modulate, fast_decay_pct, slow_decay_pct, target, shift: the exponential modulation.
        device, dtype: of every parameter (float32 unless float64).

    Keys: ``bias``, ``pos_emb.{z, t}``, ``implicit_filter.{0, 2, 4}.{weight, bias}``,
    ``implicit_filter.{1, 3, 5}.freq`` (one Sin module at every odd index), ``implicit_filter.6.weight``,
    ``modulation.deltas`` (for num_inner_mlps = 2).
    """

    def __init__(self, channels: int, l_max: int, *, emb_dim: int = 3, filter_order: int = 16, w: float = 1.0,
                 num_inner_mlps: int = 2, use_bias: bool = True, normalized: bool = False, modulate: bool = True,
                 fast_decay_pct: float = 0.3, slow_decay_pct: float = 1.5, target: float = 1e-2,
                 shift: float = 0.0, device=None, dtype=None) -> None:
        super().__init__()
        _positive_int(channels, "channels")
        _positive_int(l_max, "l_max")
        _positive_int(emb_dim, "emb_dim")
        if emb_dim < 3 or emb_dim % 2 == 0:
            raise ValueError(f"emb_dim: expected an odd int >= 3 (time, cosines, sines), got {emb_dim}")
        _positive_int(filter_order, "filter_order")
        if isinstance(num_inner_mlps, bool) or not isinstance(num_inner_mlps, int) or num_inner_mlps < 0:
            raise ValueError(f"num_inner_mlps: expected an int >= 0, got {num_inner_mlps!r}")
        for name, value in (("fast_decay_pct", fast_decay_pct), ("slow_decay_pct", slow_decay_pct),
                            ("target", target)):
            if _number(value, name) <= 0:
                raise ValueError(f"{name}: expected a positive number, got {value!r}")
        self.channels = channels
        self.l_max = l_max
        self.use_bias = bool(use_bias)
        self.normalized = bool(normalized)
        self.bias = nn.Parameter(torch.randn(channels, device=device, dtype=dtype))
        self.pos_emb = PositionalEmbedding(emb_dim, l_max, device=device, dtype=dtype)
        act = Sin(filter_order, _number(w, "w"), device=device, dtype=dtype)
        layers: List[nn.Module] = [nn.Linear(emb_dim, filter_order, device=device, dtype=dtype), act]
        for _ in range(num_inner_mlps):
            layers += [nn.Linear(filter_order, filter_order, device=device, dtype=dtype), act]
        layers.append(nn.Linear(filter_order, channels, bias=False, device=device, dtype=dtype))
        self.implicit_filter = nn.Sequential(*layers)
        self.modulation = ExponentialModulation(channels, modulate=modulate, fast_decay_pct=fast_decay_pct,
                                                slow_decay_pct=slow_decay_pct, target=target,
                                                shift=_number(shift, "shift"), device=device, dtype=dtype)

    def filter(self, L: int) -> Tensor:
        """h (channels, L) for L <= l_max, float32 (float64 when the parameters are float64).

        The MLP runs on parameters cast to that dtype, so a model cast to bf16 wholesale still
        computes its filters in float32."""
        if isinstance(L, bool) or not isinstance(L, int) or not 1 <= L <= self.l_max:
            raise ValueError(f"L: expected an int in [1, l_max={self.l_max}], got {L!r}")
        fd = _filter_dtype(self.bias.dtype)
        h = self.pos_emb.z[:, :L].to(fd)
        for layer in self.implicit_filter:
            if isinstance(layer, nn.Linear):
                h = F.linear(h, layer.weight.to(fd), None if layer.bias is None else layer.bias.to(fd))
            else:
                h = torch.sin(layer.freq.to(fd) * h)
        if self.normalized:
            h = h / torch.linalg.vector_norm(h, ord=1, dim=-1, keepdim=True)
        h = self.modulation(self.pos_emb.t[:, :L].to(fd), h)
        return h[0].transpose(0, 1)

    def skip(self) -> Optional[Tensor]:
        """The skip weights (channels,) in the filter dtype, or None when ``use_bias`` is False."""
        return self.bias.to(_filter_dtype(self.bias.dtype)) if self.use_bias else None


# ----------------------------------------------------------------------------------------------
# Decoding caches
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class HyenaCache(LayerCache):
    """Exact decoding state of a :class:`HyenaOperator` of order N.

    ``conv_state`` (B, (N+1)d, K-1) activation dtype: the short conv's last inputs;
    ``filters_flipped`` (N-1, d, l_max): h at prefill time, reversed in time; ``bias`` (N-1, d) or
    None; ``history``: stage inputs w, buffer (N-1, B, d, capacity). Filter, bias and history are
    float32 (float64 for float64 activations)."""

    conv_state: Tensor
    filters_flipped: Tensor
    bias: Optional[Tensor]
    history: ConvHistory

    @property
    def length(self) -> int:
        """Tokens consumed."""
        return self.history.length


@dataclasses.dataclass
class HyenaModalCache(LayerCache):
    """Distilled decoding state of a :class:`HyenaOperator` of order N with S modes per channel.

    ``conv_state`` (B, (N+1)d, K-1); ``residues``, ``poles`` (N-1, d, S) complex64 (complex128
    for float64 activations) at prefill time; ``bias`` (N-1, d) or None; ``states`` (N-1, B, d, S)
    complex: the modal states of the stages; ``length`` tokens consumed."""

    conv_state: Tensor
    residues: Tensor
    poles: Tensor
    bias: Optional[Tensor]
    states: Tensor
    length: int


# ----------------------------------------------------------------------------------------------
# The operator
# ----------------------------------------------------------------------------------------------

class HyenaOperator(SequenceMixer):
    """safari's HyenaOperator (num_heads = inner_factor = num_blocks = 1, identity activation, as
    every released model); see the module docstring for the math and the decoding modes.

    Args:
        d_model: width d.
        l_max: longest sequence (filter taps).
        order: N >= 2 (recurrence depth).
        filter_order: width of the implicit filter's MLP (safari 64).
        emb_dim: positional features of the filter (odd >= 3; hyena-small 33).
        short_filter_order: taps K of the short conv (safari 3), <= 128.
        w: initial Sin frequency (hyena-small 14).
        modulate: exponential modulation of h (hyena-small's eval config: False; training: True).
        num_inner_mlps, filter_bias (use the skip bias), normalized, fast_decay_pct,
            slow_decay_pct, target, modulation_shift: the remaining HyenaFilter options.
        device, dtype: of the projections and the short filter; ``filter_fn`` is float32
            (float64 when dtype is float64).

    Attributes:
        use_distilled_in_forward: forward uses the distilled filter (after :meth:`distill`).
    """

    def __init__(self, d_model: int, l_max: int, *, order: int = 2, filter_order: int = 64, emb_dim: int = 3,
                 short_filter_order: int = 3, w: float = 1.0, modulate: bool = True, num_inner_mlps: int = 2,
                 filter_bias: bool = True, normalized: bool = False, fast_decay_pct: float = 0.3,
                 slow_decay_pct: float = 1.5, target: float = 1e-2, modulation_shift: float = 0.0,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.d_model = _positive_int(d_model, "d_model")
        self.l_max = _positive_int(l_max, "l_max")
        _positive_int(order, "order")
        if order < 2:
            raise ValueError(f"order: expected an int >= 2, got {order}")
        _positive_int(short_filter_order, "short_filter_order")
        if short_filter_order > MAX_TAPS:
            raise ValueError(f"short_filter_order: expected at most {MAX_TAPS} taps, got {short_filter_order}")
        self.order = order
        self.short_filter_order = short_filter_order
        width = (order + 1) * d_model
        self.in_proj = nn.Linear(d_model, width, device=device, dtype=dtype)
        self.out_proj = nn.Linear(d_model, d_model, device=device, dtype=dtype)
        # nn.Conv1d for its parameter names and shapes (weight (width, 1, K), bias); the
        # convolution itself runs through short_conv.
        self.short_filter = nn.Conv1d(width, width, short_filter_order, groups=width,
                                      padding=short_filter_order - 1, device=device, dtype=dtype)
        self.filter_fn = HyenaFilter((order - 1) * d_model, l_max, emb_dim=emb_dim, filter_order=filter_order,
                                     w=w, num_inner_mlps=num_inner_mlps, use_bias=filter_bias,
                                     normalized=normalized, modulate=modulate, fast_decay_pct=fast_decay_pct,
                                     slow_decay_pct=slow_decay_pct, target=target, shift=modulation_shift,
                                     device=device, dtype=_filter_dtype(dtype))
        self.use_distilled_in_forward = False
        # The distilled filter, (order-1, d, S, 2) float32 real views of complex residues / poles.
        # Not persistent: checkpoints hold the implicit filter; distil again after loading.
        self.register_buffer("distilled_residues", None, persistent=False)
        self.register_buffer("distilled_poles", None, persistent=False)

    def extra_repr(self) -> str:
        S = None if self.distilled_poles is None else self.distilled_poles.shape[2]
        return (f"d_model={self.d_model}, l_max={self.l_max}, order={self.order}, "
                f"short_filter_order={self.short_filter_order}, distilled_modes={S}")

    # -- filters ---------------------------------------------------------------------------------

    @property
    def is_distilled(self) -> bool:
        """Whether :meth:`distill` has run (decoding is then O(1) per token)."""
        return self.distilled_poles is not None

    @property
    def prefill_styles(self) -> Tuple[str, ...]:  # type: ignore[override]
        return ("fft", "scan") if self.is_distilled else ("fft",)

    def _stages(self, h: Tensor) -> Tensor:
        """Filter-channel layout (N-1)d (channel = v*(N-1) + o) -> (N-1, d, ...) stage-major."""
        S1 = self.order - 1
        return h.reshape(self.d_model, S1, *h.shape[1:]).transpose(0, 1).contiguous()

    def filters(self, L: int) -> Tuple[Tensor, Optional[Tensor]]:
        """The exact stage filters h (N-1, d, L) and skips bias (N-1, d) (or None), float32
        (float64 for a float64 layer). L <= l_max."""
        skip = self.filter_fn.skip()
        return self._stages(self.filter_fn.filter(L)), (None if skip is None else self._stages(skip))

    def _modal(self, act: torch.dtype) -> Tuple[Tensor, Tensor]:
        """(residues, poles) (N-1, d, S) complex64 (complex128 for float64 activations)."""
        rd = compute_dtype(act)
        R = torch.view_as_complex(self.distilled_residues.to(rd).contiguous())
        p = torch.view_as_complex(self.distilled_poles.to(rd).contiguous())
        return R, p

    def distilled_filters(self, L: int, act: torch.dtype = torch.float32) -> Tuple[Tensor, Optional[Tensor]]:
        """The distilled stage filters ``h~[o, c, t] = Re sum_n R p^t`` (N-1, d, L) (any L) and the
        skips, in the filter math dtype for activations ``act``."""
        if not self.is_distilled:
            raise ValueError("distilled_filters: the layer is not distilled; call distill(num_modes) first")
        R, p = self._modal(act)
        S1, d, S = R.shape
        h = modal_kernel(R.reshape(S1 * d, S), p.reshape(S1 * d, S), L).reshape(S1, d, L)
        skip = self.filter_fn.skip()
        return h, (None if skip is None else self._stages(skip).to(h.dtype))

    @torch.no_grad()
    def distill(self, num_modes: int = 16, *, pencil: Optional[int] = None,
                max_radius: float = DEFAULT_MAX_RADIUS, use_in_forward: Optional[bool] = None) -> DistillReport:
        """Fit every stage filter h (over all l_max taps) with ``num_modes`` modes per channel and
        switch decoding to the O(1)-per-token modal recurrence (see the module docstring).

        Args:
            num_modes: S, modes per channel (l_max >= 4 S).
            pencil, max_radius: passed to :func:`serengeti.nn.distill.fit_modal`.
            use_in_forward: if given, sets ``use_distilled_in_forward``.

        Returns:
            :class:`DistillReport` with rel_error (N-1, d): ``||h - h~|| / ||h||`` per channel.
        """
        h, _ = self.filters(self.l_max)
        S1, d, L = h.shape
        fit = fit_modal(h.reshape(S1 * d, L), num_modes, pencil=pencil, max_radius=max_radius)
        S = fit.poles.shape[1]
        self.distilled_residues = torch.view_as_real(fit.residues).reshape(S1, d, S, 2).float().contiguous()
        self.distilled_poles = torch.view_as_real(fit.poles).reshape(S1, d, S, 2).float().contiguous()
        if use_in_forward is not None:
            if not isinstance(use_in_forward, bool):
                raise TypeError(f"use_in_forward: expected a bool or None, got {type(use_in_forward).__name__}")
            self.use_distilled_in_forward = use_in_forward
        rel = fit.rel_error.reshape(S1, d)
        return DistillReport(num_modes=S, rel_error=rel, max_rel_error=float(rel.max()), length=L)

    def clear_distillation(self) -> None:
        """Forget the distilled filter: back to exact decoding and the exact forward."""
        self.distilled_residues = None
        self.distilled_poles = None
        self.use_distilled_in_forward = False

    # -- the parallel path -----------------------------------------------------------------------

    def _check_length(self, L: int, distilled: bool) -> None:
        if not distilled and L > self.l_max:
            raise ValueError(f"x: sequence length {L} exceeds l_max={self.l_max}: the implicit filter has "
                             "l_max taps; distill the layer (distill(num_modes), use_distilled_in_forward) "
                             "to run longer sequences")

    def _short_conv(self, x: Tensor, final_state: bool):
        """x (B, L, d) -> short_filter(in_proj(x)) (B, (N+1)d, L) [, its final state]."""
        u = self.in_proj(x).transpose(1, 2)
        return short_conv(u, self.short_filter.weight[:, 0, :], self.short_filter.bias,
                          return_final_state=final_state)

    def _gates(self, uc: Tensor) -> Tuple[Tensor, List[Tensor], Tensor]:
        """Split (..., (N+1)d, ...) along dim 1 -> (x_0, [x_{N-1}, .., x_1], v)."""
        xs = uc.split(self.d_model, dim=1)
        return xs[0], list(reversed(xs[1:-1])), xs[-1]

    def _stages_fft(self, uc: Tensor, k: Tensor, bias: Optional[Tensor],
                    keep_inputs: bool = False) -> Tuple[Tensor, List[Tensor]]:
        """The stage recurrence through fftconv: uc (B, (N+1)d, L) -> (v * x_0 (B, d, L), the stage
        inputs w = v * x_i, in the filter dtype, when ``keep_inputs``)."""
        x0, gates, v = self._gates(uc)
        fd = k.dtype
        inputs: List[Tensor] = []
        for o, x_i in enumerate(gates):
            if keep_inputs:
                inputs.append(v.to(fd) * x_i.to(fd))
            last = o == len(gates) - 1
            v = fftconv(v, k[o], None if bias is None else bias[o], pregate=x_i, postgate=x0 if last else None)
        return v, inputs

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, d) -> (B, L, d), L <= l_max (any L with ``use_distilled_in_forward``)."""
        check_sequence_input(x, self.d_model)
        L = x.shape[1]
        distilled = self.use_distilled_in_forward and self.is_distilled
        self._check_length(L, distilled)
        if distilled:
            k, bias = self.distilled_filters(L, x.dtype)
        else:
            k, bias = self.filters(L)
        fd = compute_dtype(x.dtype)
        k = k.to(fd)
        bias = None if bias is None else bias.to(fd)
        uc = self._short_conv(x, final_state=False)
        y, _ = self._stages_fft(uc, k, bias)
        return self.out_proj(y.transpose(1, 2))

    # -- prefill ---------------------------------------------------------------------------------

    def _prefill(self, x: Tensor, style: str) -> Tuple[Tensor, LayerCache]:
        check_sequence_input(x, self.d_model)
        if self.is_distilled:
            return self._prefill_modal(x, style)
        L = x.shape[1]
        self._check_length(L, False)
        fd = compute_dtype(x.dtype)
        k, bias = self.filters(self.l_max)
        k = k.to(fd)
        bias = None if bias is None else bias.to(fd)
        uc, conv_state = self._short_conv(x, final_state=True)
        y, inputs = self._stages_fft(uc, k, bias, keep_inputs=True)
        history = ConvHistory.from_prompt(torch.stack(inputs), self.l_max)
        cache = HyenaCache(conv_state=conv_state, filters_flipped=k.detach().flip(-1).contiguous(),
                           bias=None if bias is None else bias.detach(), history=history)
        return self.out_proj(y.transpose(1, 2)), cache

    def _prefill_modal(self, x: Tensor, style: str) -> Tuple[Tensor, HyenaModalCache]:
        B, L, _ = x.shape
        R, p = self._modal(x.dtype)
        skip = self.filter_fn.skip()
        bias = None if skip is None else self._stages(skip).to(compute_dtype(x.dtype)).detach()
        if style == "scan" and self.order == 2:
            # The whole layer body (short conv, gates, modal recurrence) in one fused kernel.
            u = self.in_proj(x).transpose(1, 2)
            y, conv_state, s = gated_conv_recurrence(
                u, self.short_filter.weight[:, 0, :], self.short_filter.bias, p[0], R[0],
                None if bias is None else bias[0], layout="thirds")
            states = s[None]
        else:
            uc, conv_state = self._short_conv(x, final_state=True)
            x0, gates, v = self._gates(uc)
            if style == "fft":
                S1, d, S = R.shape
                k = modal_kernel(R.reshape(S1 * d, S), p.reshape(S1 * d, S), L).reshape(S1, d, L)
            stage_states = []
            for o, x_i in enumerate(gates):
                last = o == len(gates) - 1
                D = None if bias is None else bias[o]
                if style == "fft":
                    stage_states.append(modal_state(v * x_i, p[o]))
                    v = fftconv(v, k[o], D, pregate=x_i, postgate=x0 if last else None)
                else:
                    v, s = modal_scan(v * x_i, R[o], p[o], D, return_final_state=True)
                    stage_states.append(s)
                    if last:
                        v = v * x0
            y = v
            states = torch.stack(stage_states)
        cache = HyenaModalCache(conv_state=conv_state, residues=R.detach(), poles=p.detach(), bias=bias,
                                states=states.contiguous(), length=L)
        return self.out_proj(y.transpose(1, 2)), cache

    # -- decoding --------------------------------------------------------------------------------

    def _check_cache(self, x_t: Tensor, cache: LayerCache) -> None:
        if not isinstance(cache, (HyenaCache, HyenaModalCache)):
            raise TypeError(f"cache: expected a HyenaCache or HyenaModalCache (from HyenaOperator.prefill), "
                            f"got {type(cache).__name__}")
        B = cache.conv_state.shape[0]
        if x_t.shape[0] != B:
            raise ValueError(f"x_t: batch size {x_t.shape[0]} does not match the cache's {B}")
        if cache.conv_state.dtype != x_t.dtype:
            raise ValueError(f"x_t: dtype {x_t.dtype} differs from the cache's {cache.conv_state.dtype}")

    def step(self, x_t: Tensor, cache: LayerCache) -> Tensor:
        """x_t (B, d) at position ``cache.length`` -> y_t (B, d); updates ``cache`` in place.

        Exact caches raise a ValueError at position l_max (the filter ends there)."""
        check_step_input(x_t, self.d_model)
        self._check_cache(x_t, cache)
        if isinstance(cache, HyenaModalCache):
            return self._step_modal(x_t, cache)
        t = cache.history.length
        if t >= self.l_max:
            raise ValueError(f"x_t: position {t} is past the filter: exact Hyena decoding is defined for "
                             f"positions < l_max={self.l_max} (h has l_max taps); distill the layer "
                             "(HyenaOperator.distill / HyenaLM.distill) for O(1) decoding at any position")
        z = self.in_proj(x_t)
        uc = short_conv_step(z, cache.conv_state, self.short_filter.weight[:, 0, :], self.short_filter.bias)
        x0, gates, v = self._gates(uc)
        hist = cache.history
        col = hist.next_column()
        n = min(hist.length, self.l_max)
        k = cache.filters_flipped[..., self.l_max - n:]                    # (N-1, d, n)
        fd = k.dtype
        for o, x_i in enumerate(gates):
            w = v.to(fd) * x_i.to(fd)
            hist.buffer[o, :, :, col] = w
            window = hist.buffer[o, :, :, col + 1 - n: col + 1]             # (B, d, n)
            y = torch.einsum("bdn,dn->bd", window, k[o])
            if cache.bias is not None:
                y = y + cache.bias[o] * w
            if o == len(gates) - 1:
                y = y * x0.to(fd)
            v = y.to(x_t.dtype)
        return self.out_proj(v)

    def _step_modal(self, x_t: Tensor, cache: HyenaModalCache) -> Tensor:
        z = self.in_proj(x_t)
        weight, fir_bias = self.short_filter.weight[:, 0, :], self.short_filter.bias
        if self.order == 2:
            y = gated_conv_step(z, cache.conv_state, weight, fir_bias, cache.poles[0], cache.residues[0],
                                None if cache.bias is None else cache.bias[0], cache.states[0], layout="thirds")
        else:
            uc = short_conv_step(z, cache.conv_state, weight, fir_bias)
            x0, gates, v = self._gates(uc)
            fd = cache.poles.real.dtype
            for o, x_i in enumerate(gates):
                w = v.to(fd) * x_i.to(fd)
                s = cache.states[o]
                s.mul_(cache.poles[o]).add_(w[..., None])
                yf = (cache.residues[o] * s).real.sum(-1)
                if cache.bias is not None:
                    yf = yf + cache.bias[o] * w
                if o == len(gates) - 1:
                    yf = yf * x0.to(fd)
                v = yf.to(x_t.dtype)
            y = v
        cache.length += 1
        return self.out_proj(y)
