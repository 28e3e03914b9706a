"""torch.compile(fullgraph=True) of code calling fftconv / fft_filter, and torch.library.opcheck
of every registered serengeti fftconv op (samples from serengeti.ops.fftconv.sample_op_calls)."""

from __future__ import annotations

import functools

import pytest
import torch

import helpers
import serengeti

BACKEND_OP = "fftconv"  # the op family whose backends the `backend` fixture runs


@functools.lru_cache(maxsize=None)
def _compile_unusable_reason() -> str:
    """'' if torch.compile (inductor, CPU) works here, else why not (e.g. no C++ compiler).
    Probed on a function that does not involve serengeti, so our own failures never skip."""
    try:
        fn = torch.compile(lambda x: torch.sin(x) * 2 + 1, fullgraph=True)
        x = torch.randn(8)
        torch.testing.assert_close(fn(x), torch.sin(x) * 2 + 1)
    except Exception as e:  # noqa: BLE001 - any failure means compile is unusable here
        return f"torch.compile unusable in this environment: {type(e).__name__}: {str(e)[:200]}"
    return ""


@pytest.fixture
def compile_ok() -> None:
    reason = _compile_unusable_reason()
    if reason:
        pytest.skip(reason)
    torch._dynamo.reset()


def _model(u, k, D, pre, post, bidirectional: bool):  # type: ignore[no-untyped-def]
    """Some torch ops around fftconv, as in a real layer."""
    y = serengeti.fftconv(torch.tanh(u), k, D, pre, post, bidirectional=bidirectional)
    return y * 0.5 + u


def _model_k_f(u, k, D, bidirectional: bool):  # type: ignore[no-untyped-def]
    k_f = serengeti.fft_filter(k * 2.0, u.shape[-1], bidirectional=bidirectional)
    return serengeti.fftconv(u, D=D, k_f=k_f, bidirectional=bidirectional).relu()


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
def test_compile_forward_matches_eager(backend: str, compile_ok: None, bidirectional: bool) -> None:
    inp = helpers.make_fftconv_inputs(2, 5, 64, 40, torch.float32, D=True, pregate=True, postgate=True,
                                      seed=1, device=helpers.device_for(backend))
    args = (inp.u, inp.k, inp.D, inp.pregate, inp.postgate)
    eager = _model(*args, bidirectional)
    compiled = torch.compile(_model, fullgraph=True)(*args, bidirectional)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)

    eager_f = _model_k_f(inp.u, inp.k, inp.D, bidirectional)
    compiled_f = torch.compile(_model_k_f, fullgraph=True)(inp.u, inp.k, inp.D, bidirectional)
    torch.testing.assert_close(compiled_f, eager_f, rtol=1e-5, atol=1e-5)


def test_compile_backward_matches_eager(backend: str, compile_ok: None) -> None:
    inp = helpers.make_fftconv_inputs(2, 5, 64, 40, torch.float32, D=True, pregate=True, postgate=True,
                                      seed=2, requires_grad=True, device=helpers.device_for(backend))
    args = list(inp.tensors().values())
    dy = torch.randn(2, 5, 64, generator=torch.Generator().manual_seed(3)).to(inp.u.device)

    def grads(fn):  # type: ignore[no-untyped-def]
        out = fn(*args, False)
        return (out.detach(), *torch.autograd.grad(out, args, dy))

    eager = grads(_model)
    compiled = grads(torch.compile(_model, fullgraph=True))
    for name, a, b in zip(["y", *inp.tensors()], compiled, eager):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")

    # through fft_filter too (gradient reaches k via the spectrum)
    k_args = [inp.u, inp.k, inp.D]

    def grads_f(fn):  # type: ignore[no-untyped-def]
        out = fn(*k_args, True)
        return (out.detach(), *torch.autograd.grad(out, k_args, dy))

    for a, b in zip(grads_f(torch.compile(_model_k_f, fullgraph=True)), grads_f(_model_k_f)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def _fftconv_op_names() -> set[str]:
    """Names (without overload) of every fftconv-family op registered under serengeti::."""
    names = set()
    for qualified in torch._C._dispatch_get_all_op_names():
        ns, _, name = qualified.partition("::")
        if ns == "serengeti" and ("fftconv" in name or "fft_filter" in name):
            names.add(name.split(".")[0])
    return names


def _samples() -> list:
    from serengeti.ops.fftconv import sample_op_calls

    return list(sample_op_calls())


def test_sample_op_calls_cover_every_fftconv_op() -> None:
    registered = _fftconv_op_names()
    assert registered, "no serengeti fftconv ops are registered with torch.library"
    sampled = {op.name().split("::")[1].split(".")[0] for op, _, _ in _samples()}
    missing = registered - sampled
    assert not missing, f"ops without opcheck samples: {sorted(missing)}"


def test_opcheck_every_sample() -> None:
    samples = _samples()
    assert samples
    failures = []
    for op, args, kwargs in samples:
        try:
            torch.library.opcheck(op, args, kwargs)
        except Exception as e:  # noqa: BLE001 - collect all failures, report together
            failures.append(f"{op}: {type(e).__name__}: {str(e)[:500]}")
    assert not failures, "\n".join(failures)
