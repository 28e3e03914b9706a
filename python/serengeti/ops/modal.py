"""Modal filters, modal state and scan, H3's S4D kernel and StripedHyena's fused gated conv.

Math (c a channel, n a mode; complex poles p and residues R of shape (D, S))::

    modal_kernel:   h[c, t] = Re sum_n R[c,n] p[c,n]^t                         (t < L)
    modal_state:    s[b,c,n] = p^L s0 + sum_{k<L} p^(L-1-k) w[b,c,k]
    modal_scan:     s[t] = p s[t-1] + w[t] (s[-1] = s0);  y[t] = Re sum_n R_n s_n[t] + D w[t]
    gated conv:     fir_r = bias_r + sum_i fir_weight_r[i] z_r[t-K+1+i]   (r = x2, x1, v; short conv)
                    w = x1 * v;  s = p s + w;  y = x2 * (Re sum_n R_n s_n + D w)

modal_scan equals ``fftconv(w, modal_kernel(R, p, L), D)`` (plus the initial state's response);
the C++ kernels never materialise (D, S, L) nor use FFT temporaries, and modal_kernel re-anchors
exact powers p^t so it stays accurate for |p| <= 1 (and slightly above) up to L = 4M.

Complex arguments are complex64 tensors or their real views (torch.view_as_real, a trailing 2);
complex128 / float64 views are accepted in the float64 (gradcheck) path. Gradients follow torch's
convention for complex tensors (dL/dRe + i dL/dIm).

Ops in the ``serengeti`` namespace: ``modal_kernel_fwd/_bwd``, ``modal_state_fwd/_bwd``,
``modal_scan_fwd/_bwd`` (autograd registered on the forward ops), ``gated_conv_step`` (mutates its
two states) and ``gated_conv_recurrence`` (inference only).
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor

from serengeti import _C
from serengeti._runtime import backend_for, get_num_threads
from serengeti.ops._library import define_op
from serengeti.ops._checks import ACTIVATION_DTYPES, check_bool, check_dtype, check_same_device, check_tensor
from serengeti.ops._launch import current_stream
from serengeti.ops._views import DTYPE_CODES, describe

LAYOUTS = ("column_split", "thirds", "interleave")
MAX_FIR_TAPS = 128
SHIFT_TAPS = 64  # H3's shift SSM




def _dtype_name(d: torch.dtype) -> str:
    return str(d).replace("torch.", "")


# ----------------------------------------------------------------------------------------------
# The ops (all complex tensors as real views (..., 2))
# ----------------------------------------------------------------------------------------------

_REAL_CODES = {torch.complex64: DTYPE_CODES[torch.float32], torch.complex128: DTYPE_CODES[torch.float64]}


def _describe_real(t: Tensor):
    """The C++ view of a complex tensor as its real view (..., 2), without building the view
    (torch.view_as_real costs ~2 us a call: a tenth of a decode step). Real tensors as describe()."""
    code = _REAL_CODES.get(t.dtype)
    if code is None:
        return describe(t)
    return (t.data_ptr(), code, (*t.shape, 2), (*[2 * st for st in t.stride()], 1))


def _empty_or(need: bool, shape, ref: Tensor) -> Tensor:
    return ref.new_empty(shape) if need else ref.new_empty((0,))


@torch.library.custom_op("serengeti::modal_kernel_fwd", mutates_args=())
def _modal_kernel_fwd(residues: Tensor, poles: Tensor, L: int) -> Tensor:
    h = poles.new_empty((poles.shape[0], L))
    _C.modal_kernel_forward(describe(residues), describe(poles), describe(h), backend_for(poles),
                            get_num_threads(), current_stream(poles))
    return h


@_modal_kernel_fwd.register_fake
def _(residues, poles, L):
    return poles.new_empty((poles.shape[0], L))


@torch.library.custom_op("serengeti::modal_kernel_bwd", mutates_args=())
def _modal_kernel_bwd(residues: Tensor, poles: Tensor, dh: Tensor, needs: List[bool]) -> List[Tensor]:
    dR, dp = (_empty_or(need, poles.shape, poles) for need in needs)
    _C.modal_kernel_backward(describe(residues), describe(poles), describe(dh),
                             describe(dR) if needs[0] else None, describe(dp) if needs[1] else None,
                             backend_for(poles), get_num_threads(), current_stream(poles))
    return [dR, dp]


@_modal_kernel_bwd.register_fake
def _(residues, poles, dh, needs):
    return [_empty_or(need, poles.shape, poles) for need in needs]


def _modal_kernel_setup(ctx, inputs, output) -> None:
    residues, poles, L = inputs
    ctx.save_for_backward(residues, poles)


def _modal_kernel_backward(ctx, dh: Tensor):
    residues, poles = ctx.saved_tensors
    needs = [bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])]
    if not any(needs):
        return None, None, None
    dR, dp = _modal_kernel_bwd(residues, poles, dh.contiguous(), needs)
    return (dR if needs[0] else None), (dp if needs[1] else None), None


_modal_kernel_fwd.register_autograd(_modal_kernel_backward, setup_context=_modal_kernel_setup)


def _state_shape(w: Tensor, poles: Tensor) -> Tuple[int, int, int, int]:
    return (w.shape[0], w.shape[1], poles.shape[1], 2)


@torch.library.custom_op("serengeti::modal_state_fwd", mutates_args=())
def _modal_state_fwd(w: Tensor, poles: Tensor, initial_state: Optional[Tensor]) -> Tensor:
    state = poles.new_empty(_state_shape(w, poles))
    _C.modal_state_forward(describe(w), describe(poles), describe(initial_state), describe(state),
                           backend_for(w), get_num_threads(), current_stream(w))
    return state


@_modal_state_fwd.register_fake
def _(w, poles, initial_state):
    return poles.new_empty(_state_shape(w, poles))


@torch.library.custom_op("serengeti::modal_state_bwd", mutates_args=())
def _modal_state_bwd(w: Tensor, poles: Tensor, initial_state: Optional[Tensor], dstate: Tensor,
                     needs: List[bool]) -> List[Tensor]:
    dw = _empty_or(needs[0], w.shape, w)
    dp = _empty_or(needs[1], poles.shape, poles)
    ds0 = _empty_or(needs[2], _state_shape(w, poles), poles)
    _C.modal_state_backward(describe(w), describe(poles), describe(initial_state), describe(dstate),
                            describe(dw) if needs[0] else None, describe(dp) if needs[1] else None,
                            describe(ds0) if needs[2] else None, backend_for(w), get_num_threads(),
                            current_stream(w))
    return [dw, dp, ds0]


@_modal_state_bwd.register_fake
def _(w, poles, initial_state, dstate, needs):
    return [_empty_or(needs[0], w.shape, w), _empty_or(needs[1], poles.shape, poles),
            _empty_or(needs[2], _state_shape(w, poles), poles)]


def _modal_state_setup(ctx, inputs, output) -> None:
    w, poles, initial_state = inputs
    ctx.save_for_backward(w, poles, initial_state)


def _modal_state_backward(ctx, dstate: Tensor):
    w, poles, initial_state = ctx.saved_tensors
    needs = [bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1]),
             bool(ctx.needs_input_grad[2]) and initial_state is not None]
    if not any(needs):
        return None, None, None
    grads = _modal_state_bwd(w, poles, initial_state, dstate.contiguous(), needs)
    return tuple(g if need else None for g, need in zip(grads, needs))


_modal_state_fwd.register_autograd(_modal_state_backward, setup_context=_modal_state_setup)


@torch.library.custom_op("serengeti::modal_scan_fwd", mutates_args=())
def _modal_scan_fwd(w: Tensor, residues: Tensor, poles: Tensor, D: Optional[Tensor],
                    initial_state: Optional[Tensor], return_final_state: bool) -> Tuple[Tensor, Tensor]:
    y = torch.empty(w.shape, dtype=w.dtype, device=w.device)
    final = _empty_or(return_final_state, _state_shape(w, poles), poles)
    _C.modal_scan_forward(describe(w), describe(residues), describe(poles), describe(D),
                          describe(initial_state), describe(y),
                          describe(final) if return_final_state else None, backend_for(w),
                          get_num_threads(), current_stream(w))
    return y, final


@_modal_scan_fwd.register_fake
def _(w, residues, poles, D, initial_state, return_final_state):
    return (torch.empty(w.shape, dtype=w.dtype, device=w.device),
            _empty_or(return_final_state, _state_shape(w, poles), poles))


_SCAN_GRADS = ("w", "residues", "poles", "D", "initial_state")


@torch.library.custom_op("serengeti::modal_scan_bwd", mutates_args=())
def _modal_scan_bwd(w: Tensor, residues: Tensor, poles: Tensor, D: Optional[Tensor],
                    initial_state: Optional[Tensor], dy: Tensor, dfinal_state: Optional[Tensor],
                    needs: List[bool]) -> List[Tensor]:
    like = (w, residues, poles, D, initial_state)
    grads = [_empty_or(need, ref.shape, ref) if ref is not None else w.new_empty((0,))
             for need, ref in zip(needs, like)]
    views = [describe(g) if need else None for g, need in zip(grads, needs)]
    _C.modal_scan_backward(describe(w), describe(residues), describe(poles), describe(D),
                           describe(initial_state), describe(dy), describe(dfinal_state), *views,
                           backend_for(w), get_num_threads(), current_stream(w))
    return grads


@_modal_scan_bwd.register_fake
def _(w, residues, poles, D, initial_state, dy, dfinal_state, needs):
    like = (w, residues, poles, D, initial_state)
    return [_empty_or(need, ref.shape, ref) if ref is not None else w.new_empty((0,))
            for need, ref in zip(needs, like)]


def _modal_scan_setup(ctx, inputs, output) -> None:
    w, residues, poles, D, initial_state, return_final_state = inputs
    ctx.save_for_backward(w, residues, poles, D, initial_state)
    ctx.return_final_state = return_final_state


def _modal_scan_backward(ctx, dy: Tensor, dfinal: Tensor):
    w, residues, poles, D, initial_state = ctx.saved_tensors
    present = (True, True, True, D is not None, initial_state is not None)
    needs = [bool(ctx.needs_input_grad[i]) and present[i] for i in range(5)]
    if not any(needs):
        return None, None, None, None, None, None
    dfinal_state = (dfinal.contiguous() if ctx.return_final_state and dfinal is not None
                    and dfinal.numel() > 0 else None)
    grads = _modal_scan_bwd(w, residues, poles, D, initial_state, dy.contiguous(), dfinal_state, needs)
    return (*[g if need else None for g, need in zip(grads, needs)], None)


_modal_scan_fwd.register_autograd(_modal_scan_backward, setup_context=_modal_scan_setup)


def _gated_conv_step_impl(z: Tensor, fir_state: Tensor, fir_weight: Tensor, fir_bias: Optional[Tensor],
                          poles: Tensor, residues: Tensor, D: Optional[Tensor], iir_state: Tensor,
                          layout: str, heads: int) -> Tensor:
    y = z.new_empty((z.shape[0], poles.shape[0]))
    _C.gated_conv_step(describe(z), describe(fir_state), describe(fir_weight), describe(fir_bias),
                       _describe_real(poles), _describe_real(residues), describe(D),
                       _describe_real(iir_state), layout, heads, describe(y), backend_for(z),
                       get_num_threads(), current_stream(z))
    return y


def _gated_conv_step_fake(z, fir_state, fir_weight, fir_bias, poles, residues, D, iir_state, layout, heads):
    return z.new_empty((z.shape[0], poles.shape[0]))


# A decode step is latency-bound: torch.library.custom_op with mutated arguments costs ~100 us of
# Python dispatch per call here (measured), an op with an explicit schema ~10 us (ops/_library.py).
# fir_state and iir_state (its real view) are the arguments it writes, declared with (a!) / (b!).
_gated_conv_step = define_op(
    "gated_conv_step(Tensor z, Tensor(a!) fir_state, Tensor fir_weight, Tensor? fir_bias, Tensor poles, "
    "Tensor residues, Tensor? D, Tensor(b!) iir_state, str layout, int heads) -> Tensor",
    _gated_conv_step_impl, _gated_conv_step_fake)


@torch.library.custom_op("serengeti::gated_conv_recurrence", mutates_args=())
def _gated_conv_recurrence(z: Tensor, fir_weight: Tensor, fir_bias: Optional[Tensor], poles: Tensor,
                           residues: Tensor, D: Optional[Tensor], layout: str, heads: int,
                           fir_state: Optional[Tensor], iir_state: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    B, C3, L = z.shape
    y = z.new_empty((B, poles.shape[0], L))
    fir_out = z.new_empty((B, C3, fir_weight.shape[1] - 1))
    iir_out = poles.new_empty((B, poles.shape[0], poles.shape[1], 2))
    _C.gated_conv_recurrence(describe(z), describe(fir_weight), describe(fir_bias), describe(poles),
                             describe(residues), describe(D), layout, heads, describe(fir_state),
                             describe(iir_state), describe(y), describe(fir_out), describe(iir_out),
                             backend_for(z), get_num_threads(), current_stream(z))
    return y, fir_out, iir_out


@_gated_conv_recurrence.register_fake
def _(z, fir_weight, fir_bias, poles, residues, D, layout, heads, fir_state, iir_state):
    B, C3, L = z.shape
    return (z.new_empty((B, poles.shape[0], L)), z.new_empty((B, C3, fir_weight.shape[1] - 1)),
            poles.new_empty((B, poles.shape[0], poles.shape[1], 2)))


# ----------------------------------------------------------------------------------------------
# Validation helpers
# ----------------------------------------------------------------------------------------------

def _real_view(x: object, name: str, shape_doc: str, ndim: int) -> Tensor:
    """``x`` complex with ``ndim`` dims, or its real view with ``ndim + 1`` dims ending in 2."""
    check_tensor(x, name)
    if x.is_complex():
        check_dtype(x, name, (torch.complex64, torch.complex128))
        if x.dim() != ndim:
            raise ValueError(f"{name}: expected a complex {ndim}-D tensor {shape_doc}, got shape {tuple(x.shape)}")
        return torch.view_as_real(x if x.is_contiguous() or x.stride(-1) == 1 else x.contiguous())
    if x.dim() != ndim + 1 or x.shape[-1] != 2:
        raise ValueError(f"{name}: expected a complex tensor {shape_doc} (complex64) or its real view "
                         f"with a trailing dimension of 2, got {_dtype_name(x.dtype)} of shape {tuple(x.shape)}")
    check_dtype(x, name, (torch.float32, torch.float64))
    return x


def _filter_dtype(act: Optional[torch.dtype]) -> torch.dtype:
    """Real dtype of poles, residues, states and D: float32, float64 with float64 activations."""
    return torch.float64 if act == torch.float64 else torch.float32


def _check_filter_dtype(x: Tensor, name: str, want: torch.dtype, act_name: str) -> None:
    if x.dtype != want:
        cplx = "complex128" if want == torch.float64 else "complex64"
        raise ValueError(f"{name}: expected {cplx} (or its {_dtype_name(want)} real view) with {act_name}, "
                         f"got {_dtype_name(x.dtype)}")


def _poles_residues(residues: Optional[object], poles: object, act: Optional[torch.dtype],
                    act_name: str) -> Tuple[Optional[Tensor], Tensor]:
    p = _real_view(poles, "poles", "(D, S)", 2)
    want = _filter_dtype(act) if act is not None else p.dtype
    _check_filter_dtype(p, "poles", want, act_name)
    if p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"poles: expected D >= 1 channels and S >= 1 modes, got shape {tuple(p.shape[:2])}")
    if residues is None:
        return None, p
    r = _real_view(residues, "residues", "(D, S)", 2)
    check_same_device(r, "residues", p, "poles")
    _check_filter_dtype(r, "residues", want, act_name)
    if r.shape != p.shape:
        raise ValueError(f"residues: expected poles' shape {tuple(p.shape[:2])} (D, S), got {tuple(r.shape[:2])}")
    return r, p


def _check_length(L: object) -> int:
    if isinstance(L, bool) or not isinstance(L, int) or L < 1:
        raise ValueError(f"L: expected a positive int, got {L!r}")
    return L


def _check_activation(x: object, name: str, ndim: int, shape_doc: str) -> Tensor:
    check_tensor(x, name, ndim, shape_doc)
    check_dtype(x, name, ACTIVATION_DTYPES)
    return x


def _check_state(state: Optional[object], name: str, B: int, p: Tensor, ref: Tensor) -> Optional[Tensor]:
    """A complex (B, D, S) state (or its real view) matching poles' dtype."""
    if state is None:
        return None
    s = _real_view(state, name, "(B, D, S)", 3)
    check_same_device(s, name, ref, "the activations")
    _check_filter_dtype(s, name, p.dtype, f"poles of dtype {_dtype_name(p.dtype)}")
    expected = (B, p.shape[0], p.shape[1])
    if tuple(s.shape[:3]) != expected:
        raise ValueError(f"{name}: expected shape {expected} (B, D, S), got {tuple(s.shape[:3])}")
    return s


def _check_skip(D: Optional[Tensor], channels: int, p: Tensor, act_name: str) -> Optional[Tensor]:
    if D is None:
        return None
    check_tensor(D, "D", 1, "(D,)")
    check_same_device(D, "D", p, "poles")
    if D.dtype != p.dtype:
        raise ValueError(f"D: expected dtype {_dtype_name(p.dtype)} with {act_name}, got {_dtype_name(D.dtype)}")
    if D.shape[0] != channels:
        raise ValueError(f"D: expected shape ({channels},), got {tuple(D.shape)}")
    return D


def _check_channels(x: Tensor, name: str, dim: int, channels: int, p: Tensor) -> None:
    check_same_device(x, name, p, "poles")
    if x.shape[dim] != channels:
        raise ValueError(f"{name}: expected {channels} channels in dim {dim} (poles' D), got shape {tuple(x.shape)}")


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------

def modal_kernel(residues: Tensor, poles: Tensor, L: int) -> Tensor:
    """The long filter of a modal system: ``h[c, t] = Re sum_n R[c,n] p[c,n]^t`` for t < L.

    Args:
        residues, poles: complex64 (D, S), or their real views (D, S, 2) float32; complex128 /
            float64 give a float64 result (gradcheck).
        L: filter length (>= 1).

    Returns:
        h: (D, L) float32 (float64 for float64 inputs). Memory O(D*L) (never (D, S, L)); accurate for
        |p| <= 1 and slightly above up to L = 4M (exact powers are re-anchored every few blocks).
        Differentiable: dR = sum_t dh[t] conj(p^t), dp = sum_t dh[t] conj(R t p^(t-1)).
    """
    L = _check_length(L)
    r, p = _poles_residues(residues, poles, None, "")
    return _modal_kernel_fwd(r, p, L)


def modal_state(w: Tensor, poles: Tensor, initial_state: Optional[Tensor] = None) -> Tensor:
    """The state of ``s[t] = p s[t-1] + w[t]`` after the whole sequence (e.g. after a prompt).

    ``s[b,c,n] = p^L s0 + sum_{k<L} p^(L-1-k) w[b,c,k]``.

    Args:
        w: (B, D, L) float32, float16, bfloat16 (or float64), any strides.
        poles: complex64 (D, S) or its (D, S, 2) real view (complex128 with float64 w).
        initial_state: complex (B, D, S) s0, or None (zero).

    Returns:
        s: (B, D, S) complex64 (complex128 for float64 w). Extra memory O(B*D*S) at any L.
        Differentiable in w, poles and initial_state.
    """
    _check_activation(w, "w", 3, "(B, D, L)")
    B, C, L = w.shape
    if L < 1:
        raise ValueError(f"w: expected a sequence length L >= 1, got shape {tuple(w.shape)}")
    _, p = _poles_residues(None, poles, w.dtype, f"{_dtype_name(w.dtype)} w")
    _check_channels(w, "w", 1, p.shape[0], p)
    s0 = _check_state(initial_state, "initial_state", B, p, w)
    return torch.view_as_complex(_modal_state_fwd(w, p, s0))


def modal_scan(w: Tensor, residues: Tensor, poles: Tensor, D: Optional[Tensor] = None,
               initial_state: Optional[Tensor] = None,
               return_final_state: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Recurrent evaluation of a modal filter: ``s[t] = p s[t-1] + w[t]``,
    ``y[t] = Re sum_n R_n s_n[t] + D w[t]`` (s[-1] = initial_state or 0).

    With a zero initial state this equals ``fftconv(w, modal_kernel(R, p, L), D)`` exactly (in exact
    arithmetic), in O(B*D*S*L) work and no FFT: the better choice for few modes (S = 2).

    Args:
        w: (B, D, L) float32, float16, bfloat16 (or float64). residues, poles: complex (D, S) or
            real views (D, S, 2). D: (D,) float32 (float64 with float64 w). initial_state: complex
            (B, D, S). return_final_state: also return s[L-1], complex (B, D, S).

    Returns:
        y (B, D, L) in w's dtype [, final state]. Differentiable in every tensor argument.
    """
    _check_activation(w, "w", 3, "(B, D, L)")
    check_bool(return_final_state, "return_final_state")
    B, C, L = w.shape
    if L < 1:
        raise ValueError(f"w: expected a sequence length L >= 1, got shape {tuple(w.shape)}")
    act = f"{_dtype_name(w.dtype)} w"
    r, p = _poles_residues(residues, poles, w.dtype, act)
    _check_channels(w, "w", 1, p.shape[0], p)
    D = _check_skip(D, C, p, act)
    s0 = _check_state(initial_state, "initial_state", B, p, w)
    y, final = _modal_scan_fwd(w, r, p, D, s0, return_final_state)
    return (y, torch.view_as_complex(final)) if return_final_state else y


def _check_gated(z: Tensor, fir_weight: Tensor, fir_bias: Optional[Tensor], poles: Tensor,
                 residues: Tensor, D: Optional[Tensor], layout: str, heads: int):
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {list(LAYOUTS)}, got {layout!r}")
    act = f"{_dtype_name(z.dtype)} z"
    r, p = _poles_residues(residues, poles, z.dtype, act)
    C = p.shape[0]
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1 or C % heads != 0:
        raise ValueError(f"heads: expected a positive int dividing D = {C}, got {heads!r}")
    check_same_device(z, "z", p, "poles")
    if z.shape[1] != 3 * C:
        raise ValueError(f"z: expected 3*D = {3 * C} channels (D = {C} from poles), got shape {tuple(z.shape)}")
    check_tensor(fir_weight, "fir_weight", 2, "(3D, K)")
    check_same_device(fir_weight, "fir_weight", z, "z")
    check_dtype(fir_weight, "fir_weight", ACTIVATION_DTYPES)
    if fir_weight.shape[0] != 3 * C or not 1 <= fir_weight.shape[1] <= MAX_FIR_TAPS:
        raise ValueError(f"fir_weight: expected shape (3D = {3 * C}, K) with 1 <= K <= {MAX_FIR_TAPS}, "
                         f"got {tuple(fir_weight.shape)}")
    if fir_bias is not None:
        check_tensor(fir_bias, "fir_bias", 1, "(3D,)")
        check_same_device(fir_bias, "fir_bias", z, "z")
        check_dtype(fir_bias, "fir_bias", ACTIVATION_DTYPES)
        if fir_bias.shape[0] != 3 * C:
            raise ValueError(f"fir_bias: expected shape ({3 * C},), got {tuple(fir_bias.shape)}")
    D = _check_skip(D, C, p, act)
    return r, p, D


def _check_fir_state(state: Tensor, B: int, C3: int, K: int, z: Tensor) -> None:
    check_tensor(state, "fir_state", 3, "(B, 3D, K-1)")
    check_same_device(state, "fir_state", z, "z")
    if state.dtype != z.dtype:
        raise ValueError(f"fir_state: expected z's dtype {_dtype_name(z.dtype)}, got {_dtype_name(state.dtype)}")
    if tuple(state.shape) != (B, C3, K - 1):
        raise ValueError(f"fir_state: expected shape {(B, C3, K - 1)} (B, 3D, K-1), got {tuple(state.shape)}")


def gated_conv_step(z_t: Tensor, fir_state: Tensor, fir_weight: Tensor, fir_bias: Optional[Tensor],
                    poles: Tensor, residues: Tensor, D: Optional[Tensor], iir_state: Tensor, *,
                    layout: str = "column_split", heads: int = 1) -> Tensor:
    """One decode step of a StripedHyena Hyena block (after the in-projection), fused in one kernel.

    ``fir = fir_bias + fir_weight[:, K-1] z_t + sum_{i<K-1} fir_weight[:, i] fir_state[..., i]`` on
    all 3D channels (then fir_state shifts in z_t: short_conv_step's convention); split into
    (x2, x1, v) by ``layout``; ``w = x1 * v``; ``iir_state <- p * iir_state + w``;
    ``y = x2 * (Re sum_n R_n iir_state_n + D w)``.

    Layouts: "column_split" (StripedHyena: per head of D/heads channels, blocks [x2 | x1 | v] of
    3D/heads), "thirds" ([x2 | x1 | v] over all 3D), "interleave" (channels 3i, 3i+1, 3i+2).

    Args:
        z_t: (B, 3D) float32, float16, bfloat16 (or float64).
        fir_state: (B, 3D, K-1) in z's dtype, updated in place. fir_weight: (3D, K), fir_bias (3D,).
        poles, residues: complex (D, S). D: (D,) float32 or None.
        iir_state: complex64 (B, D, S) (or its real view), updated in place.

    Returns:
        y_t: (B, D) in z's dtype. Inference only (no autograd).
    """
    if _step_args_ok(z_t, fir_state, fir_weight, fir_bias, poles, residues, D, iir_state, layout, heads):
        return _gated_conv_step(z_t, fir_state, fir_weight, fir_bias, poles, residues, D, iir_state, layout, heads)
    # Something is unusual (real views, float64, a wrong argument): the full checks, which name the
    # offending argument, and real views throughout.
    _check_activation(z_t, "z_t", 2, "(B, 3D)")
    r, p, D = _check_gated(z_t, fir_weight, fir_bias, poles, residues, D, layout, heads)
    B = z_t.shape[0]
    _check_fir_state(fir_state, B, z_t.shape[1], fir_weight.shape[1], z_t)
    s = _check_state(iir_state, "iir_state", B, p, z_t)
    return _gated_conv_step(z_t, fir_state, fir_weight, fir_bias, p, r, D, s, layout, heads)


_STEP_FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _step_args_ok(z, fir_state, fir_weight, fir_bias, poles, residues, D, iir_state, layout, heads) -> bool:
    """True when the decode step's arguments are the common valid case: float32/16/bf16 z, complex64
    poles, residues and iir_state, everything on z's device with the right shapes. Implies every
    check of the full validation passes; a few attribute reads instead of ~15 us of checks a token."""
    T = Tensor
    if not (isinstance(z, T) and isinstance(fir_state, T) and isinstance(fir_weight, T)
            and isinstance(poles, T) and isinstance(residues, T) and isinstance(iir_state, T)):
        return False
    c64 = torch.complex64
    if z.dtype not in _STEP_FAST_DTYPES or poles.dtype != c64 or residues.dtype != c64 or iir_state.dtype != c64:
        return False
    if z.dim() != 2 or poles.dim() != 2 or fir_weight.dim() != 2 or fir_state.dim() != 3:
        return False
    B, C3 = z.shape
    Dc, S = poles.shape
    K = fir_weight.shape[1]
    if (C3 != 3 * Dc or Dc < 1 or S < 1 or residues.shape != poles.shape or iir_state.shape != (B, Dc, S)
            or fir_weight.shape[0] != C3 or not 1 <= K <= MAX_FIR_TAPS or fir_state.dtype != z.dtype
            or fir_state.shape != (B, C3, K - 1) or fir_weight.dtype not in ACTIVATION_DTYPES):
        return False
    if layout not in LAYOUTS or type(heads) is not int or heads < 1 or Dc % heads != 0:
        return False
    dev = z.device
    if (poles.device != dev or residues.device != dev or iir_state.device != dev or fir_state.device != dev
            or fir_weight.device != dev):
        return False
    if fir_bias is not None and not (isinstance(fir_bias, T) and fir_bias.dim() == 1 and fir_bias.shape[0] == C3
                                     and fir_bias.dtype in ACTIVATION_DTYPES and fir_bias.device == dev):
        return False
    if D is not None and not (isinstance(D, T) and D.dim() == 1 and D.shape[0] == Dc
                              and D.dtype == torch.float32 and D.device == dev):
        return False
    return True


def gated_conv_recurrence(z: Tensor, fir_weight: Tensor, fir_bias: Optional[Tensor], poles: Tensor,
                          residues: Tensor, D: Optional[Tensor], *, layout: str = "column_split",
                          heads: int = 1, fir_state: Optional[Tensor] = None,
                          iir_state: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """The fused gated conv of :func:`gated_conv_step` over a whole prompt, in one pass.

    Equals the parallel StripedHyena block math (short conv -> split -> fftconv with
    ``modal_kernel(R, p, L)`` and skip D -> gate x2) with memory constant in L.

    Args:
        z: (B, 3D, L) in-projection output; other arguments as for :func:`gated_conv_step`;
        fir_state (B, 3D, K-1) / iir_state complex (B, D, S): states before the prompt (zero if None).

    Returns:
        (y (B, D, L) in z's dtype, fir_state (B, 3D, K-1) in z's dtype, iir_state complex64 (B, D, S)),
        the states ready for :func:`gated_conv_step`. Inference only.
    """
    _check_activation(z, "z", 3, "(B, 3D, L)")
    r, p, D = _check_gated(z, fir_weight, fir_bias, poles, residues, D, layout, heads)
    B = z.shape[0]
    if fir_state is not None:
        _check_fir_state(fir_state, B, z.shape[1], fir_weight.shape[1], z)
    s = _check_state(iir_state, "iir_state", B, p, z)
    y, fir_out, iir_out = _gated_conv_recurrence(z, fir_weight, fir_bias, p, r, D, layout, heads, fir_state, s)
    return y, fir_out, torch.view_as_complex(iir_out)


# ----------------------------------------------------------------------------------------------
# H3's SSMs, in terms of the modal ops (plain torch for the discretisation: differentiable)
# ----------------------------------------------------------------------------------------------

def _complex_param(x: Tensor, name: str, shape: Tuple[int, ...]) -> Tensor:
    """x complex of ``shape`` or its real view (shape + (2,)) -> complex."""
    check_tensor(x, name)
    if not x.is_complex():
        if tuple(x.shape) != shape + (2,):
            raise ValueError(f"{name}: expected complex {shape} or its real view {shape + (2,)}, got "
                             f"{_dtype_name(x.dtype)} of shape {tuple(x.shape)}")
        check_dtype(x, name, (torch.float32, torch.float64))
        return torch.view_as_complex(x.contiguous())
    if tuple(x.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(x.shape)}")
    return x


def s4d_discretize(log_dt: Tensor, inv_A_real: Tensor, A_imag: Tensor, B: Tensor,
                   C: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """H3's bilinear discretisation: returns (dA, dB, C') with shapes (H, N) complex.

    ``dt = exp(log_dt)``, ``A = -exp(inv_A_real) + i A_imag``, ``dA = (1 + dt A/2) / (1 - dt A/2)``,
    ``dB = B dt / (1 - dt A/2)``, ``C' = B C dt / (1 - dt A/2)``. log_dt (H,); inv_A_real, A_imag (H, N);
    B (H, N) complex (or (H, N, 2)); C (1, H, N) complex (or (1, H, N, 2)) or None.
    """
    check_tensor(log_dt, "log_dt", 1, "(H,)")
    H = log_dt.shape[0]
    check_tensor(inv_A_real, "inv_A_real", 2, "(H, N)")
    if inv_A_real.shape[0] != H:
        raise ValueError(f"inv_A_real: expected shape ({H}, N), got {tuple(inv_A_real.shape)}")
    N = inv_A_real.shape[1]
    check_tensor(A_imag, "A_imag", 2, "(H, N)")
    if tuple(A_imag.shape) != (H, N):
        raise ValueError(f"A_imag: expected shape {(H, N)}, got {tuple(A_imag.shape)}")
    Bc = _complex_param(B, "B", (H, N))
    cdtype = Bc.dtype
    dt = torch.exp(log_dt).to(cdtype)[:, None]
    A = torch.complex(-torch.exp(inv_A_real), A_imag).to(cdtype)
    dtA = dt * A
    denom = 1 - dtA / 2
    dA = (1 + dtA / 2) / denom
    dB = Bc * dt / denom
    Cp = None
    if C is not None:
        Cc = _complex_param(C, "C", (1, H, N))[0]
        Cp = dB * Cc
    return dA, dB, Cp


def s4d_kernel(log_dt: Tensor, inv_A_real: Tensor, A_imag: Tensor, B: Tensor, C: Tensor, L: int) -> Tensor:
    """H3's diagonal SSM kernel ``K[h, l] = 2 Re sum_n C'_n dA_n^l`` (l < L), shape (H, L) float32.

    Built on :func:`modal_kernel` with R = 2 C', p = dA (see :func:`s4d_discretize`);
    differentiable in every parameter.
    """
    L = _check_length(L)
    dA, _, Cp = s4d_discretize(log_dt, inv_A_real, A_imag, B, C)
    return modal_kernel(2 * Cp, dA, L)


def s4d_state(u: Tensor, log_dt: Tensor, inv_A_real: Tensor, A_imag: Tensor, B: Tensor,
              initial_state: Optional[Tensor] = None) -> Tensor:
    """H3's diagonal-SSM state after a prompt, ``s = dA^L s0 + sum_l dA^(L-1-l) dB u_l`` (B, H, N) complex.

    dB is a per-(h, n) constant, so it factors out of the sum: ``s = dB * modal_state(u, dA)``, plus
    ``dA^L s0`` for an initial state s0 (B, H, N) complex. u: (B, H, L) activations; parameters as in
    :func:`s4d_discretize`. Differentiable in u and every parameter.
    """
    dA, dB, _ = s4d_discretize(log_dt, inv_A_real, A_imag, B)
    _check_activation(u, "u", 3, "(B, H, L)")
    want = torch.complex128 if u.dtype == torch.float64 else torch.complex64
    s = dB.to(want) * modal_state(u, dA.to(want))
    if initial_state is not None:
        s = s + dA.to(want) ** u.shape[-1] * initial_state
    return s


def shift_ssm_kernel(B: Tensor, C: Tensor) -> Tensor:
    """H3's shift-SSM filter ``K_shift[h, m] = sum_n B[h, n] C[0, h, n+m]`` (m < 64), shape (H, 64).

    B (H, 64), C (1, H, 64). Run it with short_conv (64 taps: ``weight = K_shift.flip(-1)``); its
    decode state is short_conv_step's state. Plain torch: differentiable.
    """
    check_tensor(B, "B", 2, "(H, 64)")
    check_tensor(C, "C", 3, "(1, H, 64)")
    H, N = B.shape
    if tuple(C.shape) != (1, H, N):
        raise ValueError(f"C: expected shape {(1, H, N)}, got {tuple(C.shape)}")
    # K[m] = sum_{n+m < N} B[n] C[n+m]: a correlation, as N shifted dot products.
    Cv = C[0]
    cols = [(B[:, : N - m] * Cv[:, m:]).sum(-1) for m in range(N)]
    return torch.stack(cols, dim=-1)


# ----------------------------------------------------------------------------------------------
# opcheck samples
# ----------------------------------------------------------------------------------------------

def sample_op_calls() -> List[Tuple[object, tuple, dict]]:
    """(op, args, kwargs) samples covering every serengeti modal / gated-conv op, for
    torch.library.opcheck (complex arguments as the real views the ops take)."""
    g = torch.Generator().manual_seed(0)

    def rnd(*shape, grad=False):
        return torch.randn(*shape, generator=g).requires_grad_(grad)

    B, Dc, S, L, K = 2, 3, 2, 9, 3
    # Poles inside the unit circle (|p| ~ 0.5 - 0.9), as real views (D, S, 2).
    radius = 0.5 + 0.4 * torch.rand(Dc, S, generator=g)
    angle = 3.0 * torch.rand(Dc, S, generator=g)
    poles = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], -1).requires_grad_(True)
    residues, w, skip = rnd(Dc, S, 2, grad=True), rnd(B, Dc, L, grad=True), rnd(Dc, grad=True)
    s0 = rnd(B, Dc, S, 2, grad=True)
    z, z_t = rnd(B, 3 * Dc, L), rnd(B, 3 * Dc)
    fir_weight, fir_bias = rnd(3 * Dc, K), rnd(3 * Dc)
    ops = torch.ops.serengeti
    det = [t.detach() for t in (residues, poles, w, skip, s0)]
    return [
        (ops.modal_kernel_fwd.default, (residues, poles, L), {}),
        (ops.modal_kernel_bwd.default, (det[0], det[1], rnd(Dc, L), [True, True]), {}),
        (ops.modal_state_fwd.default, (w, poles, s0), {}),
        (ops.modal_state_fwd.default, (w, poles, None), {}),
        (ops.modal_state_bwd.default, (det[2], det[1], det[4], rnd(B, Dc, S, 2), [True, True, True]), {}),
        (ops.modal_scan_fwd.default, (w, residues, poles, skip, s0, True), {}),
        (ops.modal_scan_fwd.default, (w, residues, poles, None, None, False), {}),
        (ops.modal_scan_bwd.default, (det[2], det[0], det[1], det[3], det[4], rnd(B, Dc, L), rnd(B, Dc, S, 2),
                                      [True] * 5), {}),
        (ops.gated_conv_step.default, (z_t, rnd(B, 3 * Dc, K - 1), fir_weight, fir_bias, det[1], det[0], det[3],
                                       rnd(B, Dc, S, 2), "column_split", 1), {}),
        (ops.gated_conv_step.default, (z_t, rnd(B, 3 * Dc, K - 1), fir_weight, None, det[1], det[0], None,
                                       rnd(B, Dc, S, 2), "interleave", 3), {}),
        (ops.gated_conv_recurrence.default, (z, fir_weight, fir_bias, det[1], det[0], det[3], "thirds", 1,
                                             rnd(B, 3 * Dc, K - 1), rnd(B, Dc, S, 2)), {}),
        (ops.gated_conv_recurrence.default, (z, fir_weight, None, det[1], det[0], None, "column_split", 3,
                                             None, None), {}),
    ]
