"""Naive float64 reference implementations of every Serengeti op.

These functions are the executable specification that tests compare every backend against.
They are written to be *obviously correct* rather than fast: plain torch ops, float64 throughout,
no tricks. They never modify their inputs, always return float64 tensors, and are differentiable
with ordinary torch autograd (so gradient tests can backpropagate through them).

Op families (one section each, in this order):

- fftconv: gated long convolution
    w = u * pregate                      (pregate optional)
    y = postgate * (k (*) w + D * w)     (postgate and D optional)
  ``fftconv``      direct O(L * Lk) sum over taps (the definition).
  ``fftconv_fft``  the same result through torch.fft in float64 (for long sequences).

- short_conv: depthwise causal FIR with optional bias, SiLU and carried state
    y[b,c,t] = act(bias[c] + sum_{j<K} weight[c, K-1-j] x[b,c,t-j])
  ``short_conv``       the definition, looping over taps; returns (y, final_state).
  ``short_conv_step``  one decoding step; returns (y_t, new_state) without mutating anything.

Later op families (modal, gated-conv recurrence) are appended below as new sections.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from torch import Tensor

__all__ = ["fftconv", "fftconv_fft", "fftconv_taps", "short_conv", "short_conv_step"]


# ---------------------------------------------------------------------------------------------
# fftconv
# ---------------------------------------------------------------------------------------------


def _f64(x: Optional[Tensor]) -> Optional[Tensor]:
    """Return ``x`` as float64 (``x`` itself if already float64; callers never mutate it)."""
    if x is None:
        return None
    return x.to(torch.float64)


def _check_shapes(
    u: Tensor,
    k: Tensor,
    D: Optional[Tensor],
    pregate: Optional[Tensor],
    postgate: Optional[Tensor],
) -> None:
    """Minimal shape checks so that a mistake in a test fails loudly instead of broadcasting."""
    if u.dim() != 3:
        raise ValueError(f"u must have shape (B, H, L), got {tuple(u.shape)}")
    B, H, L = u.shape
    if k.dim() != 2 or k.shape[0] != H or k.shape[1] < 1:
        raise ValueError(f"k must have shape (H={H}, Lk>=1), got {tuple(k.shape)}")
    if D is not None and tuple(D.shape) != (H,):
        raise ValueError(f"D must have shape ({H},), got {tuple(D.shape)}")
    for name, g in (("pregate", pregate), ("postgate", postgate)):
        if g is not None and tuple(g.shape) != (B, H, L):
            raise ValueError(f"{name} must have shape {(B, H, L)}, got {tuple(g.shape)}")


def fftconv_taps(k: Tensor, L: int, bidirectional: bool = False) -> tuple[Tensor, int]:
    """The filter taps that can reach a length-``L`` sequence, as a dense float64 array.

    Args:
        k: (H, Lk) filter.
        L: sequence length (>= 1).
        bidirectional: select the two-sided convention.

    Returns:
        ``(taps, s0)``: ``taps`` is (H, T) float64 and ``taps[:, i]`` is the weight of lag
        ``s = s0 + i``, so that ``(k (*) w)[t] = sum_i taps[:, i] * w[t - s0 - i]``.

        causal:        lags s = 0 .. min(Lk, L) - 1, taps[:, s] = k[:, s]   (s0 = 0)
        bidirectional: lags s = s0 .. s1 with s0 = max(-(L-1), -c), s1 = min(L-1, Lk-1-c),
                       taps[:, s - s0] = k[:, c + s], c = (Lk - 1) // 2 the centre tap. These are
                       exactly the lags |s| <= L-1 whose tap c + s lies inside [0, Lk); every
                       other lag has weight zero. s0 <= 0 <= s1, so T >= 1.
    """
    k = _f64(k)
    assert k is not None
    Lk = k.shape[1]
    if not bidirectional:
        return k[:, : min(Lk, L)], 0
    c = (Lk - 1) // 2
    s0, s1 = max(-(L - 1), -c), min(L - 1, Lk - 1 - c)
    return k[:, c + s0 : c + s1 + 1], s0


def _shift(w: Tensor, s: int) -> Tensor:
    """``out[..., t] = w[..., t - s]`` where ``0 <= t - s < L``, else 0. Shapes (..., L)."""
    L = w.shape[-1]
    if s == 0:
        return w
    if abs(s) >= L:
        return torch.zeros_like(w)
    if s > 0:
        return F.pad(w[..., : L - s], (s, 0))
    return F.pad(w[..., -s:], (0, -s))


def _gate_and_skip(
    conv: Tensor, w: Tensor, D: Optional[Tensor], postgate: Optional[Tensor]
) -> Tensor:
    """``postgate * (conv + D * w)`` with the optional terms left out. All (B, H, L) float64."""
    y = conv
    if D is not None:
        y = y + D[:, None] * w
    if postgate is not None:
        y = postgate * y
    return y


def fftconv(
    u: Tensor,
    k: Tensor,
    D: Optional[Tensor] = None,
    pregate: Optional[Tensor] = None,
    postgate: Optional[Tensor] = None,
    bidirectional: bool = False,
) -> Tensor:
    """Gated long convolution by the direct O(B * H * L * min(Lk, 2L)) sum over taps.

    Shapes: u, pregate, postgate (B, H, L); k (H, Lk), any Lk >= 1; D (H,). Returns y (B, H, L)
    float64 (every input is converted to float64 first).

    Math, with w = u * pregate (w = u without pregate):

        causal:        (k (*) w)[t] = sum_{s=0}^{min(t, Lk-1)} k[s] w[t-s]
        bidirectional: (k (*) w)[t] = sum_{s=-(L-1)}^{L-1} kc[s] w[t-s],  kc[s] = k[c+s],
                       c = (Lk-1)//2, taps outside [0, Lk) are zero, w[t] = 0 outside [0, L)
        y = postgate * ((k (*) w) + D * w)

    Taps that can never reach an output (causal s >= L, bidirectional |s| > L-1) are ignored.
    """
    _check_shapes(u, k, D, pregate, postgate)
    u64, D64, pre64, post64 = _f64(u), _f64(D), _f64(pregate), _f64(postgate)
    assert u64 is not None
    w = u64 if pre64 is None else u64 * pre64
    L = w.shape[-1]
    taps, s0 = fftconv_taps(k, L, bidirectional)
    conv = torch.zeros_like(w)
    for i in range(taps.shape[1]):
        conv = conv + taps[:, i, None] * _shift(w, s0 + i)
    return _gate_and_skip(conv, w, D64, post64)


def fftconv_fft(
    u: Tensor,
    k: Tensor,
    D: Optional[Tensor] = None,
    pregate: Optional[Tensor] = None,
    postgate: Optional[Tensor] = None,
    bidirectional: bool = False,
) -> Tensor:
    """Same result as :func:`fftconv`, computed through torch.fft in float64 (fast for long L).

    The full linear convolution z = taps (*) w has length L + T - 1 (T taps starting at lag s0,
    see :func:`fftconv_taps`); it is computed exactly (no wrap-around) with a transform of size
    n = L + T - 1:

        z = irfft(rfft(w, n) * rfft(taps, n), n),   y_conv[t] = z[t - s0]   (s0 <= 0)

    Shapes as in :func:`fftconv`; returns (B, H, L) float64. The float64 FFT has relative error
    ~1e-16 * log2(n), far below every tolerance this reference is used with.
    """
    _check_shapes(u, k, D, pregate, postgate)
    u64, D64, pre64, post64 = _f64(u), _f64(D), _f64(pregate), _f64(postgate)
    assert u64 is not None
    w = u64 if pre64 is None else u64 * pre64
    L = w.shape[-1]
    taps, s0 = fftconv_taps(k, L, bidirectional)
    n = L + taps.shape[1] - 1
    z = torch.fft.irfft(torch.fft.rfft(w, n=n) * torch.fft.rfft(taps, n=n)[None], n=n)
    conv = z[..., -s0 : -s0 + L]
    return _gate_and_skip(conv, w, D64, post64)


# ---------------------------------------------------------------------------------------------
# short_conv
# ---------------------------------------------------------------------------------------------


def _activate(a: Tensor, activation: Optional[str]) -> Tensor:
    if activation is None:
        return a
    if activation == "silu":
        return a * torch.sigmoid(a)
    raise ValueError(f"activation: expected None or 'silu', got {activation!r}")


def short_conv(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, activation: Optional[str] = None,
               initial_state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Depthwise causal convolution, float64: returns ``(y, final_state)``.

    x (B, C, L); weight (C, K); bias (C,); initial_state (B, C, K-1) = the inputs at t = -(K-1)..-1
    (zero when None). With x_ext = [initial_state, x] along time (index shifted by K-1)::

        y[b,c,t]           = act(bias[c] + sum_{j=0}^{K-1} weight[c, K-1-j] * x_ext[b,c,t-j])
        final_state[b,c,i] = x_ext[b,c,L+i]   (i = 0..K-2: the last K-1 inputs)
    """
    x = x.to(torch.float64)
    w = weight.to(torch.float64)
    B, C, L = x.shape
    K = w.shape[1]
    if initial_state is None:
        initial_state = torch.zeros(B, C, K - 1, dtype=torch.float64, device=x.device)
    x_ext = torch.cat([initial_state.to(torch.float64), x], dim=-1)  # (B, C, K-1+L)
    y = torch.zeros(B, C, L, dtype=torch.float64, device=x.device)
    for j in range(K):  # tap weight[:, K-1-j] multiplies the input j steps back
        y = y + w[:, K - 1 - j, None] * x_ext[..., K - 1 - j: K - 1 - j + L]
    if bias is not None:
        y = y + bias.to(torch.float64)[:, None]
    return _activate(y, activation), x_ext[..., L:]


def short_conv_step(x: Tensor, state: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                    activation: Optional[str] = None) -> tuple[Tensor, Tensor]:
    """One decoding step, float64: ``(y_t, new_state)`` for x (B, C) and state (B, C, K-1)."""
    y, new_state = short_conv(x[..., None], weight, bias, activation, initial_state=state)
    return y[..., 0], new_state



# ---------------------------------------------------------------------------------------------
# modal filters, modal state and scan, gated-conv recurrence
#
#   modal_kernel:  h[c, t] = Re sum_n R[c,n] p[c,n]^t                      (direct powers)
#   modal_state:   s = p^L s0 + sum_k p^(L-1-k) w[k]                       (direct sum)
#   modal_scan:    s[t] = p s[t-1] + w[t];  y[t] = Re sum_n R_n s_n[t] + D w[t]   (Python loop)
#   gated_conv:    short FIR -> split (x2, x1, v) -> w = x1 v -> modal filter + D skip -> x2 gate
# Complex arguments: complex tensors or real views (..., 2); computed in complex128.
# ---------------------------------------------------------------------------------------------

from typing import Tuple  # noqa: E402  (this section's own import)

__all__ += ["modal_kernel", "modal_kernel_at", "modal_state", "modal_scan", "gated_conv_split",
            "short_conv_fir", "gated_conv"]


def _c128(x: Optional[Tensor]) -> Optional[Tensor]:
    """x as complex128: complex tensors are cast, real views (..., 2) are reinterpreted."""
    if x is None:
        return None
    if x.is_complex():
        return x.to(torch.complex128)
    return torch.view_as_complex(x.to(torch.float64).contiguous())


def modal_kernel_at(residues: Tensor, poles: Tensor, t: Tensor) -> Tensor:
    """h[c, j] = Re sum_n R[c,n] p[c,n]^t[j] at the given integer times t (any values, float64).

    The powers are formed as exp(t log p) in complex128, so sampled times up to millions are exact
    to double precision without evaluating every t.
    """
    R, p = _c128(residues), _c128(poles)
    tt = t.to(torch.float64)[None, None, :]
    powers = torch.exp(tt * torch.log(p)[..., None])
    return (R[..., None] * powers).real.sum(1)


def modal_kernel(residues: Tensor, poles: Tensor, L: int) -> Tensor:
    """h (D, L) float64: the direct sum of modes with p^t = exp(t log p) (differentiable)."""
    R, p = _c128(residues), _c128(poles)
    # p^t as the running product p^0 = 1, p^t = prod_{j<t} p (in complex128; fine for the short
    # L of tests; modal_kernel_at evaluates sampled t of long filters).
    powers = torch.cumprod(torch.cat([torch.ones_like(p)[..., None], p[..., None].expand(*p.shape, L - 1)], -1), -1)
    return (R[..., None] * powers).real.sum(1)


def modal_state(w: Tensor, poles: Tensor, initial_state: Optional[Tensor] = None) -> Tensor:
    """s (B, D, S) complex128 = p^L s0 + sum_k p^(L-1-k) w[..., k] (direct sum over k)."""
    p = _c128(poles)
    w64 = w.to(torch.float64)
    L = w64.shape[-1]
    exps = torch.arange(L - 1, -1, -1, dtype=torch.float64)
    powers = torch.exp(exps * torch.log(p)[..., None]) if L > 0 else None  # (D, S, L)
    s = torch.einsum("bdk,dsk->bds", w64.to(torch.complex128), powers)
    if initial_state is not None:
        s = s + p[None] ** L * _c128(initial_state)
    return s


def modal_scan(w: Tensor, residues: Tensor, poles: Tensor, D: Optional[Tensor] = None,
               initial_state: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """(y (B, D, L) float64, final state (B, D, S) complex128) by a Python loop over t."""
    R, p = _c128(residues), _c128(poles)
    w64 = w.to(torch.float64)
    B, C, L = w64.shape
    s = torch.zeros(B, C, p.shape[1], dtype=torch.complex128) if initial_state is None else _c128(initial_state)
    ys = []
    for t in range(L):
        s = p[None] * s + w64[..., t, None]
        y = (R[None] * s).real.sum(-1)
        if D is not None:
            y = y + D.to(torch.float64) * w64[..., t]
        ys.append(y)
    return torch.stack(ys, -1), s


def short_conv_fir(z: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                   state: Optional[Tensor] = None) -> Tensor:
    """Depthwise causal FIR (float64): y[t] = bias + sum_i weight[:, i] x[t-K+1+i], with the K-1
    inputs before t = 0 taken from ``state`` (B, C, K-1) (oldest first) or zero."""
    z64 = z.to(torch.float64)
    K = weight.shape[1]
    B, C, L = z64.shape
    past = torch.zeros(B, C, K - 1, dtype=torch.float64) if state is None else state.to(torch.float64)
    x = torch.cat([past, z64], -1)
    w64 = weight.to(torch.float64)
    y = sum(w64[None, :, i, None] * x[..., i : i + L] for i in range(K))
    if bias is not None:
        y = y + bias.to(torch.float64)[None, :, None]
    return y


def gated_conv_split(u: Tensor, layout: str, heads: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Split (B, 3D, ...) channels into (x2, x1, v) by layout (see serengeti.ops.modal)."""
    B, C3 = u.shape[:2]
    D = C3 // 3
    rest = u.shape[2:]
    if layout == "column_split":
        v = u.reshape(B, heads, 3, D // heads, *rest)
        return tuple(v[:, :, r].reshape(B, D, *rest) for r in range(3))
    if layout == "thirds":
        return u[:, :D], u[:, D : 2 * D], u[:, 2 * D :]
    if layout == "interleave":
        return u[:, 0::3], u[:, 1::3], u[:, 2::3]
    raise ValueError(f"layout: unknown {layout!r}")


def gated_conv(z: Tensor, fir_weight: Tensor, fir_bias: Optional[Tensor], residues: Tensor, poles: Tensor,
               D: Optional[Tensor], layout: str, heads: int) -> Tensor:
    """StripedHyena's parallel Hyena-block math over a whole sequence (float64): short FIR ->
    split -> w = x1 v -> y = x2 (modal_kernel(R, p, L) (*) w + D w), the long conv as a direct sum."""
    u = short_conv_fir(z, fir_weight, fir_bias)
    x2, x1, v = gated_conv_split(u, layout, heads)
    w = x1 * v
    y, _ = modal_scan(w, residues, poles, D)
    return x2 * y
