"""FFT long convolution: ``fftconv`` and ``fft_filter``, registered as torch custom ops.

Math (shapes: u, pregate, postgate, y (B, H, L); k (H, Lk); D (H,))::

    w = u * pregate                                   (if pregate is given)
    y = postgate * ( k (*) w + D * w )                (postgate and D if given)
    causal:        (k (*) w)[t] = sum_{s=0}^{min(t, Lk-1)} k[s] w[t-s]
    bidirectional: (k (*) w)[t] = sum_{s=-(L-1)}^{L-1} k[c+s] w[t-s],  c = (Lk-1)//2,
                   taps outside [0, Lk) are zero (Lk = 2L-1 is the full two-sided filter)

The C++ kernels compute it through zero-padded real FFTs of size N = fft_size(L) (a power of two
>= 2L-1, so the circular convolution equals the linear one on the kept samples): on the CPU fused
per group of 8 channels, or directly for short filters; on CUDA (and the emu backend) as 16-point
DFT matrix products on tensor cores (cuda/fftconv/README.md; float32/float16/bfloat16 activations,
float64 on the CPU only).

Ops in the ``serengeti`` namespace: ``fftconv_fwd``, ``fftconv_bwd``, ``fft_filter``,
``fft_filter_bwd``. Autograd is registered on the forward ops; the backward ops are plain ops with
fake implementations, so ``torch.compile(fullgraph=True)`` traces forward and backward.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from serengeti import _C
from serengeti.ops._checks import (ACTIVATION_DTYPES, check_bool, check_dtype, check_same_device,
                                   check_tensor)
from serengeti.ops._launch import run_native
from serengeti.ops._views import describe

LANES = 8  # channels per packed-spectrum group (the CPU engine's SIMD width)

# Gradient slots of fftconv_bwd, in order.
_GRAD_NAMES = ("u", "k", "k_f", "D", "pregate", "postgate")


def fft_size(L: int) -> int:
    """The transform size N used for sequence length ``L``: a power of two >= max(2L - 1, 16)."""
    if isinstance(L, bool) or not isinstance(L, int) or L < 1:
        raise ValueError(f"L: expected a positive int, got {L!r}")
    # Pure Python (so torch.compile traces it); tests check it equals _C.fftconv_fft_size.
    return max(16, 1 << (2 * L - 2).bit_length())


def spectrum_shape(H: int, L: int) -> Tuple[int, int, int, int]:
    """Shape of the packed filter spectrum for H channels at length L: (ceil(H/8), N/2, 2, 8)."""
    return ((H + LANES - 1) // LANES, fft_size(L) // 2, 2, LANES)


# ----------------------------------------------------------------------------------------------
# The ops
# ----------------------------------------------------------------------------------------------

@torch.library.custom_op("serengeti::fftconv_fwd", mutates_args=())
def _fftconv_fwd(u: Tensor, k: Optional[Tensor], k_f: Optional[Tensor], D: Optional[Tensor],
                 pregate: Optional[Tensor], postgate: Optional[Tensor], bidirectional: bool) -> Tensor:
    y = torch.empty(u.shape, dtype=u.dtype, device=u.device)
    args = (describe(u), describe(k), describe(k_f), describe(D), describe(pregate),
            describe(postgate), bidirectional, describe(y))
    run_native(u, _C.fftconv_forward_workspace_bytes, _C.fftconv_forward, args)
    return y


@_fftconv_fwd.register_fake
def _(u, k, k_f, D, pregate, postgate, bidirectional):
    return torch.empty(u.shape, dtype=u.dtype, device=u.device)


def _grad_buffers(u: Tensor, k: Optional[Tensor], k_f: Optional[Tensor], D: Optional[Tensor],
                  needs: Sequence[bool]) -> List[Tensor]:
    """Outputs of fftconv_bwd: full-size where needed, empty (numel 0) where not."""
    like = {"u": u, "k": k, "k_f": k_f, "D": D, "pregate": u, "postgate": u}
    out = []
    for name, need in zip(_GRAD_NAMES, needs):
        ref = like[name]
        if need and ref is not None:
            out.append(torch.empty(ref.shape, dtype=ref.dtype, device=ref.device))
        else:
            out.append(torch.empty((0,), dtype=u.dtype, device=u.device))
    return out


@torch.library.custom_op("serengeti::fftconv_bwd", mutates_args=())
def _fftconv_bwd(dy: Tensor, u: Tensor, k: Optional[Tensor], k_f: Optional[Tensor],
                 D: Optional[Tensor], pregate: Optional[Tensor], postgate: Optional[Tensor],
                 bidirectional: bool, needs: List[bool]) -> List[Tensor]:
    grads = _grad_buffers(u, k, k_f, D, needs)
    du, dk, dk_f, dD, dpre, dpost = [describe(g) if need else None for g, need in zip(grads, needs)]
    args = (describe(dy), describe(u), describe(k), describe(k_f), describe(D), describe(pregate),
            describe(postgate), bidirectional, du, dk, dk_f, dD, dpre, dpost)
    run_native(u, _C.fftconv_backward_workspace_bytes, _C.fftconv_backward, args)
    return grads


@_fftconv_bwd.register_fake
def _(dy, u, k, k_f, D, pregate, postgate, bidirectional, needs):
    return _grad_buffers(u, k, k_f, D, needs)


def _fftconv_setup_context(ctx, inputs, output) -> None:
    u, k, k_f, D, pregate, postgate, bidirectional = inputs
    ctx.save_for_backward(u, k, k_f, D, pregate, postgate)
    ctx.bidirectional = bidirectional


def _fftconv_backward(ctx, dy: Tensor):
    u, k, k_f, D, pregate, postgate = ctx.saved_tensors
    present = {"u": True, "k": k is not None, "k_f": k_f is not None, "D": D is not None,
               "pregate": pregate is not None, "postgate": postgate is not None}
    needs = [bool(ctx.needs_input_grad[i]) and present[name] for i, name in enumerate(_GRAD_NAMES)]
    if not any(needs):
        return None, None, None, None, None, None, None
    grads = _fftconv_bwd(dy, u, k, k_f, D, pregate, postgate, ctx.bidirectional, needs)
    return (*[g if need else None for g, need in zip(grads, needs)], None)


_fftconv_fwd.register_autograd(_fftconv_backward, setup_context=_fftconv_setup_context)


@torch.library.custom_op("serengeti::fft_filter", mutates_args=())
def _fft_filter(k: Tensor, L: int, bidirectional: bool) -> Tensor:
    k_f = torch.empty(spectrum_shape(k.shape[0], L), dtype=k.dtype, device=k.device)
    args = (describe(k), L, bidirectional, describe(k_f))
    run_native(k, _C.fft_filter_forward_workspace_bytes, _C.fft_filter_forward, args)
    return k_f


@_fft_filter.register_fake
def _(k, L, bidirectional):
    return k.new_empty(spectrum_shape(k.shape[0], L))


@torch.library.custom_op("serengeti::fft_filter_bwd", mutates_args=())
def _fft_filter_bwd(dk_f: Tensor, Lk: int, L: int, bidirectional: bool) -> Tensor:
    H = dk_f.shape[0] * LANES
    dk = torch.empty((H, Lk), dtype=dk_f.dtype, device=dk_f.device)
    args = (describe(dk_f), L, bidirectional, describe(dk))
    run_native(dk_f, _C.fft_filter_backward_workspace_bytes, _C.fft_filter_backward, args)
    return dk


@_fft_filter_bwd.register_fake
def _(dk_f, Lk, L, bidirectional):
    return dk_f.new_empty((dk_f.shape[0] * LANES, Lk))


def _fft_filter_setup_context(ctx, inputs, output) -> None:
    k, L, bidirectional = inputs
    ctx.H, ctx.Lk = k.shape
    ctx.L, ctx.bidirectional = L, bidirectional


def _fft_filter_backward(ctx, dk_f: Tensor):
    # The kernel fills whole groups of 8 channels; keep the first H rows.
    dk = _fft_filter_bwd(dk_f.contiguous(), ctx.Lk, ctx.L, ctx.bidirectional)
    return dk[: ctx.H], None, None


_fft_filter.register_autograd(_fft_filter_backward, setup_context=_fft_filter_setup_context)


# ----------------------------------------------------------------------------------------------
# Public functions: validate with clear messages, then call the ops
# ----------------------------------------------------------------------------------------------

def _param_dtype(u: Tensor) -> torch.dtype:
    """k, D and k_f are float32, or float64 when the activations are (the gradcheck path)."""
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def _check_param(x: Tensor, name: str, u: Tensor, ndim: int, shape_doc: str) -> None:
    check_tensor(x, name, ndim, shape_doc)
    check_same_device(x, name, u, "u")
    check_dtype(x, name, (_param_dtype(u),), f"with {str(u.dtype).replace('torch.', '')} u")


def fftconv(u: Tensor, k: Optional[Tensor] = None, D: Optional[Tensor] = None,
            pregate: Optional[Tensor] = None, postgate: Optional[Tensor] = None, *,
            k_f: Optional[Tensor] = None, bidirectional: bool = False) -> Tensor:
    """FFT long convolution with optional skip and gates (differentiable in every tensor).

    ``w = u * pregate;  y = postgate * (k (*) w + D * w)`` (each factor only if given), where
    ``(k (*) w)[t] = sum_{s=0}^{min(t, Lk-1)} k[s] w[t-s]`` (causal), or with
    ``bidirectional=True`` ``sum_{s=-(L-1)}^{L-1} k[c+s] w[t-s]``, ``c = (Lk-1)//2``.

    Args:
        u: (B, H, L) float32, float16, bfloat16 (or float64), any strides.
        k: (H, Lk) filter, Lk >= 1 (taps that cannot reach the output are ignored); float32, or
            float64 with float64 ``u``. Give exactly one of ``k`` and ``k_f``.
        D: (H,) skip weight, ``k``'s dtype.
        pregate, postgate: (B, H, L), ``u``'s dtype, any strides (expanded views welcome).
        k_f: the packed spectrum ``fft_filter(k, L, bidirectional=...)`` for this L (inference
            with fixed filters then pays no filter FFT per call).
        bidirectional: two-sided filter, see above; must match the one ``k_f`` was built with.

    Returns:
        y: (B, H, L) in ``u``'s dtype (contiguous). Arithmetic is float32 (float64 for float64 u).
    """
    check_tensor(u, "u", 3, "(B, H, L)")
    check_dtype(u, "u", ACTIVATION_DTYPES)
    check_bool(bidirectional, "bidirectional")
    B, H, L = u.shape
    if L < 1:
        raise ValueError(f"u: expected a sequence length L >= 1, got shape {tuple(u.shape)}")
    if H < 1:
        raise ValueError(f"u: expected at least one channel (H >= 1), got shape {tuple(u.shape)}")
    if (k is None) == (k_f is None):
        raise ValueError("k, k_f: expected exactly one of the filter k and its spectrum k_f, got "
                         + ("both" if k is not None else "neither"))
    if k is not None:
        _check_param(k, "k", u, 2, "(H, Lk)")
        if k.shape[0] != H or k.shape[1] < 1:
            raise ValueError(f"k: expected shape (H={H}, Lk >= 1) to match u {tuple(u.shape)}, "
                             f"got {tuple(k.shape)}")
    if k_f is not None:
        _check_param(k_f, "k_f", u, 4, "(ceil(H/8), N/2, 2, 8) from fft_filter")
        expected = spectrum_shape(H, L)
        if tuple(k_f.shape) != expected:
            raise ValueError(f"k_f: expected shape {expected} (fft_filter(k, L={L}) for H={H}), got "
                             f"{tuple(k_f.shape)}: was it built for another L or H?")
        k_f = k_f.contiguous()
    if D is not None:
        _check_param(D, "D", u, 1, "(H,)")
        if D.shape[0] != H:
            raise ValueError(f"D: expected shape ({H},) to match u's H, got {tuple(D.shape)}")
    for gate, name in ((pregate, "pregate"), (postgate, "postgate")):
        if gate is None:
            continue
        check_tensor(gate, name, 3, "(B, H, L)")
        check_same_device(gate, name, u, "u")
        if gate.dtype != u.dtype:
            raise ValueError(f"{name}: expected u's dtype {str(u.dtype).replace('torch.', '')}, "
                             f"got {str(gate.dtype).replace('torch.', '')}")
        if gate.shape != u.shape:
            raise ValueError(f"{name}: expected u's shape {tuple(u.shape)}, got {tuple(gate.shape)}")
    return _fftconv_fwd(u, k, k_f, D, pregate, postgate, bidirectional)


def fft_filter(k: Tensor, L: int, *, bidirectional: bool = False) -> Tensor:
    """The packed filter spectrum of ``k`` (H, Lk) for sequence length ``L``.

    ``fftconv(u, k_f=fft_filter(k, L, bidirectional=b), bidirectional=b)`` equals
    ``fftconv(u, k, bidirectional=b)`` for every u of length L. The result is an opaque tensor of
    shape (ceil(H/8), N/2, 2, 8) in k's dtype, N = fft_size(L): the real FFT of the zero-padded
    (bidirectional: circularly wrapped) filter, in the element order of the backend that computed
    it (the CPU engine's, or the CUDA kernels'): use it on that backend. Differentiable.
    """
    check_tensor(k, "k", 2, "(H, Lk)")
    check_dtype(k, "k", (torch.float32, torch.float64))
    check_bool(bidirectional, "bidirectional")
    if k.shape[0] < 1 or k.shape[1] < 1:
        raise ValueError(f"k: expected shape (H >= 1, Lk >= 1), got {tuple(k.shape)}")
    fft_size(L)  # validates L
    return _fft_filter(k, L, bidirectional)


def sample_op_calls() -> List[Tuple[object, tuple, dict]]:
    """(op, args, kwargs) samples covering every serengeti fftconv op, for torch.library.opcheck."""
    g = torch.Generator().manual_seed(0)

    def rnd(*shape, dtype=torch.float32, grad=False):
        return torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(grad)

    B, H, L = 2, 3, 10
    u, k, D = rnd(B, H, L, grad=True), rnd(H, 4, grad=True), rnd(H, grad=True)
    gates = rnd(B, H, L, grad=True), rnd(B, H, L, grad=True)
    k_f = fft_filter(k.detach(), L).requires_grad_(True)
    ops = torch.ops.serengeti
    return [
        (ops.fftconv_fwd.default, (u, k, None, D, *gates, False), {}),
        (ops.fftconv_fwd.default, (u, None, k_f, None, None, None, False), {}),
        (ops.fftconv_fwd.default, (u, rnd(H, 2 * L - 1, grad=True), None, D, None, gates[1], True), {}),
        (ops.fftconv_bwd.default, (rnd(B, H, L), u.detach(), k.detach(), None, D.detach(),
                                   gates[0].detach(), gates[1].detach(), False, [True] * 2 + [False] + [True] * 3), {}),
        (ops.fft_filter.default, (k, L, False), {}),
        (ops.fft_filter_bwd.default, (rnd(*spectrum_shape(H, L)), 4, L, False), {}),
    ]
