"""safari's long convolution layer (explicit kernel), and the input history for exact decoding.

LongConv, input x (B, L, d) (u = x transposed to (B, d, L)), C = ``channels``:

    k~      = squash(smooth(kernel))                   kernel (C, d, l_max), float32
    smooth:   average pool of width ``smooth_window`` (odd), stride 1, zero padding w//2 on both
              sides, divided by w everywhere (torch's AvgPool1d with count_include_pad, as safari)
    squash:   k <- relu(|k| - lam) * sign(k)           (soft threshold; lam = 0 is the identity)
    y[c]    = k~[c] (*) u + D[c] * u                   (*) causal: sum_{s < min(t+1, l_max)} k~[s] u[t-s]
    out     = output_linear(act(y))                    y flattened to (B, L, C*d) channel-major
                                                       (index c*d + h, safari's '(c h)')

``act`` is GELU (erf form, safari's 'gelu') or the identity. ``output_linear`` is
Linear(C*d, d) (``postact=None``) or safari's default ``postact='glu'``: Linear(C*d, 2d) followed by
a GLU (first half * sigmoid(second half)). The kernel is zero past ``l_max`` taps, so the layer runs
at any length L (as safari's, which pads the kernel), and decoding continues past l_max.

Kernels: ``fftconv`` (all C*d channels in one call; the skip D fused). Decoding: the layer keeps the
last ``l_max`` inputs (:class:`ConvHistory`, amortised O(1) copies per token) and evaluates the
causal sum directly, O(C * d * min(t, l_max)) per token.

safari's kernel dropout, bidirectional and frequency-domain smoothing options are training features
not provided here.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from serengeti.nn.base import LayerCache, SequenceMixer, check_sequence_input, check_step_input
from serengeti.ops import fftconv

_ACTIVATIONS = ("gelu", "id")
_POSTACTS = (None, "glu")


def compute_dtype(act: torch.dtype) -> torch.dtype:
    """Real dtype of filter math for activations of dtype ``act``: float64 for float64, else float32."""
    return torch.float64 if act == torch.float64 else torch.float32


def _positive_int(x: object, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        raise ValueError(f"{name}: expected a positive int, got {x!r}")
    return x


@dataclasses.dataclass
class ConvHistory(LayerCache):
    """The inputs of a causal convolution with ``taps`` taps, for exact step-by-step evaluation.

    ``buffer`` (..., capacity): column j holds the input at position ``start + j``; positions
    ``[start, length)`` are stored. When an append does not fit, the capacity doubles up to
    ``2 * taps``; from then on the inputs that can no longer reach an output (older than
    ``taps - 1`` positions) are dropped by one copy every ~``taps`` appends. So an append costs
    amortised O(1) copies and the buffer never holds more than ``2 * taps`` positions.

    Appending: ``h.append(w_t)`` (or, to fill parts of the column separately,
    ``col = h.next_column()`` then writes to ``h.buffer[..., col]``); then ``h.recent()`` is the
    window the next output needs.
    """

    buffer: Tensor
    start: int
    length: int
    taps: int

    @classmethod
    def from_prompt(cls, w: Tensor, taps: int) -> "ConvHistory":
        """The history after a prompt w (..., L) (copied; only the last ``taps - 1`` inputs kept)."""
        L = w.shape[-1]
        kept = min(L, taps - 1)
        capacity = max(kept, min(max(2 * kept, 16), 2 * taps))
        buffer = w.new_zeros((*w.shape[:-1], capacity))
        if kept:
            buffer[..., :kept] = w[..., L - kept:]
        return cls(buffer=buffer, start=L - kept, length=L, taps=taps)

    def next_column(self) -> int:
        """Make room for the input at position ``length`` and advance ``length``; return the
        buffer column (last axis) where the caller writes that input. Call it before reading
        ``buffer``: it may replace the buffer by a larger one."""
        pos = self.length - self.start
        cap = self.buffer.shape[-1]
        if pos >= cap:
            keep = self.taps - 1
            if cap >= 2 * self.taps:  # slide: drop the inputs older than taps - 1 positions
                drop = pos - keep
                self.buffer[..., :keep] = self.buffer[..., drop:pos].clone()
                self.start += drop
                pos = keep
            else:
                grown = self.buffer.new_zeros((*self.buffer.shape[:-1], min(max(2 * cap, pos + 1), 2 * self.taps)))
                grown[..., :pos] = self.buffer[..., :pos]
                self.buffer = grown
        self.length += 1
        return pos

    def append(self, w_t: Tensor) -> None:
        """Store w_t (...) as the input at position ``length`` (and advance)."""
        col = self.next_column()  # first: it may replace self.buffer
        self.buffer[..., col] = w_t

    def recent(self) -> Tensor:
        """The last n = min(length, taps) inputs (..., n), oldest first (a view of the buffer)."""
        end = self.length - self.start
        n = min(self.length, self.taps)
        return self.buffer[..., end - n: end]


@dataclasses.dataclass
class LongConvCache(LayerCache):
    """LongConv decoding state: the input history and the regularised kernel at prefill time.

    ``history.buffer`` (B, d, capacity) float32 (float64 for float64 activations);
    ``kernel_flipped`` (C, d, l_max) the kernel reversed along time; ``D`` (C, d).
    """

    history: ConvHistory
    kernel_flipped: Tensor
    D: Tensor


class LongConv(SequenceMixer):
    """safari's LongConv layer (see the module docstring for the math).

    Args:
        d_model: width d.
        l_max: kernel length (taps).
        channels: C kernels per input channel ("heads"); the outputs are mixed by ``output_linear``.
        lam: soft-threshold of the squash (>= 0; 0 disables it). safari's long-conv config uses 0.003.
        smooth_window: None, or an odd width of the moving-average smoothing of the kernel.
        activation: "gelu" (default, as safari) or "id", applied before ``output_linear``.
        postact: None (Linear(C*d, d)) or "glu" (Linear(C*d, 2d) then GLU, safari's default).
        kernel_init_scale: the kernel is initialised N(0, 1) * this (safari: 0.002).
        device, dtype: of ``output_linear``; ``kernel`` and ``D`` are float32 (float64 if dtype is).

    Parameters: ``kernel`` (C, d, l_max), ``D`` (C, d), ``output_linear.{weight, bias}``.
    """

    prefill_styles = ("fft",)

    def __init__(self, d_model: int, l_max: int, *, channels: int = 1, lam: float = 0.003,
                 smooth_window: Optional[int] = None, activation: str = "gelu", postact: Optional[str] = None,
                 kernel_init_scale: float = 0.002, device=None, dtype=None) -> None:
        super().__init__()
        self.d_model = _positive_int(d_model, "d_model")
        self.l_max = _positive_int(l_max, "l_max")
        self.channels = _positive_int(channels, "channels")
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise ValueError(f"lam: expected a number >= 0, got {lam!r}")
        if smooth_window is not None:
            _positive_int(smooth_window, "smooth_window")
            if smooth_window % 2 == 0:
                raise ValueError(f"smooth_window: expected an odd width, got {smooth_window}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {list(_ACTIVATIONS)}, got {activation!r}")
        if postact not in _POSTACTS:
            raise ValueError(f"postact: expected None or 'glu', got {postact!r}")
        self.lam = float(lam)
        self.smooth_window = smooth_window
        self.activation = activation
        self.postact = postact
        fdtype = compute_dtype(dtype) if dtype is not None else torch.float32
        self.kernel = nn.Parameter(torch.randn(channels, d_model, l_max, device=device, dtype=fdtype)
                                   * kernel_init_scale)
        self.D = nn.Parameter(torch.randn(channels, d_model, device=device, dtype=fdtype))
        out = 2 * d_model if postact == "glu" else d_model
        self.output_linear = nn.Linear(channels * d_model, out, device=device, dtype=dtype)

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, l_max={self.l_max}, channels={self.channels}, lam={self.lam}, "
                f"smooth_window={self.smooth_window}, activation={self.activation!r}, postact={self.postact!r}")

    def effective_kernel(self) -> Tensor:
        """The regularised kernel squash(smooth(kernel)): (C, d, l_max) in the kernel's dtype."""
        k = self.kernel
        if self.smooth_window is not None:
            w = self.smooth_window
            k = F.avg_pool1d(k, w, stride=1, padding=w // 2, count_include_pad=True)
        if self.lam > 0:
            k = F.relu(k.abs() - self.lam) * torch.sign(k)
        return k

    def _output(self, y: Tensor) -> Tensor:
        """y (..., C*d) in the activation dtype -> output_linear(act(y)) (..., d)."""
        if self.activation == "gelu":
            y = F.gelu(y)
        y = self.output_linear(y)
        return F.glu(y, dim=-1) if self.postact == "glu" else y

    def _conv(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """x (B, L, d) -> (y (B, L, C*d) before the activation, the regularised kernel)."""
        check_sequence_input(x, self.d_model)
        B, L, d = x.shape
        C = self.channels
        fd = compute_dtype(x.dtype)
        k = self.effective_kernel()
        u = x.transpose(1, 2)
        if C > 1:
            u = u.repeat(1, C, 1)                                  # (B, C*d, L), channel c*d + h
        y = fftconv(u, k.reshape(C * d, self.l_max).to(fd), self.D.reshape(C * d).to(fd))
        return y.transpose(1, 2), k

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, d) -> (B, L, d), any L >= 1."""
        y, _ = self._conv(x)
        return self._output(y)

    def _prefill(self, x: Tensor, style: str) -> Tuple[Tensor, LongConvCache]:
        y, k = self._conv(x)
        fd = compute_dtype(x.dtype)
        history = ConvHistory.from_prompt(x.transpose(1, 2).to(fd), self.l_max)
        cache = LongConvCache(history=history, kernel_flipped=k.detach().to(fd).flip(-1).contiguous(),
                              D=self.D.detach().to(fd).clone())
        return self._output(y), cache

    def step(self, x_t: Tensor, cache: LayerCache) -> Tensor:
        """x_t (B, d) -> y_t (B, d): ``y_t[c] = sum_{s < min(t+1, l_max)} k~[c, s] u[t-s] + D[c] u_t``."""
        check_step_input(x_t, self.d_model)
        if not isinstance(cache, LongConvCache):
            raise TypeError(f"cache: expected a LongConvCache (from LongConv.prefill), got {type(cache).__name__}")
        if cache.history.buffer.shape[0] != x_t.shape[0]:
            raise ValueError(f"x_t: batch size {x_t.shape[0]} does not match the cache's "
                             f"{cache.history.buffer.shape[0]}")
        u = x_t.to(cache.history.buffer.dtype)
        cache.history.append(u)
        window = cache.history.recent()                            # (B, d, n)
        n = window.shape[-1]
        y = torch.einsum("bhn,chn->bch", window, cache.kernel_flipped[..., self.l_max - n:])
        y = y + cache.D[None] * u[:, None, :]
        return self._output(y.reshape(x_t.shape[0], -1).to(x_t.dtype))
