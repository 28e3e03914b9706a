"""Shared test helpers: input builders, torch baselines and THE tolerance rule for fftconv.

Everything numeric is compared against :mod:`serengeti.reference` (float64, naive). The one
tolerance rule lives in :func:`assert_fftconv_close`; its docstring states and justifies it.
"""

from __future__ import annotations

import contextlib
import json
import math

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Tuple

import pytest
import torch

from torch import Tensor


def _load_reference():  # type: ignore[no-untyped-def]
    """serengeti.reference; if the package cannot be imported (extension not built yet), the
    pure-Python reference.py loaded by path, so the reference tests still run."""
    try:
        from serengeti import reference as ref

        return ref
    except ImportError:
        import importlib.util
        import os

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python",
                            "serengeti", "reference.py")
        spec = importlib.util.spec_from_file_location("serengeti_reference_standalone", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


reference = _load_reference()

# Machine epsilon (spacing of the format at 1.0; the unit roundoff is half of it).
EPS: dict[torch.dtype, float] = {
    torch.float64: 2.0**-52,
    torch.float32: 2.0**-23,
    torch.float16: 2.0**-10,
    torch.bfloat16: 2.0**-7,
}
ACT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
HALF_DTYPES = (torch.float16, torch.bfloat16)

# Relative-RMS constant for float32 (see assert_fftconv_close): rel RMS <= C_REL * 1e-7 * (log2 N + 2).
C_REL = 1.0
# float32 results must be no worse than RATIO_TO_TORCH x torch.fft's float32 error, + TINY32.
RATIO_TO_TORCH = 2.0
TINY32 = 2 * EPS[torch.float32]
REL64 = 1e-12

# Above this many multiply-adds the direct-sum reference is too slow; use the float64 FFT one.
DIRECT_REFERENCE_MAX_WORK = 3_000_000


@contextlib.contextmanager
def torch_threads_for(work: int) -> Iterator[None]:
    """Run small torch (MKL) FFT baseline/reference computations on one torch thread.

    Multi-threaded MKL FFTs of tiny arrays cost ~10 ms each on a loaded 2-core machine (threads
    wait for each other); one thread takes microseconds. Only the test's own baselines run inside;
    the previous setting is restored on exit.
    """
    if work >= 1 << 20:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def fft_size_ref(L: int) -> int:
    """Smallest power of two N >= 2L - 1 (the size our baselines use)."""
    n = 1
    while n < 2 * L - 1:
        n *= 2
    return n


def rel_rms(y: Tensor, y_ref: Tensor) -> float:
    """||y - y_ref||_2 / ||y_ref||_2 over all elements, in float64 (0 if both are zero)."""
    y64, r64 = y.detach().cpu().double(), y_ref.detach().cpu().double()
    den = r64.norm().item()
    num = (y64 - r64).norm().item()
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass
class FFTConvInputs:
    """One set of fftconv arguments. u/pregate/postgate (B, H, L), k (H, Lk), D (H,)."""

    u: Tensor
    k: Tensor
    D: Optional[Tensor] = None
    pregate: Optional[Tensor] = None
    postgate: Optional[Tensor] = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def B(self) -> int:
        return self.u.shape[0]

    @property
    def H(self) -> int:
        return self.u.shape[1]

    @property
    def L(self) -> int:
        return self.u.shape[2]

    def tensors(self) -> dict[str, Tensor]:
        """The non-None tensor arguments by name."""
        named = {"u": self.u, "k": self.k, "D": self.D, "pregate": self.pregate,
                 "postgate": self.postgate}
        return {n: t for n, t in named.items() if t is not None}

    def snapshot(self) -> dict[str, Tensor]:
        """Clones of every tensor argument, for :meth:`assert_unchanged`."""
        return {n: t.detach().clone() for n, t in self.tensors().items()}

    def assert_unchanged(self, snap: dict[str, Tensor]) -> None:
        """The op must not write to any input: bitwise-equal to the snapshot (NaN-safe)."""
        for n, t in self.tensors().items():
            before = snap[n]
            same = torch.equal(t.detach(), before) or (
                torch.equal(t.detach().isnan(), before.isnan())
                and torch.equal(t.detach().nan_to_num(), before.nan_to_num())
            )
            assert same, f"fftconv modified its input {n!r}"


def make_fftconv_inputs(
    B: int,
    H: int,
    L: int,
    Lk: int,
    dtype: torch.dtype = torch.float32,
    *,
    D: bool = False,
    pregate: bool = False,
    postgate: bool = False,
    seed: int = 0,
    requires_grad: bool = False,
    device: "torch.device | str" = "cpu",
) -> FFTConvInputs:
    """Random, well-scaled inputs: u, gates ~ N(0, 1); k ~ N(0, 1/Lk) so |y| = O(1); D ~ N(0, 1).

    Activations (u, gates) get ``dtype``; k and D are float32 unless ``dtype`` is float64 (then
    float64). Half-precision activations are drawn in float64 and rounded, so the rounded values
    ARE the inputs and the reference sees exactly what the op sees. Drawn on the CPU (same values
    for every device), then moved to ``device``.
    """
    g = torch.Generator().manual_seed(seed)
    param_dtype = torch.float64 if dtype == torch.float64 else torch.float32

    def act() -> Tensor:
        return torch.randn(B, H, L, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)

    inp = FFTConvInputs(
        u=act(),
        k=(torch.randn(H, Lk, generator=g, dtype=torch.float64) / math.sqrt(Lk)).to(device, param_dtype),
        D=torch.randn(H, generator=g, dtype=torch.float64).to(device, param_dtype) if D else None,
        pregate=act() if pregate else None,
        postgate=act() if postgate else None,
    )
    if requires_grad:
        for t in inp.tensors().values():
            t.requires_grad_(True)
    return inp


def call_fftconv(inp: FFTConvInputs, *, bidirectional: bool = False, use_k_f: bool = False) -> Tensor:
    """serengeti.fftconv on ``inp``; with ``use_k_f`` the filter goes in as fft_filter(k, L)."""
    import serengeti

    if use_k_f:
        k_f = serengeti.fft_filter(inp.k, inp.L, bidirectional=bidirectional)
        return serengeti.fftconv(inp.u, None, inp.D, inp.pregate, inp.postgate, k_f=k_f,
                                 bidirectional=bidirectional)
    return serengeti.fftconv(inp.u, inp.k, inp.D, inp.pregate, inp.postgate,
                             bidirectional=bidirectional)


def skip_unless_dtype_supported(backend: str, dtype: torch.dtype) -> None:
    """float64 activations run on the cpu backend only: the CUDA kernels (cuda and emu backends)
    compute in float32 on tensor cores and reject float64 with a ValueError naming u (tested in
    test_fftconv_cuda.py). Their gradients are checked in float32 against the float64 reference
    instead of by float64 gradcheck."""
    if dtype == torch.float64 and backend != "cpu":
        pytest.skip(f"float64 runs on the cpu backend only, not on {backend!r}")


def device_for(backend: str) -> torch.device:
    """Where a test's tensors live for ``backend``: CUDA memory for "cuda", else the CPU."""
    return torch.device("cuda") if backend == "cuda" else torch.device("cpu")


def _cpu(t: Optional[Tensor]) -> Optional[Tensor]:
    return None if t is None else t.detach().cpu()


def reference_fftconv(inp: FFTConvInputs, *, bidirectional: bool = False) -> Tensor:
    """float64 CPU reference output (B, H, L): the direct sum when cheap, else the FFT reference."""
    taps = reference.fftconv_taps(inp.k.detach().cpu(), inp.L, bidirectional)[0].shape[1]
    fn = reference.fftconv if inp.B * inp.H * inp.L * taps <= DIRECT_REFERENCE_MAX_WORK else reference.fftconv_fft
    with torch_threads_for(inp.B * inp.H * inp.L):
        return fn(_cpu(inp.u), _cpu(inp.k), _cpu(inp.D), _cpu(inp.pregate), _cpu(inp.postgate),
                  bidirectional=bidirectional)


def torch_fftconv(
    u: Tensor,
    k: Tensor,
    D: Optional[Tensor] = None,
    pregate: Optional[Tensor] = None,
    postgate: Optional[Tensor] = None,
    bidirectional: bool = False,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The plain-PyTorch FFT convolution, computed in ``dtype``: the baseline we compare against.

    Same semantics as reference.fftconv, with the usual recipe: transform size N = fft_size_ref(L)
    (power of two >= 2L - 1), y = irfft(rfft(w, N) * rfft(k_taps, N))[:L], where for the
    bidirectional case the two-sided taps are laid out circularly (lag s at index s mod N), which
    is alias-free because N >= 2L - 1. Returns (B, H, L) in ``dtype``. Differentiable.
    """
    L = u.shape[-1]
    N = fft_size_ref(L)
    w = u.to(dtype)
    if pregate is not None:
        w = w * pregate.to(dtype)
    taps, s0 = reference.fftconv_taps(k, L, bidirectional)  # float64, exact copies of k's values
    taps = taps.to(dtype)
    # Circular layout: lags 0..s1 at indices 0..s1, lags s0..-1 at indices N+s0..N-1.
    pos, neg = taps[:, -s0:], taps[:, :-s0]
    zeros = torch.zeros(taps.shape[0], N - taps.shape[1], dtype=dtype)
    taps = torch.cat([pos, zeros, neg], dim=1)
    y = torch.fft.irfft(torch.fft.rfft(w, n=N) * torch.fft.rfft(taps, n=N), n=N)[..., :L]
    if D is not None:
        y = y + D.to(dtype)[:, None] * w
    if postgate is not None:
        y = postgate.to(dtype) * y
    return y


# ---------------------------------------------------------------------------------------------
# THE tolerance rule
# ---------------------------------------------------------------------------------------------


def error_scale(inp: FFTConvInputs, *, bidirectional: bool = False) -> Tensor:
    """Per-channel magnitude bound (B, H) float64:  max|postgate| * (||k_taps||_1 + |D|) * max|w|.

    Every output satisfies |y[b, h, t]| <= scale[b, h], so it is the natural unit for a max-abs
    error bound (w = u * pregate; k_taps are the taps that reach a length-L sequence).
    """
    u = inp.u.detach().cpu().double()
    w = u if inp.pregate is None else u * inp.pregate.detach().cpu().double()
    taps, _ = reference.fftconv_taps(inp.k.detach().cpu(), inp.L, bidirectional)
    knorm = taps.abs().sum(1)
    if inp.D is not None:
        knorm = knorm + inp.D.detach().cpu().double().abs()
    scale = knorm[None, :] * w.abs().amax(-1)
    if inp.postgate is not None:
        scale = scale * inp.postgate.detach().cpu().double().abs().amax(-1)
    return scale


def assert_fftconv_close(
    y: Tensor,
    inp: FFTConvInputs,
    *,
    bidirectional: bool = False,
    y_ref: Optional[Tensor] = None,
    label: str = "",
) -> None:
    """Assert that a forward fftconv output is correct. This is the suite's tolerance rule.

    y must have u's shape, dtype and device, and be finite. With y_ref the float64 reference on
    the very same (already dtype-rounded) inputs, N = fft_size(L), lg = log2(N) + 2, and
    eps the machine epsilon of the dtype (2^-23 float32, 2^-10 float16, 2^-7 bfloat16):

    1. Relative RMS error  e = ||y - y_ref||_2 / ||y_ref||_2:
       - float32:   e <= 2 * e_torch + 2 * eps32  AND  e <= C_REL * 1e-7 * lg,  C_REL = 1.
         e_torch is the error of torch's own float32 FFT convolution (torch_fftconv) on the same
         inputs, measured in the test. Measured over L = 1 .. 2^20, causal and bidirectional,
         e_torch / (1e-7 log2 N) lies in 0.15 .. 0.26, so "2x torch" is <= ~0.52e-7 log2 N and
         C_REL = 1 leaves ~2x slack on top. The "+2" in lg and the 2*eps32 term cover the up to
         three elementwise float32 roundings (pregate, D skip, postgate), which dominate at
         tiny N (L = 1 has N = 1 and no FFT error at all).
       - float16 / bfloat16:   e <= eps + C_REL * 1e-7 * lg. The reference is computed on the
         rounded inputs, so input rounding is already accounted for; the remaining error is the
         float32 compute error plus the final rounding of y to the dtype, whose relative RMS
         is ~0.2-0.3 eps (|rounding error| <= eps/2 |y|). eps leaves room for one extra
         intermediate rounding but catches any structural bug (a wrong or missing tap gives
         errors of order 1/L .. 1).
       - float64:   e <= 1e-12 (a float64 FFT is ~1e-16 log2 N accurate).
    2. Max-abs error per (b, h) channel, relative to the a-priori output bound
       scale = max|postgate| * (||k_taps||_1 + |D|) * max|w|  (see error_scale):
         |y - y_ref| <= eps_c * lg * scale + eps_out * max_t|y_ref| + tiny_out
       with eps_c = eps32 (float64: 1e-12 / lg), eps_out = eps of the output dtype for
       float16/bfloat16 (the final rounding; 0 otherwise) and tiny_out the smallest float16
       subnormal (2^-24) for float16. torch's float32 FFT measured at most 0.14 eps32 * log2 N *
       scale, so the bound has >= 7x slack, yet it pins every single element (a local bug that
       RMS would average away still fails here).
    """
    tag = f"[{label}] " if label else ""
    assert isinstance(y, torch.Tensor), f"{tag}fftconv must return a tensor"
    assert y.shape == inp.u.shape, f"{tag}shape {tuple(y.shape)} != {tuple(inp.u.shape)}"
    assert y.dtype == inp.u.dtype, f"{tag}dtype {y.dtype} != u.dtype {inp.u.dtype}"
    assert y.device == inp.u.device, f"{tag}device {y.device} != {inp.u.device}"
    assert bool(torch.isfinite(y).all()), f"{tag}output contains NaN/inf (unwritten memory?)"

    if y_ref is None:
        y_ref = reference_fftconv(inp, bidirectional=bidirectional)
    y = y.detach().cpu()
    dtype = inp.u.dtype
    N = fft_size_ref(inp.L)
    lg = math.log2(N) + 2
    e = rel_rms(y, y_ref)

    if dtype == torch.float32:
        with torch_threads_for(inp.B * inp.H * inp.L):
            y_torch = torch_fftconv(_cpu(inp.u), _cpu(inp.k), _cpu(inp.D), _cpu(inp.pregate),
                                    _cpu(inp.postgate), bidirectional)
        e_torch = rel_rms(y_torch, y_ref)
        bound = min(RATIO_TO_TORCH * e_torch + TINY32, C_REL * 1e-7 * lg)
        assert e <= bound, (
            f"{tag}float32 relative RMS error {e:.3g} > bound {bound:.3g} "
            f"(torch.fft float32 error {e_torch:.3g}, N={N})"
        )
    elif dtype in HALF_DTYPES:
        bound = EPS[dtype] + C_REL * 1e-7 * lg
        assert e <= bound, f"{tag}{dtype} relative RMS error {e:.3g} > bound {bound:.3g} (N={N})"
    elif dtype == torch.float64:
        assert e <= REL64, f"{tag}float64 relative RMS error {e:.3g} > {REL64:g}"
    else:  # pragma: no cover - the op only accepts the dtypes above
        raise AssertionError(f"unexpected dtype {dtype}")

    scale = error_scale(inp, bidirectional=bidirectional)
    eps_c = REL64 / lg if dtype == torch.float64 else EPS[torch.float32]
    tol = eps_c * lg * scale
    if dtype in HALF_DTYPES:
        tol = tol + EPS[dtype] * y_ref.abs().amax(-1)
        if dtype == torch.float16:
            tol = tol + 2.0**-24
    err = (y.detach().double() - y_ref).abs().amax(-1)
    bad = err > tol
    if bool(bad.any()):
        b, h = (int(i) for i in bad.nonzero()[0])
        raise AssertionError(
            f"{tag}max-abs error {err[b, h].item():.3g} > tol {tol[b, h].item():.3g} in channel "
            f"(b={b}, h={h}); {int(bad.sum())} of {bad.numel()} channels fail (N={N})"
        )


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


def assert_grad_close(
    name: str, g: Optional[Tensor], g_ref: Tensor, g_torch: Tensor, n_sum: int = 1
) -> None:
    """Gradient rule for float32 backward: relative RMS vs the float64 reference gradient

        e(g) <= 2 * e(g_torch) + 2 * eps32 * sqrt(n_sum)

    where g_torch is the gradient of torch's own float32 FFT convolution (autograd through
    torch_fftconv) and n_sum the number of terms a gradient element sums over beyond the FFT
    (dk: B batches; dD: B*L products): a float32 sum of n random-sign terms has relative error
    ~eps32 * sqrt(n), and our reduction order may legitimately differ from torch's pairwise one.
    """
    assert g is not None, f"gradient of {name} missing"
    assert g.shape == g_ref.shape, f"grad {name}: shape {tuple(g.shape)} != {tuple(g_ref.shape)}"
    assert bool(torch.isfinite(g).all()), f"grad {name} has NaN/inf"
    e = rel_rms(g, g_ref)
    e_torch = rel_rms(g_torch, g_ref)
    bound = RATIO_TO_TORCH * e_torch + 2 * EPS[torch.float32] * math.sqrt(n_sum)
    assert e <= bound, f"grad {name}: relative RMS error {e:.3g} > {bound:.3g} (torch {e_torch:.3g})"


# ---------------------------------------------------------------------------------------------
# Model tests (H3, StripedHyena, tokenizers, CLI)
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def one_thread(*, kernels: bool = False) -> Iterator[None]:
    """Run the body on one torch thread and, with ``kernels``, one serengeti kernel thread; the
    previous settings (torch's thread count, serengeti's override) are restored on exit.

    For tests of tiny models: on the shared 2-core machine the thread pools' synchronisation
    costs far more than the tiny ops themselves.
    """
    import serengeti

    torch_threads, kernel_override = torch.get_num_threads(), serengeti._runtime._threads_override
    torch.set_num_threads(1)
    if kernels:
        serengeti.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(torch_threads)
        if kernels:
            serengeti.set_num_threads(kernel_override)


def write_gpt2_files(directory: Path, merges: Sequence[Tuple[str, str]]) -> int:
    """GPT-2's tokenizer files written by hand into ``directory``: ``vocab.json`` (the 256
    byte-level symbols, then each merge's result in order, then ``<|endoftext|>`` last) and
    ``merges.txt`` (``#version: 0.2`` and one merge a line). Returns the vocabulary size."""
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {s: i for i, s in enumerate(alphabet)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges),
                                          encoding="utf-8")
    return len(vocab)
