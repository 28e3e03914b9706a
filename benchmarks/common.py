"""Shared utilities for the benchmark harness: registry, timing, FLOP counts, tables, JSON, plots.

Every op-family module (``benchmarks/fftconv.py``, ...) registers one function with
:func:`register`; ``benchmarks/run.py`` discovers the modules, calls each registered function with a
:class:`Config`, and renders the returned :class:`Record` list as a markdown table, JSON and a plot.

Timing method (:func:`time_interleaved`): warm up both implementations, then alternate
ours, baseline, ours, baseline, ... so that machine noise (other processes, frequency changes)
hits both; report the median of each. Calls shorter than ``min_sample_s`` are batched into one
sample so that timer and synchronisation overhead stay negligible.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import torch

# --------------------------------------------------------------------------------------------
# Configuration and records
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Config:
    """Options shared by every benchmark module.

    Attributes:
        device: torch device the benchmarks run on ("cpu" or "cuda").
        quick: run a small subset of sizes (seconds, for smoke tests).
        repeats: maximum number of timed samples per implementation (median is reported).
        threads: thread count for torch and serengeti.
        out_dir: directory for JSON, markdown and PNG output.
        budget_s: soft time budget per measurement (one row, one pass, both implementations);
            large rows take fewer repeats (never fewer than ``min_repeats``) to stay within it.
        min_repeats: lower bound on the number of timed samples.
        warmup: untimed calls of each implementation before timing.
        seed: seed for the random inputs.
    """

    device: str = "cpu"
    quick: bool = False
    repeats: int = 7
    threads: int = 1
    out_dir: Path = Path("benchmarks/results")
    budget_s: float = 6.0
    min_repeats: int = 3
    warmup: int = 1
    seed: int = 0


@dataclasses.dataclass
class Record:
    """One table row: a single (op, dtype, pass, shape) measurement of ours against the baseline."""

    op: str
    dtype: str
    pass_: str  # "fwd" or "fwd+bwd"; serialised as "pass"
    B: int
    H: int
    L: int
    ours_ms: float
    baseline_ms: float
    speedup: float
    ours_gflops: float
    baseline_gflops: float
    repeats: int = 0
    rel_err: Optional[float] = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict (``pass_`` is renamed to ``pass``)."""
        return {("pass" if k == "pass_" else k): v for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass
class Benchmark:
    """A registered op-family benchmark.

    Attributes:
        name: short name used by ``--only`` and for output file names (e.g. "fftconv").
        fn: callable taking a :class:`Config` and returning the measured records.
        title: table title.
        caption: text printed under the title (FLOP convention, baseline definition, ...).
        plot_filter: selects the records that go into the plot (e.g. the B=1 sweep over L).
    """

    name: str
    fn: Callable[[Config], list[Record]]
    title: str
    caption: Callable[[Config], str] | str = ""
    plot_filter: Callable[[Record], bool] = lambda r: True
    rate_unit: str = "GFLOP/s"  # what the rate columns hold (memory-bound ops report GB/s)


REGISTRY: dict[str, Benchmark] = {}


def register(
    name: str,
    *,
    title: str,
    caption: Callable[[Config], str] | str = "",
    plot_filter: Callable[[Record], bool] = lambda r: True,
    rate_unit: str = "GFLOP/s",
) -> Callable[[Callable[[Config], list[Record]]], Callable[[Config], list[Record]]]:
    """Decorator registering an op-family benchmark under ``name``.

    The caption may be a string or a function of the :class:`Config` (to mention, e.g., that a
    stand-in was used).
    """

    def deco(fn: Callable[[Config], list[Record]]) -> Callable[[Config], list[Record]]:
        REGISTRY[name] = Benchmark(name, fn, title, caption, plot_filter, rate_unit)
        return fn

    return deco


# --------------------------------------------------------------------------------------------
# Devices, threads, machine information
# --------------------------------------------------------------------------------------------


def default_device() -> str:
    """CUDA when available, otherwise CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def available_cores() -> int:
    """Number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_torch_threads(n: int) -> None:
    """Set torch's intra-op thread count and export it for libraries read at import time.

    ``SERENGETI_NUM_THREADS`` and ``OMP_NUM_THREADS`` are exported so that a serengeti imported
    afterwards sees the same count; :func:`set_serengeti_threads` also sets it explicitly.
    """
    os.environ["SERENGETI_NUM_THREADS"] = str(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)


def set_serengeti_threads(module: Any, n: int) -> bool:
    """Set serengeti's CPU thread count if the module exposes a setter; return whether it did."""
    for holder in (module, getattr(module, "ops", None), getattr(module, "_C", None)):
        setter = getattr(holder, "set_num_threads", None) if holder is not None else None
        if callable(setter):
            setter(n)
            return True
    return False


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to platform.processor())."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """Human-readable name of the device (GPU name, or the CPU model)."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_model()


def machine_info(cfg: Config) -> dict[str, Any]:
    """Facts about the machine and software attached to every JSON record."""
    info: dict[str, Any] = {
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "threads": cfg.threads,
        "cpu_model": cpu_model(),
        "cores": available_cores(),
        "device": cfg.device,
        "device_name": device_name(cfg.device),
        "timestamp": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    if cfg.device.startswith("cuda"):
        info["cuda_version"] = torch.version.cuda
    return info


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def synchronize(device: str) -> None:
    """Wait for queued work on ``device`` (a no-op on CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time_call(fn: Callable[[], Any], device: str, inner: int) -> float:
    """Seconds per call of ``fn``, averaged over ``inner`` back-to-back calls (results dropped)."""
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    synchronize(device)
    return (time.perf_counter() - t0) / inner


def _time_first(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    """Seconds taken by one call of ``fn``, and its result."""
    synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    synchronize(device)
    return time.perf_counter() - t0, out


@dataclasses.dataclass
class Timing:
    """Result of :func:`time_interleaved`: medians in milliseconds, sample count, check value."""

    ours_ms: float
    baseline_ms: float
    repeats: int
    check: Optional[float] = None


def time_interleaved(
    ours: Callable[[], Any],
    baseline: Callable[[], Any],
    cfg: Config,
    *,
    check: Optional[Callable[[Any, Any], float]] = None,
    min_sample_s: float = 2e-3,
) -> Timing:
    """Time two zero-argument callables alternately and return the median time of each.

    The first warm-up call of each implementation also serves as a correctness check: when
    ``check`` is given it receives (ours' result, baseline's result) and its value (e.g. a relative
    error) is returned in :attr:`Timing.check`. Warm-up calls (``cfg.warmup``, at least one) also
    estimate the cost of a call; the number of timed samples is ``cfg.repeats`` reduced so that the
    measurement fits in ``cfg.budget_s``, but never below ``cfg.min_repeats``. Calls shorter than
    ``min_sample_s`` are repeated back-to-back within one sample and the mean per call is used.
    """
    t_ours, out_ours = _time_first(ours, cfg.device)
    t_base, out_base = _time_first(baseline, cfg.device)
    checked = check(out_ours, out_base) if check is not None else None
    del out_ours, out_base
    for _ in range(max(1, cfg.warmup) - 1):
        t_ours = _time_call(ours, cfg.device, 1)
        t_base = _time_call(baseline, cfg.device, 1)
    inner_o = max(1, math.ceil(min_sample_s / max(t_ours, 1e-9)))
    inner_b = max(1, math.ceil(min_sample_s / max(t_base, 1e-9)))
    per_pair = t_ours * inner_o + t_base * inner_b
    n = int(cfg.budget_s / max(per_pair, 1e-9))
    n = max(min(cfg.min_repeats, cfg.repeats), min(cfg.repeats, n))
    samples_o: list[float] = []
    samples_b: list[float] = []
    for _ in range(n):
        samples_o.append(_time_call(ours, cfg.device, inner_o))
        samples_b.append(_time_call(baseline, cfg.device, inner_b))
    return Timing(statistics.median(samples_o) * 1e3, statistics.median(samples_b) * 1e3, n, checked)


# --------------------------------------------------------------------------------------------
# FLOP accounting
# --------------------------------------------------------------------------------------------


def real_fft_flops(n: int) -> float:
    """FLOPs charged for one real FFT of size ``n``: the convention 2.5 * n * log2(n)."""
    return 2.5 * n * math.log2(n)


def gflops(flops: float, ms: float) -> float:
    """GFLOP/s achieved by ``flops`` in ``ms`` milliseconds."""
    return flops / (ms * 1e-3) / 1e9 if ms > 0 else float("nan")


def make_record(
    op: str,
    dtype: torch.dtype | str,
    pass_: str,
    B: int,
    H: int,
    L: int,
    timing: Timing,
    flops: float,
    *,
    rel_err: Optional[float] = None,
    note: str = "",
) -> Record:
    """Build a :class:`Record` from a timing and the FLOP count charged to both implementations."""
    dname = str(dtype).replace("torch.", "") if isinstance(dtype, torch.dtype) else dtype
    return Record(
        op=op,
        dtype=dname,
        pass_=pass_,
        B=B,
        H=H,
        L=L,
        ours_ms=timing.ours_ms,
        baseline_ms=timing.baseline_ms,
        speedup=timing.baseline_ms / timing.ours_ms if timing.ours_ms > 0 else float("nan"),
        ours_gflops=gflops(flops, timing.ours_ms),
        baseline_gflops=gflops(flops, timing.baseline_ms),
        repeats=timing.repeats,
        rel_err=rel_err if rel_err is not None else timing.check,
        note=note,
    )


def rel_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Relative RMS difference ||actual - expected|| / ||expected||, computed in float64."""
    a = actual.detach().double()
    e = expected.detach().double()
    denom = torch.linalg.vector_norm(e).item()
    return torch.linalg.vector_norm(a - e).item() / denom if denom > 0 else 0.0


# --------------------------------------------------------------------------------------------
# Output: markdown, JSON, plots
# --------------------------------------------------------------------------------------------

TABLE_COLUMNS = (
    "op", "dtype", "pass", "B", "H", "L",
    "ours ms", "baseline ms", "speedup", "ours GFLOP/s", "baseline GFLOP/s",
)


def fmt_ms(ms: float) -> str:
    """Format milliseconds with about three significant digits."""
    if ms < 1:
        return f"{ms:.3f}"
    if ms < 100:
        return f"{ms:.2f}"
    return f"{ms:.1f}"


def fmt_len(n: int) -> str:
    """Format a length compactly: 4096 -> "4096", 131072 -> "128K", 1048576 -> "1M"."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1 << 17 and n % (1 << 10) == 0:
        return f"{n >> 10}K"
    return str(n)


def markdown_table(title: str, caption: str, records: Iterable[Record], machine: dict[str, Any],
                   rate_unit: str = "GFLOP/s") -> str:
    """Render records as a markdown section: title, caption, machine line and the table (the rate
    columns are labelled ``rate_unit``)."""
    recs = list(records)
    reps = sorted({r.repeats for r in recs})
    rep_txt = f"{reps[0]}" if len(reps) == 1 else f"{reps[0]}-{reps[-1]}" if reps else "0"
    lines = [
        f"### {title}",
        "",
        caption,
        "",
        f"Device: {machine['device']} ({machine['device_name']}), {machine['threads']} threads, "
        f"torch {machine['torch_version']}; median of {rep_txt} interleaved repeats.",
        "",
        "| " + " | ".join(c.replace("GFLOP/s", rate_unit) for c in TABLE_COLUMNS) + " |",
        "|" + "|".join(["---"] * 6 + ["---:"] * 5) + "|",
    ]
    for r in recs:
        op = r.op + (f" ({r.note})" if r.note else "")
        lines.append(
            f"| {op} | {r.dtype} | {r.pass_} | {r.B} | {r.H} | {fmt_len(r.L)} | "
            f"{fmt_ms(r.ours_ms)} | {fmt_ms(r.baseline_ms)} | {r.speedup:.2f}x | "
            f"{r.ours_gflops:.1f} | {r.baseline_gflops:.1f} |"
        )
    return "\n".join(lines) + "\n"


def write_json(path: Path, records: Iterable[Record], machine: dict[str, Any]) -> None:
    """Write a JSON list of records, each carrying the machine information."""
    data = [{**r.to_dict(), **machine} for r in records]
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def write_plot(path: Path, title: str, records: Iterable[Record]) -> Optional[str]:
    """Plot GFLOP/s and speedup against L, one line per (op, dtype, pass); return an error message.

    GFLOP/s rather than ms on the left, so rows with different H or B stay comparable.

    Returns None on success, or a message when matplotlib is missing or nothing can be plotted.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: skipping the plot"
    series: dict[tuple[str, str, str], list[Record]] = {}
    for r in records:
        series.setdefault((r.op + (f" ({r.note})" if r.note else ""), r.dtype, r.pass_), []).append(r)
    series = {k: sorted(v, key=lambda r: r.L) for k, v in series.items() if len(v) >= 2}
    if not series:
        return "no series with two or more points: skipping the plot"
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(13, 5))
    for i, ((op, dtype, pass_), rs) in enumerate(sorted(series.items())):
        color = f"C{i % 10}"
        xs = [r.L for r in rs]
        label = f"{op} {dtype} {pass_}"
        ax_t.plot(xs, [r.ours_gflops for r in rs], "-o", color=color, ms=3, label=f"ours, {label}")
        ax_t.plot(xs, [r.baseline_gflops for r in rs], "--", color=color, alpha=0.7,
                  label=f"baseline, {label}")
        ax_s.plot(xs, [r.speedup for r in rs], "-o", color=color, ms=3, label=label)
    for ax in (ax_t, ax_s):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("L")
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_ylabel("GFLOP/s (solid: ours, dashed: baseline)")
    ax_t.legend(fontsize=6)
    ax_s.axhline(1.0, color="k", lw=0.8)
    ax_s.set_ylabel("speedup (baseline ms / ours ms)")
    ax_s.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


def log(msg: str) -> None:
    """Progress message on stderr (keeps stdout for the tables)."""
    print(msg, file=sys.stderr, flush=True)
