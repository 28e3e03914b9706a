"""Short depthwise causal convolution: ``short_conv`` and the decode step ``short_conv_step``.

Math (x (B, C, L), weight (C, K), bias (C,), 1 <= K <= 128)::

    y[b,c,t] = act( bias[c] + sum_{j=0}^{K-1} weight[c, K-1-j] * x[b,c,t-j] )

x at t < 0 comes from ``initial_state`` (B, C, K-1) (the K-1 inputs before the chunk, oldest
first) or is zero; with a zero state this is ``F.conv1d(x, weight[:, None], bias, padding=K-1,
groups=C)[..., :L]``. ``act`` is the identity or SiLU. The final state holds the last K-1 inputs
(reaching into the initial state when L < K-1), so a prompt processed in chunks equals the prompt
processed whole — the same convention as causal-conv1d.

Ops: ``serengeti::short_conv_fwd``, ``short_conv_bwd`` and ``short_conv_step`` (which mutates
only its ``state`` argument).
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor

from serengeti import _C
from serengeti._runtime import backend_for, device_guard, get_num_threads
from serengeti.ops._library import define_op
from serengeti.ops._checks import (ACTIVATION_DTYPES, check_bool, check_dtype, check_same_device,
                                   check_tensor)
from serengeti.ops._launch import current_stream, run_native
from serengeti.ops._views import describe

MAX_TAPS = 128
_ACTIVATIONS = {None: "none", "silu": "silu"}
_GRAD_NAMES = ("x", "weight", "bias", "initial_state")




def _empty_like_layout(x: Tensor) -> Tensor:
    """An uninitialised (B, C, L) tensor stored like x: channels-last memory stays channels-last."""
    B, C, L = x.shape
    if x.stride(1) == 1 and x.stride(2) != 1 and C > 1:
        return torch.empty((B, L, C), dtype=x.dtype, device=x.device).transpose(1, 2)
    return torch.empty((B, C, L), dtype=x.dtype, device=x.device)


def _state_shape(x: Tensor, weight: Tensor) -> Tuple[int, int, int]:
    return (x.shape[0], x.shape[1], weight.shape[1] - 1)


@torch.library.custom_op("serengeti::short_conv_fwd", mutates_args=())
def _short_conv_fwd(x: Tensor, weight: Tensor, bias: Optional[Tensor], initial_state: Optional[Tensor],
                    activation: str, return_final_state: bool) -> Tuple[Tensor, Tensor]:
    y = _empty_like_layout(x)
    final = (x.new_empty(_state_shape(x, weight)) if return_final_state else x.new_empty((0,)))
    with device_guard(x):
        _C.short_conv_forward(describe(x), describe(weight), describe(bias), describe(initial_state),
                              activation, describe(y), describe(final) if return_final_state else None,
                              backend_for(x), get_num_threads(), current_stream(x))
    return y, final


@_short_conv_fwd.register_fake
def _(x, weight, bias, initial_state, activation, return_final_state):
    final = x.new_empty(_state_shape(x, weight)) if return_final_state else x.new_empty((0,))
    return _empty_like_layout(x), final


def _grad_buffers(x: Tensor, weight: Tensor, bias: Optional[Tensor], initial_state: Optional[Tensor],
                  needs: List[bool]) -> List[Tensor]:
    refs = (x, weight, bias, initial_state)
    out = []
    for ref, need in zip(refs, needs):
        if need and ref is not None:
            out.append(_empty_like_layout(ref) if ref is x else torch.empty_like(ref, memory_format=torch.contiguous_format))
        else:
            out.append(x.new_empty((0,)))
    return out


@torch.library.custom_op("serengeti::short_conv_bwd", mutates_args=())
def _short_conv_bwd(x: Tensor, weight: Tensor, bias: Optional[Tensor], initial_state: Optional[Tensor],
                    activation: str, dy: Tensor, dfinal_state: Optional[Tensor],
                    needs: List[bool]) -> List[Tensor]:
    grads = _grad_buffers(x, weight, bias, initial_state, needs)
    outs = [describe(g) if need else None for g, need in zip(grads, needs)]
    args = (describe(x), describe(weight), describe(bias), describe(initial_state), activation,
            describe(dy), describe(dfinal_state), *outs)
    # The CUDA kernels reduce dweight/dbias deterministically through a workspace we allocate.
    run_native(x, _C.short_conv_backward_workspace_bytes, _C.short_conv_backward, args)
    return grads


@_short_conv_bwd.register_fake
def _(x, weight, bias, initial_state, activation, dy, dfinal_state, needs):
    return _grad_buffers(x, weight, bias, initial_state, needs)


def _setup_context(ctx, inputs, output) -> None:
    x, weight, bias, initial_state, activation, return_final_state = inputs
    ctx.save_for_backward(x, weight, bias, initial_state)
    ctx.activation = activation
    ctx.return_final_state = return_final_state


def _backward(ctx, dy: Tensor, dfinal: Tensor):
    x, weight, bias, initial_state = ctx.saved_tensors
    present = (True, True, bias is not None, initial_state is not None)
    needs = [bool(ctx.needs_input_grad[i]) and present[i] for i in range(4)]
    if not any(needs):
        return None, None, None, None, None, None
    dfinal_state = dfinal if ctx.return_final_state and dfinal is not None and dfinal.numel() > 0 else None
    grads = _short_conv_bwd(x, weight, bias, initial_state, ctx.activation, dy, dfinal_state, needs)
    return (*[g if need else None for g, need in zip(grads, needs)], None, None)


_short_conv_fwd.register_autograd(_backward, setup_context=_setup_context)


def _short_conv_step_impl(x: Tensor, state: Tensor, weight: Tensor, bias: Optional[Tensor],
                          activation: str) -> Tensor:
    y = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    with device_guard(x):
        _C.short_conv_step(describe(x), describe(state), describe(weight), describe(bias), activation,
                           describe(y), backend_for(x), get_num_threads(), current_stream(x))
    return y


def _short_conv_step_fake(x, state, weight, bias, activation):
    return torch.empty(x.shape, dtype=x.dtype, device=x.device)


# A decode step is latency-bound: defined with an explicit schema (see ops/_library.py). `state`
# is the only argument it writes, declared with (a!).
_short_conv_step = define_op(
    "short_conv_step(Tensor x, Tensor(a!) state, Tensor weight, Tensor? bias, str activation) -> Tensor",
    _short_conv_step_impl, _short_conv_step_fake)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------

def _activation_code(activation: Optional[str]) -> str:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation: expected None or 'silu', got {activation!r}")
    return _ACTIVATIONS[activation]


def _check_weight_bias(weight: Tensor, bias: Optional[Tensor], C: int, x: Tensor) -> None:
    check_tensor(weight, "weight", 2, "(C, K)")
    check_same_device(weight, "weight", x, "x")
    check_dtype(weight, "weight", ACTIVATION_DTYPES)
    if weight.shape[0] != C or not 1 <= weight.shape[1] <= MAX_TAPS:
        raise ValueError(f"weight: expected shape (C={C}, K) with 1 <= K <= {MAX_TAPS}, got {tuple(weight.shape)}")
    if bias is not None:
        check_tensor(bias, "bias", 1, "(C,)")
        check_same_device(bias, "bias", x, "x")
        check_dtype(bias, "bias", ACTIVATION_DTYPES)
        if bias.shape[0] != C:
            raise ValueError(f"bias: expected shape ({C},), got {tuple(bias.shape)}")


def _check_state(state: Tensor, name: str, expected: Tuple[int, ...], x: Tensor) -> None:
    check_tensor(state, name, len(expected))
    check_same_device(state, name, x, "x")
    if state.dtype != x.dtype:
        raise ValueError(f"{name}: expected x's dtype {str(x.dtype).replace('torch.', '')}, "
                         f"got {str(state.dtype).replace('torch.', '')}")
    if tuple(state.shape) != expected:
        raise ValueError(f"{name}: expected shape {expected} (B, C, K-1), got {tuple(state.shape)}")


def short_conv(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
               activation: Optional[str] = None, *, initial_state: Optional[Tensor] = None,
               return_final_state: bool = False,
               channels_last: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Depthwise causal convolution with K <= 128 taps, optional bias and SiLU (differentiable).

    ``y[b,c,t] = act(bias[c] + sum_{j<K} weight[c, K-1-j] x[b,c,t-j])``, x at t < 0 from
    ``initial_state`` (else zero): ``F.conv1d(x, weight[:, None], bias, padding=K-1, groups=C)[..., :L]``.

    Args:
        x: (B, C, L), or (B, L, C) with ``channels_last=True``; float32, float16, bfloat16 or float64,
            any strides (memory stored channels-last is detected and kept for y).
        weight: (C, K), 1 <= K <= 128. bias: (C,). Any float dtype; arithmetic in float32
            (float64 for float64 x).
        activation: None or "silu".
        initial_state: (B, C, K-1), x's dtype: the K-1 inputs preceding this chunk, oldest first.
        return_final_state: also return the (B, C, K-1) state after the chunk.
        channels_last: x (and y) are laid out (B, L, C).

    Returns:
        y in x's shape and dtype, and the final state when ``return_final_state``.
    """
    check_tensor(x, "x", 3, "(B, L, C)" if channels_last else "(B, C, L)")
    check_dtype(x, "x", ACTIVATION_DTYPES)
    check_bool(channels_last, "channels_last")
    check_bool(return_final_state, "return_final_state")
    act = _activation_code(activation)
    xv = x.transpose(1, 2) if channels_last else x
    B, C, L = xv.shape
    if L < 1 or C < 1:
        raise ValueError(f"x: expected L >= 1 and C >= 1, got shape {tuple(x.shape)}")
    _check_weight_bias(weight, bias, C, x)
    if initial_state is not None:
        _check_state(initial_state, "initial_state", (B, C, weight.shape[1] - 1), x)
    y, final = _short_conv_fwd(xv, weight, bias, initial_state, act, return_final_state)
    if channels_last:
        y = y.transpose(1, 2)
    return (y, final) if return_final_state else y


def short_conv_step(x: Tensor, state: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                    activation: Optional[str] = None) -> Tensor:
    """One decoding step of :func:`short_conv`; updates ``state`` in place.

    ``y = act(bias + weight[:, K-1] x + sum_{i<K-1} weight[:, i] state[:, :, i])``, then
    ``state <- (state[..., 1:], x)``. x (B, C); state (B, C, K-1), x's dtype (the only argument
    modified); weight (C, K) with K <= 128; returns y (B, C).
    """
    check_tensor(x, "x", 2, "(B, C)")
    check_dtype(x, "x", ACTIVATION_DTYPES)
    act = _activation_code(activation)
    B, C = x.shape
    _check_weight_bias(weight, bias, C, x)
    _check_state(state, "state", (B, C, weight.shape[1] - 1), x)
    return _short_conv_step(x, state, weight, bias, act)
