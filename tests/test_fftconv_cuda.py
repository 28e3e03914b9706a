"""The CUDA fftconv kernels (cuda/fftconv/), run by the host emulator ("emu" backend) and on a GPU
("cuda") when there is one, against serengeti.reference.

The generic fftconv tests (test_fftconv*.py) run on every backend; this module adds what is
specific to the tensor-core kernels:

- every transform size the fused forward kernels have, N = 16 .. 32768 (M = N/2 complex points:
  radix plans with and without the small float32 first stage; N = 32768 as a unit sweep in
  99 KB, or in one 163 KB buffer where the device has it), and L at the edges of each size
  (L = N/2 is the longest sequence with this N, L = N/4 + 1 the shortest, odd L everywhere);
- the multi-kernel path (outer passes over the workspace + blocks of row pairs) from N = 65536
  (forward) / 16384 (backward) up to the longest sequence, L = 4,194,304 (slow);
- forward and backward at N = 256 .. 65536: every gradient in float32 against the float64
  reference (helpers.assert_grad_close, the CPU tests' rule), half types within eps(dtype);
- the adjoint identities of fft_filter and of the spectrum gradient (float32 dot products: the
  float64 gradcheck of the generic tests runs on the cpu backend only);
- bitwise identical gradients for any emulator schedule and worker count (the batch reduction of
  the filter gradient goes through per-chunk partials and a fixed-order sum, no atomics);
- causal and bidirectional, gated and not, with D, k and k_f, H in {1, 3, 111} (ragged tiles of
  rows per block), strided inputs, float32 / float16 / bfloat16;
- the op's own tolerance rule (helpers.assert_fftconv_close: relative RMS <= C * 1e-7 * (log2 N + 2)
  and no worse than 2x torch's float32 FFT for float32; eps(dtype) + the float32 term for half
  types; a per-element max-abs bound) -- the same helper as the CPU tests, so the error may grow
  with log N and no faster;
- the error across N for float32, checked against that log N law directly;
- float64 activations are rejected with a ValueError naming u (the kernels compute in float32).

Precision (see cuda/fftconv/README.md): the 16-point DFTs run on tensor cores with fp16 operands
split as hi + lo (3 products per real product) and per-DFT power-of-two scaling; measured float32
relative RMS errors are at the level of the CPU backend and of torch's float32 FFT.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator, Optional

import pytest
import torch

import helpers
import serengeti

from helpers import assert_fftconv_close, call_fftconv, device_for


def _gpu_backends() -> list[str]:
    status = serengeti.backend_status()
    return [b for b in ("emu", "cuda") if status[b] == "available"]


@pytest.fixture(params=_gpu_backends() or [pytest.param("none", marks=pytest.mark.skip(
    reason="neither the emu nor the cuda backend is built"))])
def gpu_backend(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """'emu' (the CUDA kernels on the host emulator) and 'cuda' when available."""
    with serengeti.use_backend(request.param):
        yield request.param


def _dtype_id(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


HALF = (torch.float16, torch.bfloat16)


# --------------------------------------------------------------- every fused transform size

# (L, N): the longest and an odd short L for each N; N = 2^4 .. 2^15.
SIZES = []
for log2n in range(4, 16):
    n = 1 << log2n
    SIZES.append((n // 2, n))
    if n >= 32:
        SIZES.append((n // 4 + 1 if (n // 4 + 1) % 2 else n // 4 + 3, n))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L,N", SIZES, ids=[f"L{L}-N{N}" for L, N in SIZES])
def test_every_fused_size_float32(gpu_backend: str, L: int, N: int, bidirectional: bool) -> None:
    assert serengeti.fft_size(L) == N
    Lk = 2 * L - 1 if bidirectional else L
    inp = helpers.make_fftconv_inputs(2, 3, L, Lk, torch.float32, D=True, pregate=True,
                                      postgate=True, seed=L, device=device_for(gpu_backend))
    assert_fftconv_close(call_fftconv(inp, bidirectional=bidirectional), inp,
                         bidirectional=bidirectional, label=f"L={L}")


@pytest.mark.parametrize("use_k_f", [False, True], ids=["k", "k_f"])
@pytest.mark.parametrize("dtype", HALF, ids=_dtype_id)
@pytest.mark.parametrize("L", [255, 1000, 4097])
def test_half_dtypes(gpu_backend: str, L: int, dtype: torch.dtype, use_k_f: bool) -> None:
    bidirectional = L == 1000
    inp = helpers.make_fftconv_inputs(1, 3, L, L // 2 + 1, dtype, D=True, pregate=L != 255,
                                      postgate=True, seed=L + 1, device=device_for(gpu_backend))
    assert_fftconv_close(call_fftconv(inp, bidirectional=bidirectional, use_k_f=use_k_f), inp,
                         bidirectional=bidirectional)


@pytest.mark.parametrize("H", [1, 3, 111])
@pytest.mark.parametrize("L", [7, 100, 600])
def test_ragged_row_tiles(gpu_backend: str, H: int, L: int) -> None:
    """Short rows share a block (2048 / M rows each); B*H not a multiple of that leaves a ragged
    last block, and H not a multiple of 8 a ragged last group of k_f channels."""
    B = 2 if H < 111 else 1
    inp = helpers.make_fftconv_inputs(B, H, L, L, torch.float32, D=True, postgate=True, seed=H * L,
                                      device=device_for(gpu_backend))
    for use_k_f in (False, True):
        assert_fftconv_close(call_fftconv(inp, use_k_f=use_k_f), inp, label=f"k_f={use_k_f}")


def test_error_grows_like_log_n(gpu_backend: str) -> None:
    """float32 relative RMS error over N = 2^5 .. 2^14 stays under 1e-7 * (log2 N + 2) (the
    helper's C_REL = 1 line) with a margin, i.e. it grows no faster than log N."""
    worst = 0.0
    for log2n in range(5, 15):
        L = (1 << log2n) // 2
        inp = helpers.make_fftconv_inputs(1, 2, L, L, torch.float32, seed=log2n,
                                          device=device_for(gpu_backend))
        y = call_fftconv(inp)
        e = helpers.rel_rms(y, helpers.reference_fftconv(inp))
        worst = max(worst, e / (1e-7 * (log2n + 2)))
    assert worst <= 0.5, f"error / (1e-7 (log2 N + 2)) reached {worst:.3g}"


def test_float64_is_rejected(gpu_backend: str) -> None:
    u = torch.randn(1, 2, 8, dtype=torch.float64, device=device_for(gpu_backend))
    k = torch.randn(2, 8, dtype=torch.float64, device=device_for(gpu_backend))
    with pytest.raises(ValueError, match=r"\bu\b.*float64"):
        serengeti.fftconv(u, k)


def test_fft_filter_shape_and_reuse(gpu_backend: str) -> None:
    """k_f has the CPU shape contract; one k_f serves several batches; it matches fftconv with k."""
    dev = device_for(gpu_backend)
    inp = helpers.make_fftconv_inputs(2, 11, 300, 123, torch.float32, D=True, seed=5, device=dev)
    k_f = serengeti.fft_filter(inp.k, 300)
    assert k_f.shape == (2, serengeti.fft_size(300) // 2, 2, 8) and k_f.dtype == torch.float32
    assert bool(torch.isfinite(k_f).all())
    y_k = call_fftconv(inp)
    y_kf = serengeti.fftconv(inp.u, D=inp.D, k_f=k_f)
    torch.testing.assert_close(y_kf, y_k, rtol=0, atol=0)  # the same kernels, bit for bit
    other = helpers.make_fftconv_inputs(3, 11, 300, 123, torch.float32, seed=6, device=dev)
    other.k = inp.k
    assert_fftconv_close(serengeti.fftconv(other.u, k_f=k_f), other)


# ------------------------------------------------------------------------ multi-kernel path


LONG = [(8193, False, torch.float32), (16384, True, torch.float32), (20001, False, torch.bfloat16),
        (32768, True, torch.float32), (40000, False, torch.float32)]


@pytest.mark.parametrize("L,bidirectional,dtype", LONG,
                         ids=[f"L{L}-{'bidir' if b else 'causal'}-{_dtype_id(d)}" for L, b, d in LONG])
def test_long_sequences_forward(gpu_backend: str, L: int, bidirectional: bool, dtype: torch.dtype) -> None:
    """N = 65536 and 131072 run as outer passes + row-pair blocks (one and two outer stages); the
    N = 32768 rows (unit sweep) sit beside them for the fp16/bf16 and bidirectional variants."""
    inp = helpers.make_fftconv_inputs(1, 2, L, 2 * L - 1 if bidirectional else L, dtype, D=True,
                                      pregate=bidirectional, postgate=not bidirectional, seed=L,
                                      device=device_for(gpu_backend))
    for use_k_f in (False, True):
        assert_fftconv_close(call_fftconv(inp, bidirectional=bidirectional, use_k_f=use_k_f), inp,
                             bidirectional=bidirectional, label=f"k_f={use_k_f}")


@pytest.mark.slow
def test_longest_sequence(gpu_backend: str) -> None:
    """L = 4,194,304 (N = 2^23: three outer stages) is the longest the CUDA backend takes; one
    more sample is a ValueError naming u."""
    L = 1 << 22
    inp = helpers.make_fftconv_inputs(1, 1, L, 4096, torch.float32, D=True, seed=22,
                                      device=device_for(gpu_backend))
    assert_fftconv_close(call_fftconv(inp), inp)
    with pytest.raises(ValueError, match=r"\bu\b.*4194304"):
        serengeti.fftconv(torch.zeros(1, 1, L + 1, device=device_for(gpu_backend)), inp.k)


def test_element_offsets_past_2_31(gpu_backend: str) -> None:
    """Activations whose elements sit more than 2^31 elements from the storage start (FlashFFTConv's
    32-bit indexing fails there): u is a (B, H, L) view with a batch stride of 2^31 + L into a
    4 GiB float16 buffer (pages never touched cost no memory), for the fused and the multi-kernel
    forward and the fused backward, whose filter and skip gradients read u at those offsets."""
    dev = device_for(gpu_backend)
    for L in (3000, 40000):
        inp = helpers.make_fftconv_inputs(2, 1, L, L, torch.float16, D=True, postgate=True,
                                          seed=L + 31, requires_grad=True, device=dev)
        big = torch.empty(7 + (2**31 + L) + L, dtype=torch.float16, device=dev)
        u = big.as_strided((2, 1, L), (2**31 + L, L, 1), 7)
        with torch.no_grad():
            u.copy_(inp.u)
        assert u[1].data_ptr() - big.data_ptr() > 2 * 2**31
        far = helpers.FFTConvInputs(u=u, k=inp.k, D=inp.D, pregate=None, postgate=inp.postgate)
        y = call_fftconv(far)
        assert_fftconv_close(y, inp, label=f"L={L}")
        torch.testing.assert_close(y, call_fftconv(inp), rtol=0, atol=0)
        if L == 3000:
            dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(3)).to(dev, y.dtype)
            near = torch.autograd.grad(call_fftconv(inp), [inp.k, inp.D], dy)
            got = torch.autograd.grad(y, [inp.k, inp.D], dy)
            for a, b in zip(got, near):
                torch.testing.assert_close(a, b, rtol=0, atol=0)
        del big, u, far, y


# ---------------------------------------------------------------------------------- backward


def _grads(inp: helpers.FFTConvInputs, dy: torch.Tensor, bidirectional: bool, use_k_f: bool):  # type: ignore[no-untyped-def]
    y = call_fftconv(inp, bidirectional=bidirectional, use_k_f=use_k_f)
    names = list(inp.tensors())
    return dict(zip(names, torch.autograd.grad(y, list(inp.tensors().values()), dy)))


def _reference_grads(inp: helpers.FFTConvInputs, dy: torch.Tensor, bidirectional: bool, impl: str):  # type: ignore[no-untyped-def]
    leaves = {n: t.detach().cpu().clone().requires_grad_(True) for n, t in inp.tensors().items()}
    args = [leaves.get(n) for n in ("u", "k", "D", "pregate", "postgate")]
    if impl == "ref":
        y = helpers.reference.fftconv_fft(*args, bidirectional=bidirectional)
    else:
        y = helpers.torch_fftconv(*args, bidirectional=bidirectional, dtype=torch.float32)
    return dict(zip(leaves, torch.autograd.grad(y, list(leaves.values()), dy.cpu().to(y.dtype))))


# (L, bidirectional, use_k_f): N = 256 .. 65536; the backward is fused up to N = 8192.
BACKWARD = [(128, False, False), (256, True, True), (1000, False, True), (2049, True, False),
            (4096, False, False), (4097, True, True), (8192, False, False), (16384, True, False),
            (20001, False, True)]


@pytest.mark.parametrize("L,bidirectional,use_k_f", BACKWARD,
                         ids=[f"L{L}-{'bidir' if b else 'causal'}-{'k_f' if f else 'k'}" for L, b, f in BACKWARD])
def test_backward_float32(gpu_backend: str, L: int, bidirectional: bool, use_k_f: bool) -> None:
    B, H = 2, 3
    dev = device_for(gpu_backend)
    inp = helpers.make_fftconv_inputs(B, H, L, 2 * L - 1 if bidirectional else L, torch.float32, D=True,
                                      pregate=True, postgate=True, seed=L, requires_grad=True, device=dev)
    dy = torch.randn(B, H, L, generator=torch.Generator().manual_seed(L + 1)).to(dev)
    grads = _grads(inp, dy, bidirectional, use_k_f)
    ref = _reference_grads(inp, dy, bidirectional, "ref")
    base = _reference_grads(inp, dy, bidirectional, "torch32")
    n_sum = {"u": 1, "pregate": 1, "postgate": 1, "k": B, "D": B * L}
    for n in grads:
        helpers.assert_grad_close(n, grads[n], ref[n], base[n], n_sum[n])


@pytest.mark.parametrize("dtype", HALF, ids=_dtype_id)
@pytest.mark.parametrize("L", [700, 9000])
def test_backward_half(gpu_backend: str, L: int, dtype: torch.dtype) -> None:
    """Half activations (fused at L = 700, multi-kernel at L = 9000): every gradient within
    eps(dtype) relative RMS of the float64 reference on the same rounded inputs."""
    B, H = 2, 3
    dev = device_for(gpu_backend)
    inp = helpers.make_fftconv_inputs(B, H, L, L // 3, dtype, D=True, pregate=True, postgate=True,
                                      seed=L, requires_grad=True, device=dev)
    dy = torch.randn(B, H, L, generator=torch.Generator().manual_seed(3)).to(device=dev, dtype=dtype)
    grads = _grads(inp, dy, False, False)
    ref = _reference_grads(inp, dy, False, "ref")
    for n, g in grads.items():
        assert g.dtype == dict(inp.tensors())[n].dtype and bool(torch.isfinite(g).all()), n
        e = helpers.rel_rms(g, ref[n])
        assert e <= helpers.EPS[dtype], f"grad {n}: relative RMS error {e:.3g}"


@pytest.mark.parametrize("L", [300, 9000])
def test_backward_bitwise_deterministic(gpu_backend: str, L: int) -> None:
    """B = 5 rows: the filter and skip gradients sum over the batch through per-chunk partials and
    a fixed-order reduction, so every gradient is the same bits whatever the emulator's thread
    schedule (seed) and number of worker threads."""
    dev = device_for(gpu_backend)
    inp = helpers.make_fftconv_inputs(5, 3, L, L, torch.float32, D=True, pregate=True, postgate=True,
                                      seed=7, requires_grad=True, device=dev)
    dy = torch.randn(5, 3, L, generator=torch.Generator().manual_seed(8)).to(dev)
    runs = [_grads(inp, dy, True, False)]
    if gpu_backend == "emu":
        C = serengeti._C
        seed, workers = C.emu_seed(), C.emu_worker_threads()
        try:
            C.emu_set_seed(12345)
            C.emu_set_worker_threads(2)
            runs.append(_grads(inp, dy, True, False))
        finally:
            C.emu_set_seed(seed)
            C.emu_set_worker_threads(workers)
    else:
        runs.append(_grads(inp, dy, True, False))
    for n in runs[0]:
        assert torch.equal(runs[0][n], runs[1][n]), f"grad {n} differs between runs"


# ---------------------------------------------------------------------- adjoint identities


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L,Lk", [(1, 1), (5, 12), (33, 20), (300, 700), (6000, 5000), (9000, 9000)])
def test_fft_filter_adjoint(gpu_backend: str, L: int, Lk: int, bidirectional: bool) -> None:
    """<fft_filter(k), G> = <k, fft_filter^T(G)> for random k and G: the backward of fft_filter is
    the adjoint of its forward in this backend's k_f layout (fused below N = 32768, multi-kernel
    above)."""
    dev = device_for(gpu_backend)
    g = torch.Generator().manual_seed(L + Lk)
    k = torch.randn(5, Lk, generator=g).to(dev).requires_grad_(True)
    k_f = serengeti.fft_filter(k, L, bidirectional=bidirectional)
    G = torch.randn(k_f.shape, generator=g).to(dev)
    (dk,) = torch.autograd.grad(k_f, k, G)
    lhs = (k_f.detach().double() * G.double()).sum().item()
    rhs = (k.detach().double() * dk.double()).sum().item()
    scale = k_f.detach().double().norm().item() * G.double().norm().item()
    assert abs(lhs - rhs) <= 1e-5 * scale, (lhs, rhs)


@pytest.mark.parametrize("L", [40, 3000, 9000])
def test_spectrum_gradient_adjoint(gpu_backend: str, L: int) -> None:
    """y is linear in k_f (no D), so <y, dy> = <k_f, dk_f> with dk_f from the backward kernel."""
    dev = device_for(gpu_backend)
    inp = helpers.make_fftconv_inputs(3, 2, L, L, torch.float32, pregate=True, seed=L, device=dev)
    k_f = serengeti.fft_filter(inp.k, L).requires_grad_(True)
    y = serengeti.fftconv(inp.u, None, None, inp.pregate, k_f=k_f)
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(1)).to(dev)
    (dk_f,) = torch.autograd.grad(y, k_f, dy)
    lhs = (y.detach().double() * dy.double()).sum().item()
    rhs = (k_f.detach().double() * dk_f.double()).sum().item()
    assert abs(lhs - rhs) <= 1e-5 * y.double().norm().item() * dy.double().norm().item(), (lhs, rhs)


# ------------------------------------------------------- larger fused variants (sm_80 / sm_90)


@contextlib.contextmanager
def _device_sm(gpu_backend: str, sm: int) -> Iterator[None]:
    """On emu, emulate an sm_XY device (its shared memory per block decides the execution); on a
    GPU the device decides, so only the sm_86 run is made (one run is enough)."""
    if gpu_backend != "emu":
        if sm != 86:
            pytest.skip("on a GPU the device decides; one run is enough")
        yield
        return
    previous = serengeti._C.emu_device_sm()
    serengeti._C.emu_set_device_sm(sm)
    try:
        yield
    finally:
        serengeti._C.emu_set_device_sm(previous)


@pytest.mark.parametrize("sm", [80, 86, 90])
def test_larger_fused_blocks_where_the_device_allows(gpu_backend: str, sm: int) -> None:
    """The executions each device takes at N = 16384 / 32768, forward and backward, with k and k_f:
    163 KB (sm_80) or 227 KB (sm_90) of shared memory per block fuse the backward at N = 16384
    (155 KB); the forward at N = 32768 runs in one 163 KB buffer on sm_90 and as a unit sweep in
    87 KB on sm_80/sm_86/sm_89; the 99 KB of sm_86/sm_89 run the backward at N = 16384 and 32768
    through the multi-kernel path. Same plan, so the same k_f, and every execution agrees with
    the reference."""
    with _device_sm(gpu_backend, sm):
        dev = device_for(gpu_backend)
        for L in (8192, 16384):
            inp = helpers.make_fftconv_inputs(2, 2, L, L, torch.float32, D=True, pregate=True,
                                              postgate=True, seed=L, requires_grad=True, device=dev)
            y = call_fftconv(inp, use_k_f=L == 16384)
            assert_fftconv_close(y, inp, label=f"sm_{sm} L={L}")
            dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(2)).to(dev)
            grads = dict(zip(inp.tensors(), torch.autograd.grad(y, list(inp.tensors().values()), dy)))
            ref = _reference_grads(inp, dy, False, "ref")
            base = _reference_grads(inp, dy, False, "torch32")
            n_sum = {"u": 1, "pregate": 1, "postgate": 1, "k": 2, "D": 2 * L}
            for n in grads:
                helpers.assert_grad_close(n, grads[n], ref[n], base[n], n_sum[n])


# ------------------------------------------ N = 32768 as a unit sweep (every GPU, 87 KB)


def _forward_workspace_bytes(u: torch.Tensor, k: Optional[torch.Tensor], k_f: Optional[torch.Tensor]) -> int:
    """What the forward asks the torch layer for (0: no multi-kernel scratch, no spectrum)."""
    from serengeti.ops._views import describe

    backend = "emu" if u.device.type == "cpu" else "cuda"
    return serengeti._C.fftconv_forward_workspace_bytes(
        describe(u), describe(k), describe(k_f), None, None, None, False, describe(torch.empty_like(u)),
        backend, 1)


@pytest.mark.parametrize("sm", [80, 86, 90])
def test_n32768_forward_is_fused_on_every_device(gpu_backend: str, sm: int) -> None:
    """At N = 32768 the forward needs no workspace with k_f (one kernel, nothing in HBM between
    passes) and only the spectrum rows with k; at N = 65536 the multi-kernel path's scratch
    appears, so the check can tell the executions apart."""
    with _device_sm(gpu_backend, sm):
        dev = device_for(gpu_backend)
        for L, fused in ((16384, True), (16385, False)):
            u = torch.zeros(2, 3, L, device=dev)
            k = torch.zeros(3, L, device=dev)
            k_f = serengeti.fft_filter(k, L)
            spectrum = 8 * (serengeti.fft_size(L) // 2) * 8  # 3 channels padded to 8, M float2
            assert (_forward_workspace_bytes(u, None, k_f) == 0) == fused, L
            assert (_forward_workspace_bytes(u, k, None) == spectrum) == fused, L


UNIT_SWEEP = [  # (L, Lk, bidirectional, dtype, use_k_f, transposed u, gates and D)
    (8193, 8193, False, torch.float32, False, False, True),
    (16384, 16384, False, torch.float32, True, True, True),
    (12345, 777, False, torch.float16, True, False, False),
    (16383, 2 * 16383 - 1, True, torch.bfloat16, False, True, True),
    (9000, 4001, True, torch.float32, True, False, False),
]


@pytest.mark.parametrize("L,Lk,bidirectional,dtype,use_k_f,transposed,gated", UNIT_SWEEP,
                         ids=[f"L{c[0]}-Lk{c[1]}-{'bidir' if c[2] else 'causal'}-{_dtype_id(c[3])}"
                              f"-{'k_f' if c[4] else 'k'}{'-strided' if c[5] else ''}{'-gated' if c[6] else ''}"
                              for c in UNIT_SWEEP])
def test_unit_sweep_forward(gpu_backend: str, L: int, Lk: int, bidirectional: bool, dtype: torch.dtype,
                            use_k_f: bool, transposed: bool, gated: bool) -> None:
    """The 99 KB execution of N = 32768 (sm_86) against the reference: both L edges and odd L,
    short and two-sided filters (taps wrapping to the end of the sequence reach all four rows of
    the first stage), half types, a (B, L, H)-strided u, with and without gates and D."""
    with _device_sm(gpu_backend, 86):
        inp = helpers.make_fftconv_inputs(2, 3, L, Lk, dtype, D=gated, pregate=gated, postgate=gated,
                                          seed=L + Lk, device=device_for(gpu_backend))
        if transposed:
            inp.u = inp.u.transpose(1, 2).contiguous().transpose(1, 2)
            assert inp.u.stride() == (L * 3, 1, 3)
        assert_fftconv_close(call_fftconv(inp, bidirectional=bidirectional, use_k_f=use_k_f), inp,
                             bidirectional=bidirectional)


def test_unit_sweep_spectrum_is_the_single_buffer_spectrum(gpu_backend: str) -> None:
    """k_f from the unit sweep (sm_86) and from the single 163 KB buffer (sm_90) is the same
    spectrum in the same position order, so a k_f made on one GPU serves another."""
    if gpu_backend != "emu":
        pytest.skip("needs two emulated devices")
    dev = device_for(gpu_backend)
    inp = helpers.make_fftconv_inputs(1, 5, 16000, 16000, torch.float32, D=True, seed=3, device=dev)
    spectra = {}
    for sm in (86, 90):
        with _device_sm(gpu_backend, sm):
            spectra[sm] = serengeti.fft_filter(inp.k, 16000, bidirectional=True)
    assert helpers.rel_rms(spectra[86], spectra[90]) < 1e-6
    for sm, other in ((86, 90), (90, 86)):
        with _device_sm(gpu_backend, sm):
            y = serengeti.fftconv(inp.u, D=inp.D, k_f=spectra[other], bidirectional=True)
        assert_fftconv_close(y, inp, bidirectional=True, label=f"k_f of sm_{other} on sm_{sm}")
