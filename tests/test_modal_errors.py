"""Every validation error of the modal ops names the offending argument."""
from __future__ import annotations

import pytest
import torch

from serengeti.ops.modal import gated_conv_recurrence, gated_conv_step, modal_kernel, modal_scan, modal_state

BACKEND_OP = "modal"

D, S, B, L = 4, 2, 2, 5
P = torch.full((D, S), 0.5 + 0.1j, dtype=torch.complex64)
R = torch.ones(D, S, dtype=torch.complex64)
W = torch.randn(B, D, L)


@pytest.mark.parametrize("call,match", [
    (lambda: modal_kernel(R, P, 0), "L: expected a positive int"),
    (lambda: modal_kernel(R, torch.randn(D, S), 3), "poles: expected a complex tensor"),
    (lambda: modal_kernel(R, torch.randn(D, S, 3), 3), "poles: expected a complex tensor"),
    (lambda: modal_kernel(R[:2], P, 3), "residues: expected poles' shape"),
    (lambda: modal_kernel(R.to(torch.complex128), P, 3), "residues: expected complex64"),
    (lambda: modal_state(W[0], P), "w: expected a 3-D tensor"),
    (lambda: modal_state(W.int(), P), "w: expected dtype"),
    (lambda: modal_state(W[:, :3], P), "w: expected 4 channels"),
    (lambda: modal_state(W, P, torch.zeros(B, D, S + 1, dtype=torch.complex64)), "initial_state: expected shape"),
    (lambda: modal_state(W, P.to(torch.complex128)), "poles: expected complex64"),
    (lambda: modal_scan(W, R, P, torch.ones(D + 1)), "D: expected shape"),
    (lambda: modal_scan(W, R, P, torch.ones(D, dtype=torch.float64)), "D: expected dtype float32"),
    (lambda: modal_scan(W, R, P, return_final_state=1), "return_final_state: expected a bool"),
])
def test_modal_errors(backend, call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _gated_args(layout="column_split", heads=2, K=3):
    z = torch.randn(B, 3 * D)
    return dict(z_t=z, fir_state=torch.zeros(B, 3 * D, K - 1), fir_weight=torch.randn(3 * D, K),
                fir_bias=torch.randn(3 * D), poles=P, residues=R, D=torch.ones(D),
                iir_state=torch.zeros(B, D, S, dtype=torch.complex64), layout=layout, heads=heads)


@pytest.mark.parametrize("change,match", [
    (dict(layout="rows"), "layout: expected one of"),
    (dict(heads=3), "heads: expected a positive int dividing D"),
    (dict(z_t=torch.randn(B, 3 * D + 1)), "z: expected 3\\*D"),
    (dict(fir_weight=torch.randn(3 * D, 200)), "fir_weight: expected shape"),
    (dict(fir_bias=torch.randn(D)), "fir_bias: expected shape"),
    (dict(fir_state=torch.zeros(B, 3 * D, 5)), "fir_state: expected shape"),
    (dict(fir_state=torch.zeros(B, 3 * D, 2, dtype=torch.bfloat16)), "fir_state: expected z's dtype"),
    (dict(iir_state=torch.zeros(B, D, S)), "iir_state: expected a complex tensor"),
    (dict(poles=torch.randn(D, S)), "poles: expected a complex tensor"),
    (dict(D=torch.ones(D + 1)), "D: expected shape"),
])
def test_gated_step_errors(backend, change, match):
    args = _gated_args()
    args.update(change)
    kwargs = {k: args.pop(k) for k in ("layout", "heads")}
    with pytest.raises(ValueError, match=match):
        gated_conv_step(*args.values(), **kwargs)


def test_gated_recurrence_errors(backend):
    z = torch.randn(B, 3 * D, L)
    w = torch.randn(3 * D, 3)
    with pytest.raises(ValueError, match="z: expected a 3-D tensor"):
        gated_conv_recurrence(z[..., 0], w, None, P, R, None)
    with pytest.raises(ValueError, match="fir_state: expected shape"):
        gated_conv_recurrence(z, w, None, P, R, None, fir_state=torch.zeros(B, 3 * D, 1))
    with pytest.raises(ValueError, match="heads: expected"):
        gated_conv_recurrence(z, w, None, P, R, None, heads=0)
