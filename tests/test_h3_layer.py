"""The H3 layer (serengeti.nn.h3) against a float64 naive H3 written here from MODELS.md.

The naive layer runs the shift SSM as its state recurrence (x <- shift_right(x) + B u_t,
y_t = sum_n C[n] x[n]) and the diagonal SSM as an explicit causal sum with the kernel
K[l] = 2 Re sum_n C'_n dA_n^l, then the multi-head contraction of the H3 class docstring.

Tolerances: float64 layers agree to 1e-12 relative to max|ref| (a few hundred roundings of
~1e-16); float32 layers to 2e-5 relative (FFT convolution and complex64 kernel powers, error
~1e-6 at these sizes, with margin); bf16 activations to 3e-2 relative (inputs, projections and the
output rounded to bf16, unit roundoff 4e-3, summed over d = 8 terms).
"""
from __future__ import annotations

import math

import pytest
import torch

from helpers import one_thread
from serengeti.nn.h3 import H3, H3Cache


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny matmuls / layer norms on one torch thread: on the shared 2-core machine, torch's
    intra-op thread pool costs ~1 ms of synchronisation per tiny op (measured), 100x the op."""
    with one_thread():
        yield


def naive_h3(layer: H3, x: torch.Tensor) -> torch.Tensor:
    """float64 H3 of x (B, L, d) with ``layer``'s parameters (MODELS.md formulas, loops)."""
    P = {n: t.detach().double() for n, t in layer.named_parameters()}
    x = x.detach().double()
    Bn, L, d = x.shape
    hd = layer.head_dim
    H = d // hd
    q = x @ P["q_proj.weight"].T + P["q_proj.bias"]
    k = x @ P["k_proj.weight"].T + P["k_proj.bias"]
    v = x @ P["v_proj.weight"].T + P["v_proj.bias"]
    # Shift SSM by its recurrence, plus the ssm_k_D skip.
    Bs, Cs = P["ssm_k_kernel.kernel.B"], P["ssm_k_kernel.kernel.C"][0]
    N = Bs.shape[1]
    state = torch.zeros(Bn, d, N, dtype=torch.float64)
    kt = torch.zeros_like(k)
    for t in range(L):
        state = torch.cat([state.new_zeros(Bn, d, 1), state[..., :-1]], -1) + Bs * k[:, t, :, None]
        kt[:, t] = (Cs * state).sum(-1) + P["ssm_k_D"] * k[:, t]
    # Diagonal SSM kernel (bilinear discretisation).
    dt = P["kernel.kernel.log_dt"].exp()[:, None]
    A = -P["kernel.kernel.inv_A_real"].exp() + 1j * P["kernel.kernel.A_imag"]
    Bd = torch.view_as_complex(P["kernel.kernel.B"].contiguous())
    Cd = torch.view_as_complex(P["kernel.kernel.C"][0].contiguous())
    dA = (1 + dt * A / 2) / (1 - dt * A / 2)
    Cp = Bd * Cd * dt / (1 - dt * A / 2)
    ell = torch.arange(L, dtype=torch.float64)
    K = 2 * (Cp[:, :, None] * dA[:, :, None] ** ell).sum(1).real             # (H, L)
    kh, vh, qh = (t.view(Bn, L, H, hd) for t in (kt, v, q))
    kv = kh[..., :, None] * vh[..., None, :]                                  # (B, L, H, i, j)
    z = torch.zeros_like(kv)
    for t in range(L):
        for s in range(t + 1):
            z[:, t] += K[:, t - s][None, :, None, None] * kv[:, s]
    z = z + P["D"][None, None, :, None, None] * kv
    y = (qh[..., :, None] * z).sum(3)                                         # (B, L, H, j)
    y = y.permute(0, 1, 3, 2).reshape(Bn, L, d)                               # channel j*H + h
    return y @ P["output_linear.weight"].T + P["output_linear.bias"]


def make_layer(d: int = 8, d_state: int = 16, head_dim: int = 1, dtype=torch.float32, seed: int = 0) -> H3:
    """An H3 layer with generic parameters: random shift B (init e_1 hides index mistakes), random
    decay rates and larger steps so the kernels have structure over the test lengths."""
    torch.manual_seed(seed)
    layer = H3(d, d_state=d_state, head_dim=head_dim, dtype=dtype)
    with torch.no_grad():
        layer.ssm_k_kernel.kernel.B.normal_()
        diag = layer.kernel.kernel
        diag.log_dt.uniform_(math.log(0.05), math.log(0.5))
        diag.inv_A_real.uniform_(-2.0, 0.5)
        diag.B.normal_()
        for lin in (layer.q_proj, layer.k_proj, layer.v_proj, layer.output_linear):
            lin.weight.normal_(0.0, 1.0 / math.sqrt(d))
    return layer


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a.detach().double() - ref).abs().max() / ref.abs().max())


TOL = {torch.float64: 1e-12, torch.float32: 2e-5}


@pytest.mark.parametrize("head_dim", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_matches_naive(head_dim, dtype):
    layer = make_layer(head_dim=head_dim, dtype=dtype)
    x = torch.randn(2, 23, 8, dtype=dtype)
    ref = naive_h3(layer, x)
    y = layer(x)
    assert y.shape == x.shape and y.dtype == dtype
    assert rel_err(y, ref) < TOL[dtype]


@pytest.mark.parametrize("head_dim", [1, 2])
@pytest.mark.parametrize("style", ["fft", "scan"])
@pytest.mark.parametrize("prompt", [1, 2, 3, 20])
def test_prefill_then_step_matches_naive(head_dim, style, prompt):
    """prefill(x[:, :P]) equals the forward of the prefix, and steps continue it exactly; the
    prompt lengths below d_state - 1 make the shift state reach into its zero start."""
    layer = make_layer(head_dim=head_dim)
    total = 26
    x = torch.randn(2, total, 8)
    ref = naive_h3(layer, x)
    with torch.no_grad():
        y, cache = layer.prefill(x[:, :prompt], style=style)
        assert isinstance(cache, H3Cache)
        outs = [y] + [layer.step(x[:, t], cache)[:, None] for t in range(prompt, total)]
    assert rel_err(torch.cat(outs, 1), ref) < TOL[torch.float32]


def test_prefill_styles_agree_and_default_is_fft():
    layer = make_layer(head_dim=2)
    x = torch.randn(3, 40, 8)
    with torch.no_grad():
        y_fft, c_fft = layer.prefill(x, style="fft")
        y_scan, c_scan = layer.prefill(x, style="scan")
        y_def, _ = layer.prefill(x)
        y_fwd = layer(x)
    assert layer.prefill_styles[0] == "fft"
    assert torch.equal(y_def, y_fft) and torch.equal(y_fwd, y_fft)
    assert rel_err(y_scan, y_fft.double()) < 2e-5
    assert torch.equal(c_fft.shift_state, c_scan.shift_state)
    s_ref = c_fft.ssm_state
    assert float((c_scan.ssm_state - s_ref).abs().max() / s_ref.abs().max()) < 2e-5


def test_cache_is_fixed_size_and_has_documented_shapes():
    d, N, hd, Bsz = 8, 16, 2, 3
    layer = make_layer(d=d, d_state=N, head_dim=hd)
    with torch.no_grad():
        _, cache = layer.prefill(torch.randn(Bsz, 5, d))
        n0 = cache.nbytes()
        for _ in range(50):
            layer.step(torch.randn(Bsz, d), cache)
    assert cache.nbytes() == n0
    H = d // hd
    assert cache.shift_state.shape == (Bsz, d, N - 1)
    assert cache.ssm_state.shape == (Bsz * hd * hd, H, N // 2) and cache.ssm_state.dtype == torch.complex64


@pytest.mark.parametrize("head_dim", [1, 4])
def test_parameter_shapes_and_init(head_dim):
    """Shapes as the checkpoints store them (MODELS.md) and the S4D-Lin / shift init."""
    d, N = 8, 64
    H = d // head_dim
    layer = H3(d, d_state=N, head_dim=head_dim, dtype=torch.bfloat16)
    shapes = {n: tuple(p.shape) for n, p in layer.named_parameters()}
    assert shapes == {
        "q_proj.weight": (d, d), "q_proj.bias": (d,), "k_proj.weight": (d, d), "k_proj.bias": (d,),
        "v_proj.weight": (d, d), "v_proj.bias": (d,), "output_linear.weight": (d, d), "output_linear.bias": (d,),
        "ssm_k_kernel.kernel.B": (d, N), "ssm_k_kernel.kernel.C": (1, d, N), "ssm_k_D": (d,),
        "kernel.kernel.log_dt": (H,), "kernel.kernel.inv_A_real": (H, N // 2), "kernel.kernel.A_imag": (H, N // 2),
        "kernel.kernel.B": (H, N // 2, 2), "kernel.kernel.C": (1, H, N // 2, 2), "D": (H,),
    }
    for n, p in layer.named_parameters():
        want = torch.bfloat16 if n.split(".")[0] in ("q_proj", "k_proj", "v_proj", "output_linear") else torch.float32
        assert p.dtype == want, n
    diag = layer.kernel.kernel
    assert torch.equal(layer.ssm_k_kernel.kernel.B, torch.eye(N)[0].expand(d, N))
    assert torch.allclose(diag.inv_A_real, torch.full((H, N // 2), math.log(0.5)))
    assert torch.allclose(diag.A_imag, math.pi * torch.arange(N // 2).float().expand(H, -1))
    assert torch.equal(diag.B, torch.tensor([1.0, 0.0]).expand(H, N // 2, 2))
    assert bool(((diag.log_dt >= math.log(1e-3)) & (diag.log_dt <= math.log(1e-1))).all())


def test_bf16_activations_keep_ssm_math_in_float32():
    layer = make_layer()
    ref = None
    x = torch.randn(2, 30, 8)
    with torch.no_grad():
        for lin in (layer.q_proj, layer.k_proj, layer.v_proj, layer.output_linear):
            lin.to(torch.bfloat16)
        xb = x.to(torch.bfloat16)
        ref = naive_h3(layer, xb)
        y = layer(xb)
        yp, cache = layer.prefill(xb[:, :10])
        steps = torch.cat([yp] + [layer.step(xb[:, t], cache)[:, None] for t in range(10, 30)], 1)
    assert y.dtype == torch.bfloat16 and steps.dtype == torch.bfloat16
    assert cache.shift_state.dtype == torch.float32 and cache.ssm_state.dtype == torch.complex64
    assert rel_err(y, ref) < 3e-2
    assert rel_err(steps, ref) < 3e-2


@pytest.mark.parametrize("head_dim", [1, 2])
def test_gradcheck_float64(head_dim):
    layer = make_layer(d=4, d_state=4, head_dim=head_dim, dtype=torch.float64)
    x = torch.randn(1, 6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    layer(x).square().sum().backward()
    for n, p in layer.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), n


def test_compiles_fullgraph():
    layer = make_layer()
    x = torch.randn(2, 12, 8)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    assert torch.allclose(compiled(x), layer(x), rtol=0, atol=1e-6)


def test_bad_arguments_are_named():
    cases = [
        (dict(d_model=0), "d_model"), (dict(d_model=8, head_dim=3), "head_dim"),
        (dict(d_model=8, d_state=7), "d_state"), (dict(d_model=8, d_state=130), "d_state"),
        (dict(d_model=8, measure="legs"), "measure"), (dict(d_model=8, mode="nplr"), "mode"),
        (dict(d_model=8, dt_min=0.2, dt_max=0.1), "dt_min"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            H3(**kwargs)
    layer = make_layer()
    with pytest.raises(ValueError, match="x"):
        layer(torch.randn(2, 5, 7))
    with pytest.raises(TypeError, match="x"):
        layer([1.0])
    with pytest.raises(ValueError, match="prefill_style"):
        layer.prefill(torch.randn(1, 3, 8), style="recurrence")
    with torch.no_grad():
        _, cache = layer.prefill(torch.randn(2, 3, 8))
        with pytest.raises(ValueError, match="x_t"):
            layer.step(torch.randn(2, 7), cache)
        with pytest.raises(ValueError, match="x_t"):
            layer.step(torch.randn(3, 8), cache)
        with pytest.raises(TypeError, match="cache"):
            layer.step(torch.randn(2, 8), object())
