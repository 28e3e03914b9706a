"""Threading: concurrent Python callers, and results independent of serengeti.set_num_threads."""

from __future__ import annotations

import threading

from typing import Iterator

import pytest
import torch

import helpers
import serengeti

BACKEND_OP = "fftconv"  # the op family whose backends the `backend` fixture runs


@pytest.fixture
def restore_threads() -> Iterator[None]:
    old = serengeti.get_num_threads()
    yield
    serengeti.set_num_threads(old)


def test_concurrent_python_threads() -> None:
    """Two Python threads call fftconv at the same time on different shapes / options; every
    result equals the one computed alone (bitwise) and matches the reference."""
    jobs = [
        (helpers.make_fftconv_inputs(2, 37, 1000, 700, torch.float32, D=True, pregate=True, seed=1), False),
        (helpers.make_fftconv_inputs(3, 11, 333, 665, torch.bfloat16, postgate=True, seed=2), True),
    ]
    alone = [helpers.call_fftconv(inp, bidirectional=b) for inp, b in jobs]
    results: list[list[torch.Tensor]] = [[], []]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(i: int) -> None:
        try:
            inp, b = jobs[i]
            barrier.wait()
            for _ in range(6):
                results[i].append(helpers.call_fftconv(inp, bidirectional=b))
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert not errors, errors
    for i, (inp, b) in enumerate(jobs):
        helpers.assert_fftconv_close(alone[i], inp, bidirectional=b)
        assert len(results[i]) == 6
        for y in results[i]:
            assert torch.equal(y, alone[i]), f"job {i}: concurrent result differs from the serial one"


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
def test_results_independent_of_thread_count(restore_threads: None, bidirectional: bool) -> None:
    """set_num_threads(1) and (2) give bitwise identical float32 outputs and gradients."""
    B, H, L = 2, 111, 1000
    inp = helpers.make_fftconv_inputs(B, H, L, 2 * L - 1 if bidirectional else L, torch.float32, D=True,
                                      pregate=True, postgate=True, seed=3, requires_grad=True)
    dy = torch.randn(B, H, L, generator=torch.Generator().manual_seed(4))
    outs = {}
    for n in (1, 2):
        serengeti.set_num_threads(n)
        assert serengeti.get_num_threads() == n
        y = helpers.call_fftconv(inp, bidirectional=bidirectional)
        grads = torch.autograd.grad(y, list(inp.tensors().values()), dy)
        outs[n] = (y.detach(), *grads)
    helpers.assert_fftconv_close(outs[1][0], inp, bidirectional=bidirectional)
    for name, a, b in zip(["y", *inp.tensors()], outs[1], outs[2]):
        assert torch.equal(a, b), f"{name} differs between 1 and 2 threads"
