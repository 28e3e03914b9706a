"""fftconv benchmark: ``serengeti.fftconv`` against the PyTorch FFT convolution.

Semantics measured (both implementations): ``y = k (*) u + D * u``, causal, u (B, H, L) in
float32 or bfloat16, k (H, L) and D (H,) float32, y in u's dtype.

The baseline (:func:`torch_fftconv`) is the FlashFFTConv-paper baseline: zero-pad to 2L, rfft the
input and the filter on every call, multiply, irfft, keep the first L samples, add the D skip and
cast back. On CPU torch's FFT is MKL (pocketfft when torch lacks MKL); on GPU it is cuFFT.
The inference rows precompute the filter spectrum for both sides
(``serengeti.fft_filter(k, L)`` for ours, ``rfft(k, n=2L)`` for the baseline).

On a GPU the rows add FlashFFTConv's benchmark shapes (gated convolution
``y = postgate * (k (*) (u * pregate))``, B 64, H 768, at L = 1K, 4K, 32K, and L = 1M with the
batch the memory allows), FlashFFTConv's published H100 numbers (MODELS.md) in the caption, and,
when the ``flashfftconv`` package is importable, rows timing ours against it ("vs flashfftconv").

Dev aid: with ``SERENGETI_BENCH_STANDIN=1`` the baseline is substituted for serengeti, so the
harness can be exercised before serengeti is built. Such results say "STAND-IN" in the title and
measure nothing about serengeti.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Optional

import torch

from benchmarks.common import (
    Config,
    Record,
    fmt_len,
    log,
    make_record,
    real_fft_flops,
    register,
    rel_error,
    set_serengeti_threads,
    time_interleaved,
)

STANDIN = os.environ.get("SERENGETI_BENCH_STANDIN", "") not in ("", "0")

TITLE = "fftconv: serengeti.fftconv vs PyTorch FFT convolution" + (
    " -- STAND-IN RUN: 'ours' IS THE PYTORCH BASELINE, NOT SERENGETI (SERENGETI_BENCH_STANDIN=1)"
    if STANDIN
    else ""
)

DTYPES = (torch.float32, torch.bfloat16)

# FlashFFTConv's published H100 times (MODELS.md: gated conv, B 64, H 768, bf16), by L.
FLASHFFTCONV_H100_MS = {1 << 10: 0.29, 1 << 12: 1.43, 1 << 15: 26.3, 1 << 20: 1770.0}

# Relative-RMS tolerance for the ours-vs-baseline sanity check (not a test; tests live in tests/).
# bf16 output rounding alone is ~2^-9 relative per element.
CHECK_TOL = {torch.float32: 1e-4, torch.bfloat16: 2e-2}


# --------------------------------------------------------------------------------------------
# The two implementations
# --------------------------------------------------------------------------------------------


def torch_fftconv(
    u: torch.Tensor, k: Optional[torch.Tensor], D: torch.Tensor, k_f: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """PyTorch FFT convolution baseline: ``irfft(rfft(u, 2L) * rfft(k, 2L))[..., :L] + D*u``.

    Args:
        u: input (B, H, L), any float dtype; computed in float32.
        k: filter (H, L) float32; ignored when ``k_f`` is given.
        D: skip weights (H,) float32.
        k_f: optional precomputed filter spectrum ``rfft(k, n=2L)`` (H, L+1) complex64.

    Returns:
        y (B, H, L) in u's dtype.
    """
    L = u.shape[-1]
    n = 2 * L
    if k_f is None:
        k_f = torch.fft.rfft(k, n=n)
    y = torch.fft.irfft(torch.fft.rfft(u.float(), n=n) * k_f, n=n)[..., :L]
    return (y + u * D[:, None]).to(u.dtype)


def torch_gated_fftconv(u: torch.Tensor, k: torch.Tensor, pregate: torch.Tensor,
                        postgate: torch.Tensor) -> torch.Tensor:
    """The gated baseline ``postgate * irfft(rfft(u * pregate, 2L) * rfft(k, 2L))[..., :L]``."""
    L = u.shape[-1]
    n = 2 * L
    w = u.float() * pregate.float()
    y = torch.fft.irfft(torch.fft.rfft(w, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :L]
    return (y * postgate.float()).to(u.dtype)


def load_flashfftconv(cfg: Config) -> Optional[Callable[[int, torch.dtype], Any]]:
    """``make(L, dtype) -> module`` for FlashFFTConv (FFT size 2L) when the package is installed and
    the benchmark runs on a GPU, else None."""
    if not cfg.device.startswith("cuda"):
        return None
    try:
        from flashfftconv import FlashFFTConv  # type: ignore[import-not-found]
    except ImportError:
        log("fftconv: flashfftconv is not installed; no 'vs flashfftconv' rows")
        return None

    def make(L: int, dtype: torch.dtype) -> Any:
        return FlashFFTConv(2 * L, dtype=dtype).to(cfg.device)

    return make


def torch_fft_filter(k: torch.Tensor, L: int) -> torch.Tensor:
    """The baseline's precomputed filter spectrum: ``rfft(k, n=2L)``."""
    return torch.fft.rfft(k, n=2 * L)


@dataclasses.dataclass
class Impl:
    """The implementation under test ("ours"): a fftconv and a filter-spectrum function."""

    fftconv: Callable[..., torch.Tensor]
    fft_filter: Callable[[torch.Tensor, int], Any]
    standin: bool


def load_ours(cfg: Config) -> Impl:
    """Import serengeti lazily (or return the stand-in when SERENGETI_BENCH_STANDIN is set)."""
    if STANDIN:
        log("fftconv: SERENGETI_BENCH_STANDIN is set: 'ours' is the PyTorch baseline (dev aid)")

        def standin(u: torch.Tensor, k: Optional[torch.Tensor] = None, D: Optional[torch.Tensor] = None,
                    *, k_f: Optional[torch.Tensor] = None) -> torch.Tensor:
            return torch_fftconv(u, k, D, k_f)

        return Impl(standin, torch_fft_filter, True)
    try:
        import serengeti
    except ImportError as e:
        raise RuntimeError(
            "serengeti is not importable (install it with `pip install -e .` from the repo root); "
            "to exercise the harness without it set SERENGETI_BENCH_STANDIN=1"
        ) from e
    if not set_serengeti_threads(serengeti, cfg.threads) and cfg.device == "cpu":
        log("fftconv: serengeti exposes no set_num_threads; relying on SERENGETI_NUM_THREADS")
    return Impl(serengeti.fftconv, serengeti.fft_filter, False)


# --------------------------------------------------------------------------------------------
# FLOP accounting (one convention, charged identically to both implementations)
# --------------------------------------------------------------------------------------------


def fft_count(B: int, H: int, pass_: str, precomputed: bool) -> int:
    """Number of real FFTs of size 2L charged to one call.

    fwd: B*H input transforms + H filter transforms + B*H inverse transforms (no filter
    transforms with a precomputed spectrum). fwd+bwd adds the backward: B*H transforms of the
    output gradient, B*H inverse transforms for du and H inverse transforms for dk.
    """
    fwd = 2 * B * H + (0 if precomputed else H)
    return fwd if pass_ == "fwd" else fwd + 2 * B * H + H


def flops(B: int, H: int, L: int, pass_: str, precomputed: bool = False) -> float:
    """FLOPs charged to one call: ``fft_count * 2.5 * N * log2(N)`` with N = 2L."""
    return fft_count(B, H, pass_, precomputed) * real_fft_flops(2 * L)


def caption(cfg: Config) -> str:
    """Table caption: baseline definition, the FLOP convention and (on a GPU) the published
    FlashFFTConv numbers."""
    txt = (
        "y = k (*) u + D*u, causal; k (H, L) and D float32, u and y in the listed dtype. "
        "Baseline: PyTorch `irfft(rfft(u.float(), n=2L) * rfft(k, n=2L), n=2L)[..., :L] + u*D` "
        f"on {'cuFFT' if cfg.device.startswith('cuda') else 'the torch CPU FFT (MKL)'}, filter FFT on "
        "every call; rows marked `k_f` precompute the filter spectrum on both sides "
        "(`serengeti.fft_filter` / `rfft(k, n=2L)`), the inference case. fwd+bwd = forward plus "
        "the gradients of sum(y*g) w.r.t. u, k and D for a fixed random g (baseline: autograd). "
        "speedup = baseline ms / ours ms. GFLOP/s charge both implementations the same count of "
        "real FFTs of size N = 2L at 2.5*N*log2(N) flops each: fwd 2BH + H (input, filter, "
        "inverse; 2BH with k_f), fwd+bwd 4BH + 2H; other arithmetic is not counted."
    )
    if cfg.device.startswith("cuda"):
        published = ", ".join(f"{fmt_len(L)}: {ms:g} ms" for L, ms in FLASHFFTCONV_H100_MS.items())
        txt += (" Rows marked `gated` are FlashFFTConv's benchmark: y = postgate * (k (*) "
                "(u * pregate)), no D, baseline = the same in PyTorch; FlashFFTConv's published "
                f"H100 times for it (B 64, H 768, bf16; MODELS.md) are {published}. Rows marked "
                "`vs flashfftconv` time ours against the installed flashfftconv package instead "
                "of PyTorch (baseline columns = flashfftconv).")
    if STANDIN:
        txt = "**STAND-IN RUN (dev aid): 'ours' is the PyTorch baseline, not serengeti.** " + txt
    return txt


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One problem shape; ``precomputed`` selects the inference comparison (k_f on both sides)."""

    B: int
    H: int
    L: int
    precomputed: bool = False
    passes: tuple[str, ...] = ("fwd", "fwd+bwd")
    gated: bool = False  # FlashFFTConv's gated convolution (pregate, postgate, no D)


def rows(cfg: Config) -> list[Row]:
    """The shapes measured: the L sweep at H=768, very long L at fewer channels, B=4, and k_f;
    on a GPU also FlashFFTConv's gated shapes (B 64, H 768; L = 1M with the batch that fits)."""
    if cfg.quick:
        sweep = [Row(1, 768, L) for L in (1024, 4096)]
    else:
        sweep = [Row(1, 768, 1 << e) for e in range(8, 18)]  # 256 .. 131072
        sweep += [Row(1, 64, 1 << 18), Row(1, 16, 1 << 20), Row(4, 768, 4096)]
    extra = [Row(1, 768, 4096, precomputed=True, passes=("fwd",))]
    if cfg.device.startswith("cuda"):
        lengths = (1 << 10, 1 << 12) if cfg.quick else (1 << 10, 1 << 12, 1 << 15)
        extra += [Row(64, 768, L, gated=True, passes=("fwd",)) for L in lengths]
        if not cfg.quick:
            extra.append(Row(_batch_that_fits(768, 1 << 20, cfg), 768, 1 << 20, gated=True, passes=("fwd",)))
    return sweep + extra


def _batch_that_fits(H: int, L: int, cfg: Config) -> int:
    """Largest B <= 64 whose gated bf16 problem (u, gates, y, the baselines' float32 spectra and
    our workspace, ~60 bytes per element) fits in half the free GPU memory."""
    free, _ = torch.cuda.mem_get_info(torch.device(cfg.device))
    return max(1, min(64, int(free // 2 // (60 * H * L))))


def _inputs(row: Row, dtype: torch.dtype, cfg: Config) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random u (B, H, L) in ``dtype``, k (H, L) and D (H,) in float32 on the configured device."""
    gen = torch.Generator().manual_seed(cfg.seed + row.L + 7 * row.H + 13 * row.B)
    u = torch.randn(row.B, row.H, row.L, generator=gen).to(cfg.device, dtype)
    k = (torch.randn(row.H, row.L, generator=gen) / row.L**0.5).to(cfg.device)
    D = torch.randn(row.H, generator=gen).to(cfg.device)
    return u, k, D


def _gates(row: Row, dtype: torch.dtype, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(cfg.seed + row.L + 1)
    return tuple(torch.randn(row.B, row.H, row.L, generator=gen).to(cfg.device, dtype) for _ in range(2))  # type: ignore[return-value]


def _check_grads(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> float:
    """Largest relative-RMS difference over corresponding gradients."""
    return max(rel_error(x, y) for x, y in zip(a, b))


def measure(row: Row, dtype: torch.dtype, pass_: str, ours: Impl, cfg: Config) -> Record:
    """Time one (row, dtype, pass) for ours and the baseline, interleaved."""
    u, k, D = _inputs(row, dtype, cfg)
    note = "k_f" if row.precomputed else ("gated" if row.gated else "")
    if row.gated:
        pre, post = _gates(row, dtype, cfg)

        def run_ours() -> torch.Tensor:
            with torch.no_grad():
                return ours.fftconv(u, k, None, pre, post)

        def run_base() -> torch.Tensor:
            with torch.no_grad():
                return torch_gated_fftconv(u, k, pre, post)

        timing = time_interleaved(run_ours, run_base, cfg, check=rel_error)
    elif row.precomputed:
        kf_ours = ours.fft_filter(k, row.L)
        kf_base = torch_fft_filter(k, row.L)

        def run_ours() -> torch.Tensor:
            with torch.no_grad():
                return ours.fftconv(u, None, D, k_f=kf_ours)

        def run_base() -> torch.Tensor:
            with torch.no_grad():
                return torch_fftconv(u, None, D, kf_base)

        timing = time_interleaved(run_ours, run_base, cfg, check=rel_error)
    elif pass_ == "fwd":

        def run_ours() -> torch.Tensor:
            with torch.no_grad():
                return ours.fftconv(u, k, D)

        def run_base() -> torch.Tensor:
            with torch.no_grad():
                return torch_fftconv(u, k, D)

        timing = time_interleaved(run_ours, run_base, cfg, check=rel_error)
    else:
        u.requires_grad_(True)
        k.requires_grad_(True)
        D.requires_grad_(True)
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        g = torch.randn(u.shape, generator=gen).to(cfg.device, dtype)

        # autograd.grad with grad_outputs=g is the backward of sum(y * g) without the extra pass.
        def run_ours() -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(ours.fftconv(u, k, D), (u, k, D), grad_outputs=g)

        def run_base() -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(torch_fftconv(u, k, D), (u, k, D), grad_outputs=g)

        timing = time_interleaved(run_ours, run_base, cfg, check=_check_grads)
    rec = make_record(
        "fftconv", dtype, pass_, row.B, row.H, row.L, timing,
        flops(row.B, row.H, row.L, pass_, row.precomputed), note=note,
    )
    if rec.rel_err is not None and not rec.rel_err <= CHECK_TOL[dtype]:
        log(f"fftconv: WARNING ours differs from the baseline: rel err {rec.rel_err:.2e} "
            f"(tolerance {CHECK_TOL[dtype]:.0e}) at {rec.dtype} {pass_} B{row.B} H{row.H} L{row.L}")
    return rec


def measure_vs_flashfftconv(row: Row, dtype: torch.dtype, ours: Impl, make_flash: Callable[[int, torch.dtype], Any],
                            cfg: Config) -> Optional[Record]:
    """Forward of ours against flashfftconv on the same (gated or plain, no D) problem."""
    u, k, _ = _inputs(row, dtype, cfg)
    flash = make_flash(row.L, dtype)
    gates = _gates(row, dtype, cfg) if row.gated else (None, None)

    def run_ours() -> torch.Tensor:
        with torch.no_grad():
            return ours.fftconv(u, k, None, *gates)

    def run_flash() -> torch.Tensor:
        with torch.no_grad():
            return flash(u, k, *gates) if row.gated else flash(u, k)

    try:
        timing = time_interleaved(run_ours, run_flash, cfg, check=rel_error)
    except Exception as e:  # noqa: BLE001 - a flashfftconv limit (size, dtype) skips the row
        log(f"fftconv: flashfftconv failed at B{row.B} H{row.H} L{row.L} {dtype}: {type(e).__name__}: {e}")
        return None
    note = ("gated " if row.gated else "") + "vs flashfftconv"
    return make_record("fftconv", dtype, "fwd", row.B, row.H, row.L, timing,
                       flops(row.B, row.H, row.L, "fwd"), note=note)


@register(
    "fftconv",
    title=TITLE,
    caption=caption,
    plot_filter=lambda r: r.B == 1 and not r.note,
)
def bench_fftconv(cfg: Config) -> list[Record]:
    """Run every fftconv row for float32 and bfloat16, forward and forward+backward."""
    ours = load_ours(cfg)
    make_flash = None if ours.standin else load_flashfftconv(cfg)
    records: list[Record] = []
    for dtype in DTYPES:
        for pass_ in ("fwd", "fwd+bwd"):
            for row in rows(cfg):
                if pass_ not in row.passes:
                    continue
                rec = measure(row, dtype, pass_, ours, cfg)
                log(f"  fftconv {rec.dtype:8s} {pass_:7s} B{row.B} H{row.H} L{row.L} {rec.note}: "
                    f"ours {rec.ours_ms:.3f} ms, baseline {rec.baseline_ms:.3f} ms, "
                    f"{rec.speedup:.2f}x (n={rec.repeats})")
                records.append(rec)
    if make_flash is not None:
        # FlashFFTConv takes half-precision activations: its own benchmark's shapes, in bfloat16.
        for row in rows(cfg):
            if row.precomputed or not (row.gated or row.B == 1):
                continue
            rec = measure_vs_flashfftconv(row, torch.bfloat16, ours, make_flash, cfg)
            if rec is not None:
                log(f"  fftconv bfloat16 fwd B{row.B} H{row.H} L{row.L} {rec.note}: ours "
                    f"{rec.ours_ms:.3f} ms, flashfftconv {rec.baseline_ms:.3f} ms, {rec.speedup:.2f}x")
                records.append(rec)
    return records
