"""The CUDA fftconv kernels (cuda/fftconv/), run by the host emulator ("emu" backend) and on a GPU
("cuda") when there is one, against serengeti.reference.

The generic fftconv tests (test_fftconv*.py) run on every backend; this module adds what is
specific to the tensor-core kernels:

- every transform size the fused kernel has, N = 16 .. 16384 (M = N/2 complex points: radix
  plans with and without the small float32 first stage), and L at the edges of each size
  (L = N/2 is the longest sequence with this N, L = N/4 + 1 the shortest, odd L everywhere);
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

import math

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

# (L, N): the longest and an odd short L for each N; N = 2^4 .. 2^14.
SIZES = []
for log2n in range(4, 15):
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
