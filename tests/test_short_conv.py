"""serengeti.short_conv / short_conv_step against serengeti.reference (float64 direct sums).

Every test runs once per backend implementing short_conv (cpu; emu where built; cuda with a GPU).
Tolerance: float32/float64 outputs within a relative bound of the float64 reference; half
precisions within 2 ulps of the output dtype relative to the magnitude bound
sum_j |w_j x_{t-j}| + |b| (the rounding of the result plus float32 accumulation).
"""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import serengeti
from helpers import device_for
from serengeti import reference
from serengeti.ops.short_conv import short_conv, short_conv_step

BACKEND_OP = "short_conv"  # the op family whose backends the `backend` fixture runs

DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]
EPS = {torch.float32: 2.0 ** -23, torch.float64: 2.0 ** -52, torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -7}


def _inputs(B, C, L, K, dtype, device, *, seed=0, bias=True, state=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, L, generator=g).to(dtype).to(device)
    w = (torch.randn(C, K, generator=g) / K ** 0.5).to(device)
    b = torch.randn(C, generator=g).to(device) if bias else None
    s = torch.randn(B, C, K - 1, generator=g).to(dtype).to(device) if state else None
    if dtype == torch.float64:
        w = w.double()
        b = b.double() if b is not None else None
    return x, w, b, s


def _bound(x, w, b, s):
    """Per-output magnitude bound sum_j |w_j x_{t-j}| + |b| (float64), for half tolerances."""
    y, _ = reference.short_conv(x.abs(), w.abs(), None if b is None else b.abs(), None,
                                None if s is None else s.abs())
    return y


def assert_close(y, y_ref, bound, dtype):
    y = y.to(torch.float64).cpu()
    y_ref = y_ref.cpu()
    assert torch.isfinite(y).all(), "output has NaN/inf (unwritten memory?)"
    if dtype in (torch.float32, torch.float64):
        tol = 64 * EPS[dtype] * (bound.cpu() + 1e-30)
    else:
        tol = 2 * EPS[dtype] * (bound.cpu() + y_ref.abs()) + 1e-6
    err = (y - y_ref).abs()
    assert (err <= tol).all(), f"max err {err.max():.3e}, tolerance there {tol.flatten()[err.argmax()]:.3e}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 64, 128])
@pytest.mark.parametrize("activation", [None, "silu"])
def test_forward_matches_reference(backend, dtype, K, activation):
    dev = device_for(backend)
    for (B, C, L), bias, state in itertools.product([(1, 3, 7), (3, 17, 127)], [False, True], [False, True]):
        if backend == "emu" and B * C * L > 4000:
            continue
        x, w, b, s = _inputs(B, C, L, K, dtype, dev, seed=K * 31 + L, bias=bias, state=state)
        y, final = short_conv(x, w, b, activation, initial_state=s, return_final_state=True)
        y_ref, final_ref = reference.short_conv(x, w, b, activation, s)
        assert y.dtype == dtype and y.shape == x.shape
        assert_close(y, y_ref, _bound(x, w, b, s), dtype)
        assert final.shape == (B, C, K - 1) and final.dtype == dtype
        assert torch.equal(final.to(torch.float64).cpu(), final_ref.cpu()), "final state is a copy of inputs"


@pytest.mark.parametrize("L", [1, 2, 3, 7, 127, 1000])
@pytest.mark.parametrize("K", [2, 3, 4, 9])
def test_zero_state_is_conv1d(backend, L, K):
    dev = device_for(backend)
    x, w, b, _ = _inputs(2, 5, L, K, torch.float32, dev, seed=L)
    y = short_conv(x, w, b)
    y_ref = F.conv1d(x.double(), w.double()[:, None], b.double(), padding=K - 1, groups=5)[..., :L]
    assert_close(y, y_ref, _bound(x, w, b, None), torch.float32)


@pytest.mark.parametrize("layout", ["channels_last_flag", "channels_last_memory", "sliced", "expanded_weight"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_layouts(backend, layout, dtype):
    dev = device_for(backend)
    B, C, L, K = 2, 19, 33, 4
    x, w, b, s = _inputs(B, C, L, K, dtype, dev, seed=5, state=True)
    y_ref, _ = reference.short_conv(x, w, b, "silu", s)
    if layout == "channels_last_flag":
        y = short_conv(x.transpose(1, 2).contiguous(), w, b, "silu", initial_state=s, channels_last=True)
        assert y.shape == (B, L, C)
        y = y.transpose(1, 2)
    elif layout == "channels_last_memory":
        x_cl = x.transpose(1, 2).contiguous().transpose(1, 2)
        y = short_conv(x_cl, w, b, "silu", initial_state=s)
        assert y.stride(1) == 1, "channels-last input gives channels-last output"
    elif layout == "sliced":
        big = torch.zeros(B, 2 * C, 3 * L, dtype=dtype, device=dev)
        big[:, ::2, 1::3] = x
        y = short_conv(big[:, ::2, 1::3], w, b, "silu", initial_state=s)
    else:
        w_big = torch.zeros(C, 2 * K, device=dev, dtype=w.dtype)
        w_big[:, ::2] = w
        y = short_conv(x, w_big[:, ::2], b, "silu", initial_state=s)
    assert_close(y, y_ref, _bound(x, w, b, s), dtype)


def test_inputs_unchanged_and_outputs_fresh(backend):
    dev = device_for(backend)
    x, w, b, s = _inputs(2, 4, 50, 3, torch.float32, dev, state=True)
    clones = [t.clone() for t in (x, w, b, s)]
    y1, f1 = short_conv(x, w, b, "silu", initial_state=s, return_final_state=True)
    y2, f2 = short_conv(x, w, b, "silu", initial_state=s, return_final_state=True)
    for t, c in zip((x, w, b, s), clones):
        assert torch.equal(t, c), "an input was modified"
    assert y1.data_ptr() != y2.data_ptr() and torch.equal(y1, y2)


@pytest.mark.parametrize("K", [1, 2, 4, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chunked_equals_whole(backend, K, dtype):
    dev = device_for(backend)
    x, w, b, _ = _inputs(2, 6, 40, K, dtype, dev, seed=K)
    y_whole, f_whole = short_conv(x, w, b, "silu", return_final_state=True)
    state, pieces = None, []
    for lo, hi in [(0, 1), (1, 3), (3, 4), (4, 23), (23, 40)]:  # chunks shorter and longer than K-1
        y, state = short_conv(x[..., lo:hi], w, b, "silu", initial_state=state, return_final_state=True)
        pieces.append(y)
    torch.testing.assert_close(torch.cat(pieces, -1), y_whole, rtol=0, atol=0)
    torch.testing.assert_close(state, f_whole, rtol=0, atol=0)


@pytest.mark.parametrize("activation", [None, "silu"])
@pytest.mark.parametrize("K", [1, 3, 5])
def test_gradcheck(backend, activation, K):
    dev = device_for(backend)
    for L in (1, 2, 9):
        x, w, b, s = _inputs(2, 3, L, K, torch.float64, dev, seed=L, state=K > 1)
        args = [t.requires_grad_(True) for t in (x, w, b)] + ([s.requires_grad_(True)] if s is not None else [])

        def f(x, w, b, *st):
            y, final = short_conv(x, w, b, activation, initial_state=st[0] if st else None, return_final_state=True)
            return y, final

        assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_backward_matches_reference(backend, dtype):
    dev = device_for(backend)
    B, C, L, K = (2, 5, 60, 4) if backend == "emu" else (3, 37, 300, 4)
    x, w, b, s = _inputs(B, C, L, K, dtype, dev, seed=3, state=True)
    g = torch.randn(B, C, L, dtype=dtype, device=dev)
    gs = torch.randn(B, C, K - 1, dtype=dtype, device=dev)
    leaves = [t.clone().requires_grad_(True) for t in (x, w, b, s)]
    y, final = short_conv(leaves[0], leaves[1], leaves[2], "silu", initial_state=leaves[3], return_final_state=True)
    grads = torch.autograd.grad((y * g).sum() + (final * gs).sum(), leaves)
    ref_leaves = [t.detach().double().requires_grad_(True) for t in (x, w, b, s)]
    y_r, f_r = reference.short_conv(ref_leaves[0], ref_leaves[1], ref_leaves[2], "silu", ref_leaves[3])
    ref_grads = torch.autograd.grad((y_r * g.double()).sum() + (f_r * gs.double()).sum(), ref_leaves)
    rel = 1e-4 if dtype == torch.float32 else 3e-2
    for name, got, want in zip(("x", "weight", "bias", "initial_state"), grads, ref_grads):
        assert got.dtype == {"weight": w.dtype, "bias": b.dtype}.get(name, dtype), name
        err = (got.double() - want).norm() / want.norm()
        assert err < rel, f"d{name}: relative error {err:.2e}"


def test_weight_grad_deterministic(backend):
    dev = device_for(backend)
    x, w, b, _ = _inputs(5, 8, 200, 4, torch.float32, dev, seed=9)
    g = torch.randn_like(x)
    results = []
    for threads in (1, 2, 1):
        serengeti.set_num_threads(threads)
        try:
            wl, bl = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
            results.append(torch.autograd.grad((short_conv(x, wl, bl, "silu") * g).sum(), (wl, bl)))
        finally:
            serengeti.set_num_threads(None)
    for other in results[1:]:
        assert all(torch.equal(a, c) for a, c in zip(results[0], other)), "weight/bias grads not bitwise reproducible"


@pytest.mark.parametrize("K", [1, 2, 4, 128])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_step_equals_forward(backend, K, dtype):
    dev = device_for(backend)
    B, C, L = 2, 9, 12
    x, w, b, s = _inputs(B, C, L, K, dtype, dev, seed=K, state=True)
    y_full, final = short_conv(x, w, b, "silu", initial_state=s, return_final_state=True)
    state = s.clone()
    state_ptr = state.data_ptr()
    x_before = x.clone()
    for t in range(L):
        y_t = short_conv_step(x[..., t], state, w, b, "silu")
        torch.testing.assert_close(y_t, y_full[..., t], rtol=0, atol=2 * EPS[dtype] * 8)
    assert state.data_ptr() == state_ptr, "state must be updated in place"
    assert torch.equal(state, final), "stepped state equals the forward's final state"
    assert torch.equal(x, x_before)


STEP_LAYOUTS = ["dense", "dense-weights-in-x-dtype", "strided-x", "transposed-state", "strided-weight"]


@pytest.mark.parametrize("layout", STEP_LAYOUTS)
@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 64])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16],
                         ids=lambda d: str(d).replace("torch.", ""))
def test_step_layouts(backend, K, dtype, layout):
    """One step against the float64 reference for every memory layout the step takes: the dense
    one models use (x, y, state and weight consecutive per channel; K = 2..4 as template constants,
    other K at run time; weights float32 or in x's dtype) and strided ones (generic path). The state
    is shifted exactly (stored bits move), x and the weights are left alone."""
    dev = device_for(backend)
    B, C = 3, 19
    x3, w, b, s = _inputs(B, C, 1, K, dtype, dev, seed=K + 7, state=True)
    x = x3[..., 0].contiguous()
    if layout == "dense-weights-in-x-dtype":
        w, b = w.to(dtype), b.to(dtype)
    elif layout == "strided-x":
        x = torch.stack([x, torch.zeros_like(x)], dim=-1)[..., 0]  # channel stride 2
    elif layout == "transposed-state":
        s = s.transpose(1, 2).contiguous().transpose(1, 2)  # (B, C, K-1) with channel stride 1
    elif layout == "strided-weight":
        w = w.t().contiguous().t()
    state, x_before, w_before = s.clone(), x.clone(), w.clone()
    y = short_conv_step(x, state, w, b, "silu" if K % 2 else None)
    y_ref, state_ref = reference.short_conv_step(x, s, w, b, "silu" if K % 2 else None)
    assert_close(y, y_ref, reference.short_conv_step(x.abs(), s.abs(), w.abs(), b.abs())[0], dtype)
    assert torch.equal(state.cpu(), state_ref.to(dtype).cpu()), "the state shifts by one and appends x"
    assert torch.equal(x, x_before) and torch.equal(w, w_before)


ERROR_CASES = [
    ("x", lambda x, w, b, s: short_conv(x[0], w, b)),
    ("x", lambda x, w, b, s: short_conv(x.int(), w, b)),
    ("weight", lambda x, w, b, s: short_conv(x, w[:-1], b)),
    ("weight", lambda x, w, b, s: short_conv(x, torch.randn(x.shape[1], 129), b)),
    ("weight", lambda x, w, b, s: short_conv(x, w[:, :0], b)),
    ("weight", lambda x, w, b, s: short_conv(x, w[None], b)),
    ("bias", lambda x, w, b, s: short_conv(x, w, b[:-1])),
    ("activation", lambda x, w, b, s: short_conv(x, w, b, "relu")),
    ("initial_state", lambda x, w, b, s: short_conv(x, w, b, initial_state=s[..., :-1])),
    ("initial_state", lambda x, w, b, s: short_conv(x, w, b, initial_state=s.double())),
    ("x", lambda x, w, b, s: short_conv(x[..., :0], w, b)),
    ("state", lambda x, w, b, s: short_conv_step(x[..., 0], s[:, :-1], w, b)),
    ("state", lambda x, w, b, s: short_conv_step(x[..., 0], s.half(), w, b)),
    ("x", lambda x, w, b, s: short_conv_step(x, s, w, b)),
    ("channels_last", lambda x, w, b, s: short_conv(x, w, b, channels_last=1)),
]


@pytest.mark.parametrize("name,call", ERROR_CASES, ids=[f"{i}-{n}" for i, (n, _) in enumerate(ERROR_CASES)])
def test_errors_name_the_argument(name, call):
    x, w, b, s = _inputs(2, 4, 10, 3, torch.float32, "cpu", state=True)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call(x, w, b, s)


def test_non_tensor_is_type_error():
    with pytest.raises(TypeError, match="x"):
        short_conv([1.0, 2.0], torch.randn(1, 2))


def test_compile_fullgraph(backend):
    dev = device_for(backend)
    x, w, b, s = _inputs(2, 8, 32, 4, torch.float32, dev, state=True)

    def f(x, w, b, s):
        y, final = short_conv(x, w, b, "silu", initial_state=s, return_final_state=True)
        return (y * 2).sum() + final.sum()

    w_e, w_c = w.clone().requires_grad_(True), w.clone().requires_grad_(True)
    eager = f(x, w_e, b, s)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")(x, w_c, b, s)
    torch.testing.assert_close(compiled, eager)
    eager.backward()
    compiled.backward()
    torch.testing.assert_close(w_c.grad, w_e.grad)


def test_opcheck():
    x, w, b, s = _inputs(2, 3, 9, 3, torch.float32, "cpu", state=True)
    ops = torch.ops.serengeti
    samples = [
        (ops.short_conv_fwd.default, (x.requires_grad_(True), w.requires_grad_(True), b, s, "silu", True)),
        (ops.short_conv_fwd.default, (x.detach(), w.detach(), None, None, "none", False)),
        (ops.short_conv_bwd.default, (x.detach(), w.detach(), b, s, "silu", torch.randn_like(x), torch.randn_like(s),
                                      [True, True, True, True])),
        (ops.short_conv_step.default, (x.detach()[..., 0].contiguous(), s.clone(), w.detach(), b, "silu")),
    ]
    for op, args in samples:
        torch.library.opcheck(op, args)
