"""torch.library.opcheck of every serengeti modal / gated-conv op (samples from
serengeti.ops.modal.sample_op_calls), and torch.compile(fullgraph=True) of modal_kernel and
modal_scan, forward and backward, against eager."""
from __future__ import annotations

import math

import pytest
import torch

from serengeti.ops.modal import modal_kernel, modal_scan

_FAMILY = ("modal", "gated_conv")


def _op_names() -> set:
    names = set()
    for qualified in torch._C._dispatch_get_all_op_names():
        ns, _, name = qualified.partition("::")
        if ns == "serengeti" and name.startswith(_FAMILY):
            names.add(name.split(".")[0])
    return names


def _samples() -> list:
    from serengeti.ops.modal import sample_op_calls

    return list(sample_op_calls())


def test_sample_op_calls_cover_every_modal_op() -> None:
    registered = _op_names()
    assert {"modal_kernel_fwd", "modal_scan_fwd", "gated_conv_step"} <= registered
    sampled = {op.name().split("::")[1].split(".")[0] for op, _, _ in _samples()}
    missing = registered - sampled
    assert not missing, f"ops without opcheck samples: {sorted(missing)}"


def test_opcheck_every_sample() -> None:
    failures = []
    for op, args, kwargs in _samples():
        try:
            torch.library.opcheck(op, args, kwargs)
        except Exception as e:  # noqa: BLE001 - collect all failures, report together
            failures.append(f"{op}: {type(e).__name__}: {str(e)[:500]}")
    assert not failures, "\n".join(failures)


def _filter(D, S, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.polar(0.6 + 0.35 * torch.rand(D, S, generator=g), math.pi * torch.rand(D, S, generator=g))
    R = torch.randn(D, S, generator=g, dtype=torch.complex64)
    return torch.view_as_real(R).clone().requires_grad_(), torch.view_as_real(p.to(torch.complex64)).clone().requires_grad_()


def _kernel_model(R, p, w):
    h = modal_kernel(R, p * 0.99, w.shape[-1])
    return (h[None] * w).tanh().sum(-1)


def _scan_model(R, p, w, Dk):
    y, s = modal_scan(torch.relu(w) + w, R, p, Dk, return_final_state=True)
    return y * 2 + 1, torch.view_as_real(s).sum()


# aot_eager traces through dynamo + AOTAutograd (fake tensors, functionalisation, the backward
# graph) exactly as inductor does, without compiling C++ (seconds instead of minutes here).
@pytest.mark.parametrize("model", ["kernel", "scan"])
def test_compile_forward_backward_matches_eager(model) -> None:
    torch._dynamo.reset()
    R, p = _filter(4, 3)
    w = torch.randn(2, 4, 37, requires_grad=True)
    Dk = torch.randn(4, requires_grad=True)
    if model == "kernel":
        fn, args = _kernel_model, (R, p, w)
    else:
        fn = lambda R, p, w, Dk: sum(o.sum() * c for o, c in zip(_scan_model(R, p, w, Dk), (1.0, 0.5)))  # noqa: E731
        args = (R, p, w, Dk)
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")

    def run(f):
        out = f(*args)
        loss = out.sum() if out.dim() else out
        return (out.detach(), *torch.autograd.grad(loss, args))

    for name, a, b in zip(["out", "R", "p", "w", "D"], run(compiled), run(fn)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")
