"""Backward of serengeti.fftconv and fft_filter.

- torch.autograd.gradcheck in float64 for every differentiable input (u, k, D, pregate, postgate;
  k_f both as a leaf and through fft_filter; fft_filter itself), L in {1, 5, 33}, H = 3, B = 2,
  causal and bidirectional;
- float32 (and float16 / bfloat16) gradients against autograd through the float64 reference, with
  the tolerance rule of helpers.assert_grad_close;
- gradients requested for a subset of the inputs;
- determinism: repeated backward passes give bitwise identical gradients (B = 5).

gradcheck and the float64 comparison run on the cpu backend only (helpers.skip_unless_dtype_supported);
the CUDA kernels (emu, cuda) are checked by the float32 / half tests, whose k_f subset test also
checks the spectrum gradient through fft_filter's adjoint.
"""

from __future__ import annotations

import pytest
import torch

import helpers
import serengeti

from helpers import EPS, device_for, rel_rms

BACKEND_OP = "fftconv"  # the op family whose backends the `backend` fixture runs

F64 = torch.float64
GRAD_NAMES = ("u", "k", "D", "pregate", "postgate")


def _gradcheck(fn, args) -> bool:  # type: ignore[no-untyped-def]
    """Full Jacobian check for small problems; for larger ones gradcheck's fast mode (it compares
    v^T J u for random vectors u, v, which any wrong Jacobian entry fails with probability 1)."""
    n = sum(a.numel() for a in args if isinstance(a, torch.Tensor) and a.requires_grad)
    return torch.autograd.gradcheck(fn, args, fast_mode=n > 200)


def _Lk_for(L: int, bidirectional: bool) -> int:
    """A filter longer than the reach of the sequence, so that ignored taps are exercised too
    (their gradient must be exactly zero)."""
    return 2 * L + 2 if bidirectional else L + 3


# ------------------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 5, 33])
def test_gradcheck_all_inputs(backend: str, L: int, bidirectional: bool) -> None:
    helpers.skip_unless_dtype_supported(backend, F64)
    inp = helpers.make_fftconv_inputs(2, 3, L, _Lk_for(L, bidirectional), F64, D=True, pregate=True,
                                      postgate=True, seed=L, requires_grad=True, device=device_for(backend))
    args = (inp.u, inp.k, inp.D, inp.pregate, inp.postgate)

    def f(u, k, D, pre, post):  # type: ignore[no-untyped-def]
        return serengeti.fftconv(u, k, D, pre, post, bidirectional=bidirectional)

    assert _gradcheck(f, args)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 5, 33])
def test_gradcheck_through_fft_filter(backend: str, L: int, bidirectional: bool) -> None:
    helpers.skip_unless_dtype_supported(backend, F64)
    inp = helpers.make_fftconv_inputs(2, 3, L, _Lk_for(L, bidirectional), F64, D=True, pregate=True,
                                      postgate=True, seed=L + 1, requires_grad=True, device=device_for(backend))

    def f(u, k, D, pre, post):  # type: ignore[no-untyped-def]
        k_f = serengeti.fft_filter(k, L, bidirectional=bidirectional)
        return serengeti.fftconv(u, None, D, pre, post, k_f=k_f, bidirectional=bidirectional)

    assert _gradcheck(f, (inp.u, inp.k, inp.D, inp.pregate, inp.postgate))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 5, 33])
def test_gradcheck_k_f_leaf(backend: str, L: int, bidirectional: bool) -> None:
    """k_f itself is a differentiable input (whatever its internal layout)."""
    helpers.skip_unless_dtype_supported(backend, F64)
    inp = helpers.make_fftconv_inputs(2, 3, L, _Lk_for(L, bidirectional), F64, D=True, seed=L + 2,
                                      device=device_for(backend))
    k_f = serengeti.fft_filter(inp.k, L, bidirectional=bidirectional).detach().requires_grad_(True)
    u = inp.u.requires_grad_(True)

    def f(u, k_f):  # type: ignore[no-untyped-def]
        return serengeti.fftconv(u, D=inp.D, k_f=k_f, bidirectional=bidirectional)

    assert _gradcheck(f, (u, k_f))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L,Lk", [(1, 1), (1, 4), (5, 3), (5, 12), (33, 20)])
def test_gradcheck_fft_filter(backend: str, L: int, Lk: int, bidirectional: bool) -> None:
    helpers.skip_unless_dtype_supported(backend, F64)
    k = torch.randn(3, Lk, dtype=F64, generator=torch.Generator().manual_seed(Lk))
    k = k.to(device_for(backend)).requires_grad_(True)
    assert _gradcheck(lambda k: serengeti.fft_filter(k, L, bidirectional=bidirectional), (k,))


# ----------------------------------------------------------------- float32 vs the reference


def _reference_grads(inp: helpers.FFTConvInputs, dy: torch.Tensor, bidirectional: bool,
                     impl: str) -> dict[str, torch.Tensor]:
    """Gradients of <dy, f(inputs)> for f = float64 reference ("ref") or torch's float32 FFT
    convolution ("torch32"), at the op's own (CPU copies of the) input values."""
    leaves = {n: t.detach().cpu().clone().requires_grad_(True) for n, t in inp.tensors().items()}
    args = [leaves.get(n) for n in GRAD_NAMES]
    with helpers.torch_threads_for(inp.B * inp.H * inp.L):
        if impl == "ref":
            y = helpers.reference.fftconv_fft(*args, bidirectional=bidirectional)
        else:
            y = helpers.torch_fftconv(*args, bidirectional=bidirectional, dtype=torch.float32)
        grads = torch.autograd.grad(y, list(leaves.values()), dy.cpu().to(y.dtype))
    return dict(zip(leaves, grads))


@pytest.mark.parametrize("use_k_f", [False, True], ids=["k", "k_f"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
def test_float32_grads_match_reference(backend: str, bidirectional: bool, use_k_f: bool) -> None:
    B, H, L = 2, 111, 1000
    if backend == "emu":
        B, H, L = 2, 9, 100
    Lk = 2 * L - 1 if bidirectional else L
    dev = device_for(backend)
    inp = helpers.make_fftconv_inputs(B, H, L, Lk, torch.float32, D=True, pregate=True, postgate=True,
                                      seed=11, requires_grad=True, device=dev)
    dy = torch.randn(B, H, L, generator=torch.Generator().manual_seed(12)).to(dev)
    y = helpers.call_fftconv(inp, bidirectional=bidirectional, use_k_f=use_k_f)
    names = list(inp.tensors())
    grads = dict(zip(names, torch.autograd.grad(y, list(inp.tensors().values()), dy)))
    ref = _reference_grads(inp, dy, bidirectional, "ref")
    base = _reference_grads(inp, dy, bidirectional, "torch32")
    n_sum = {"u": 1, "pregate": 1, "postgate": 1, "k": B, "D": B * L}
    for n in names:
        helpers.assert_grad_close(n, grads[n], ref[n], base[n], n_sum[n])


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_grads_match_reference(backend: str, dtype: torch.dtype, bidirectional: bool) -> None:
    """Half activations: gradients w.r.t. u and the gates come back in the dtype (rounded once),
    k and D gradients in float32; everything within eps(dtype) relative RMS of the float64
    reference evaluated on the same (rounded) inputs and grad_output."""
    B, H, L = 2, 5, 300
    Lk = 2 * L - 1 if bidirectional else 200
    dev = device_for(backend)
    inp = helpers.make_fftconv_inputs(B, H, L, Lk, dtype, D=True, pregate=True, postgate=True,
                                      seed=13, requires_grad=True, device=dev)
    dy = torch.randn(B, H, L, generator=torch.Generator().manual_seed(14)).to(device=dev, dtype=dtype)
    y = helpers.call_fftconv(inp, bidirectional=bidirectional)
    names = list(inp.tensors())
    grads = dict(zip(names, torch.autograd.grad(y, list(inp.tensors().values()), dy)))
    ref = _reference_grads(inp, dy, bidirectional, "ref")
    for n in names:
        t = dict(inp.tensors())[n]
        assert grads[n].dtype == t.dtype and grads[n].shape == t.shape, n
        assert bool(torch.isfinite(grads[n]).all()), n
        e = rel_rms(grads[n], ref[n])
        assert e <= EPS[dtype], f"grad {n}: relative RMS error {e:.3g} > {EPS[dtype]:.3g}"


def test_float64_grads_match_reference(backend: str) -> None:
    helpers.skip_unless_dtype_supported(backend, F64)
    inp = helpers.make_fftconv_inputs(2, 3, 200, 150, F64, D=True, pregate=True, postgate=True,
                                      seed=15, requires_grad=True, device=device_for(backend))
    dy = torch.randn(2, 3, 200, dtype=F64, generator=torch.Generator().manual_seed(16)).to(inp.u.device)
    for bidirectional in (False, True):
        y = helpers.call_fftconv(inp, bidirectional=bidirectional)
        grads = torch.autograd.grad(y, list(inp.tensors().values()), dy)
        ref = _reference_grads(inp, dy, bidirectional, "ref")
        for n, g in zip(inp.tensors(), grads):
            assert rel_rms(g, ref[n]) <= 1e-12, n


# --------------------------------------------------------------------------------- subsets


@pytest.mark.parametrize("wanted", ["u", "k", "D", "pregate", "postgate", "k_f", "u+D", "k+postgate"])
def test_grad_for_a_subset_of_inputs(backend: str, wanted: str) -> None:
    want = set(wanted.split("+"))
    B, H, L = 2, 3, 40
    dev = device_for(backend)
    inp = helpers.make_fftconv_inputs(B, H, L, 25, torch.float32, D=True, pregate=True, postgate=True,
                                      seed=17, device=dev)
    k_f = serengeti.fft_filter(inp.k, L) if "k_f" in want else None
    leaves = {"u": inp.u, "k": inp.k, "D": inp.D, "pregate": inp.pregate, "postgate": inp.postgate}
    if k_f is not None:
        leaves["k_f"] = k_f
    for n, t in leaves.items():
        t.requires_grad_(n in want)
    y = serengeti.fftconv(inp.u, None if k_f is not None else inp.k, inp.D, inp.pregate, inp.postgate,
                          k_f=k_f)
    assert y.requires_grad
    dy = torch.randn(B, H, L, generator=torch.Generator().manual_seed(18)).to(dev)
    y.backward(dy)
    for n, t in leaves.items():
        if n in want:
            assert t.grad is not None and t.grad.shape == t.shape and bool(torch.isfinite(t.grad).all()), n
        else:
            assert t.grad is None, f"{n} did not require grad but got one"
    ref = _reference_grads(inp, dy, False, "ref")
    for n in want - {"k_f"}:
        assert rel_rms(leaves[n].grad, ref[n]) <= 1e-5, n
    if "k_f" in want:
        # chain rule through the spectrum: d<dy, y>/dk = fft_filter's vjp applied to k_f.grad
        k_leaf = inp.k.detach().clone().requires_grad_(True)
        (dk,) = torch.autograd.grad(serengeti.fft_filter(k_leaf, L), k_leaf, leaves["k_f"].grad)
        assert rel_rms(dk, ref["k"]) <= 1e-5


def test_no_grad_inputs_give_no_graph(backend: str) -> None:
    inp = helpers.make_fftconv_inputs(2, 3, 16, 8, torch.float32, D=True, device=device_for(backend))
    y = helpers.call_fftconv(inp)
    assert not y.requires_grad and y.grad_fn is None
    inp.u.requires_grad_(True)
    with torch.no_grad():
        y = helpers.call_fftconv(inp)
    assert not y.requires_grad


# ------------------------------------------------------------------------------ determinism


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
def test_backward_is_deterministic(backend: str, bidirectional: bool) -> None:
    B, H, L = 5, 19, 700
    dev = device_for(backend)
    inp = helpers.make_fftconv_inputs(B, H, L, L, torch.float32, D=True, pregate=True, postgate=True,
                                      seed=19, requires_grad=True, device=dev)
    dy = torch.randn(B, H, L, generator=torch.Generator().manual_seed(20)).to(dev)
    runs = []
    for _ in range(3):
        y = helpers.call_fftconv(inp, bidirectional=bidirectional)
        runs.append(torch.autograd.grad(y, list(inp.tensors().values()), dy))
    for other in runs[1:]:
        for n, a, b in zip(inp.tensors(), runs[0], other):
            assert torch.equal(a, b), f"grad {n} differs between identical backward passes"
