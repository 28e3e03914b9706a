"""short_conv benchmark: ``serengeti.short_conv`` / ``short_conv_step`` against PyTorch (and causal-conv1d).

Semantics measured (both implementations): the depthwise causal convolution
``y[b,c,t] = act(bias[c] + sum_j weight[c, K-1-j] * x[b,c,t-j])`` with x at t < 0 zero, act the
identity or SiLU. x (B, C, L) in float32 or bfloat16, stored channel-major or channels-last
(memory (B, L, C)).

Baseline: ``F.conv1d(x, weight[:, None], bias, padding=K-1, groups=C)[..., :L]`` (then ``F.silu``
for the SiLU rows). F.conv1d needs matching dtypes, so the baseline holds weight and bias in x's
dtype (what a bfloat16 model would hold) while ours takes float32 weight and bias. Channels-last
rows give the baseline ``x.transpose(1, 2)`` of the same (B, L, C) tensor ours receives with
``channels_last=True``. On CUDA, rows with K <= 4 are also compared against causal-conv1d's
``causal_conv1d_fn`` when it is importable (extra rows marked "vs causal-conv1d").

Decode step: ``serengeti.short_conv_step`` at B=1, C=12288 (StripedHyena's 3*4096), K=3 against
the same math as separate torch ops (dot with the state, then roll the state in place); on CUDA
also against ``causal_conv1d_update`` when importable. Its latency in microseconds is in the note.

Rates are GB/s: the bytes a memory-bound kernel must move at least (every tensor read or written
once), charged identically to both implementations; see :func:`conv_bytes` and :func:`step_bytes`.
The table's rate columns are labelled GB/s (registered with rate_unit="GB/s"; the JSON field
names stay ``*_gflops``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from benchmarks.common import (
    Config,
    Record,
    Timing,
    log,
    make_record,
    register,
    rel_error,
    set_serengeti_threads,
    time_interleaved,
)

TITLE = "short_conv: serengeti.short_conv vs F.conv1d (depthwise, causal); decode step vs torch ops"
DTYPES = (torch.float32, torch.bfloat16)
# Ours computes in float32 with float32 weights; the bfloat16 baseline rounds its weights and
# (on CPU) some intermediates to bfloat16, so bfloat16 rows differ by a few bfloat16 ulps.
CHECK_TOL = {torch.float32: 1e-4, torch.bfloat16: 3e-2}
STEP_C = 12288  # StripedHyena 7B: 3 * 4096 channels through the short conv


# --------------------------------------------------------------------------------------------
# Implementations
# --------------------------------------------------------------------------------------------


def torch_short_conv(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                     activation: Optional[str]) -> torch.Tensor:
    """The baseline: depthwise ``F.conv1d`` with K-1 zeros of left padding, first L outputs.

    x (B, C, L) (any strides), weight (C, K) and bias (C,) in x's dtype.
    """
    K, L = weight.shape[1], x.shape[-1]
    y = F.conv1d(x, weight[:, None], bias, padding=K - 1, groups=x.shape[1])[..., :L]
    return F.silu(y) if activation == "silu" else y


def torch_short_conv_step(x: torch.Tensor, state: torch.Tensor, weight: torch.Tensor,
                          bias: Optional[torch.Tensor]) -> torch.Tensor:
    """The decode-step baseline as torch ops: y = bias + w[:, K-1] x + <w[:, :K-1], state>; roll.

    x (B, C); state (B, C, K-1), updated in place like ``short_conv_step`` does.
    """
    K = weight.shape[1]
    y = weight[:, K - 1] * x + (weight[:, : K - 1] * state).sum(-1)
    if bias is not None:
        y = y + bias
    state.copy_(torch.cat((state[..., 1:], x[..., None]), dim=-1))
    return y


@dataclasses.dataclass
class Impl:
    """The functions under test and the optional causal-conv1d comparison (CUDA only)."""

    short_conv: Callable[..., Any]
    short_conv_step: Callable[..., torch.Tensor]
    cc1d_fn: Optional[Callable[..., torch.Tensor]] = None
    cc1d_update: Optional[Callable[..., torch.Tensor]] = None


def load_impls(cfg: Config) -> Impl:
    """Import serengeti (set its thread count) and, on CUDA, causal-conv1d if it is installed."""
    try:
        import serengeti
    except ImportError as e:
        raise RuntimeError("serengeti is not importable (install it with `pip install -e .` "
                           "from the repo root)") from e
    if not set_serengeti_threads(serengeti, cfg.threads) and cfg.device == "cpu":
        log("short_conv: serengeti exposes no set_num_threads; relying on SERENGETI_NUM_THREADS")
    impl = Impl(serengeti.short_conv, serengeti.short_conv_step)
    if cfg.device.startswith("cuda"):
        try:
            from causal_conv1d import causal_conv1d_fn, causal_conv1d_update
        except ImportError:
            log("short_conv: causal-conv1d is not importable; comparing against F.conv1d only")
        else:
            impl.cc1d_fn, impl.cc1d_update = causal_conv1d_fn, causal_conv1d_update
    return impl


# --------------------------------------------------------------------------------------------
# Byte accounting (the memory-bound ideal, charged identically to every implementation)
# --------------------------------------------------------------------------------------------


def conv_bytes(B: int, C: int, L: int, K: int, itemsize: int, pass_: str) -> int:
    """Bytes read plus written once by one call, weight and bias counted as float32.

    fwd: read x, write y (2 passes over B*C*L), read weight (C*K) and bias (C).
    fwd+bwd: the forward, then the backward reads x and dy and writes dx (5 passes over B*C*L in
    total); weight and bias are read by each half, and dweight and dbias are written once.
    """
    act = B * C * L * itemsize
    params = (C * K + C) * 4
    if pass_ == "fwd":
        return 2 * act + params
    return 5 * act + 3 * params


def step_bytes(B: int, C: int, K: int, itemsize: int) -> int:
    """Bytes of one decode step: read x and the (B, C, K-1) state, write y and the state back,
    read weight (C, K) and bias (C) as float32."""
    return (2 * B * C + 2 * B * C * (K - 1)) * itemsize + (C * K + C) * 4


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One problem shape and layout; ``passes`` lists what is measured for it."""

    B: int
    C: int
    L: int
    K: int
    channels_last: bool = False
    activation: Optional[str] = None
    passes: tuple[str, ...] = ("fwd", "fwd+bwd")

    def note(self) -> str:
        parts = [f"K={self.K}"]
        if self.channels_last:
            parts.append("channels-last")
        if self.activation:
            parts.append(self.activation)
        return ", ".join(parts)


def rows(cfg: Config) -> list[Row]:
    """The issue's grid, forward: B {1, 4} x C {768, 2304, 12288} x L {1K, 4K, 8K} x K {3, 4};
    forward+backward at B=1, L=4K, C {768, 2304}; channels-last, SiLU and K=64 rows at the headline
    shape B1 C2304 L4096 (``--quick``: the headline shape only)."""
    C, L = 2304, 4096
    if cfg.quick:
        return [Row(1, C, L, 3), Row(1, C, L, 4, channels_last=True, passes=("fwd",))]
    out = [Row(B, c, l, K, passes=("fwd", "fwd+bwd") if (B, l) == (1, L) and c != 12288 else ("fwd",))
           for B in (1, 4) for c in (768, C, 12288) for l in (1024, L, 8192) for K in (3, 4)]
    out += [Row(1, C, L, K, channels_last=True) for K in (3, 4)]
    out += [Row(1, C, L, 4, activation="silu"), Row(1, C, L, 64)]
    return out


def _gen(cfg: Config, *salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(cfg.seed + sum((i + 1) * 1009 * s for i, s in enumerate(salt)))


def _inputs(row: Row, dtype: torch.dtype, cfg: Config) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x in the row's memory layout ((B, L, C) when channels-last) in ``dtype``; weight (C, K) and
    bias (C,) float32, weight scaled by 1/sqrt(K) so outputs stay O(1)."""
    gen = _gen(cfg, row.B, row.C, row.L, row.K)
    shape = (row.B, row.L, row.C) if row.channels_last else (row.B, row.C, row.L)
    x = torch.randn(shape, generator=gen).to(cfg.device, dtype)
    weight = (torch.randn(row.C, row.K, generator=gen) / row.K**0.5).to(cfg.device)
    bias = torch.randn(row.C, generator=gen).to(cfg.device)
    return x, weight, bias


def _max_rel(a: Any, b: Any) -> float:
    """Largest relative-RMS difference over corresponding tensors (or of two tensors)."""
    if isinstance(a, torch.Tensor):
        return rel_error(a, b)
    return max(rel_error(x, y) for x, y in zip(a, b))


def _warn(rec: Record, dtype: torch.dtype, what: str) -> None:
    if rec.rel_err is not None and not rec.rel_err <= CHECK_TOL[dtype]:
        log(f"short_conv: WARNING ours differs from {what}: rel err {rec.rel_err:.2e} "
            f"(tolerance {CHECK_TOL[dtype]:.0e}) at {rec.dtype} {rec.pass_} B{rec.B} C{rec.H} "
            f"L{rec.L} {rec.note}")


def _skip_baseline_bwd(row: Row, cfg: Config) -> bool:
    """F.conv1d's CPU depthwise backward at K=64 takes 10-30 s per call: time ours only there."""
    return cfg.device == "cpu" and row.K > 8


def measure(row: Row, dtype: torch.dtype, pass_: str, impl: Impl, cfg: Config,
            vs_cc1d: bool = False) -> Record:
    """Time one (row, dtype, pass), ours and the baseline interleaved.

    ``vs_cc1d`` makes causal-conv1d the baseline instead of F.conv1d (float32 weights both sides).
    """
    x, weight, bias = _inputs(row, dtype, cfg)
    cl, act = row.channels_last, row.activation
    # The baseline's weights: x's dtype for F.conv1d; causal-conv1d accepts float32 like ours.
    wb = weight if vs_cc1d else weight.to(dtype)
    bb = bias if vs_cc1d else bias.to(dtype)

    def ours_fn() -> torch.Tensor:
        return impl.short_conv(x, weight, bias, act, channels_last=cl)

    def base_fn() -> torch.Tensor:
        xv = x.transpose(1, 2) if cl else x  # (B, C, L) view either way
        if vs_cc1d:
            return impl.cc1d_fn(xv, wb, bb, activation=act)
        return torch_short_conv(xv, wb, bb, act)

    def as_bcl(y: torch.Tensor) -> torch.Tensor:
        return y.transpose(1, 2) if cl else y

    note = row.note() + (", vs causal-conv1d" if vs_cc1d else "")
    if pass_ == "fwd":

        def run_ours() -> torch.Tensor:
            with torch.no_grad():
                return ours_fn()

        def run_base() -> torch.Tensor:
            with torch.no_grad():
                return base_fn()

        timing = time_interleaved(run_ours, run_base, cfg, check=lambda a, b: rel_error(as_bcl(a), b))
    else:
        x.requires_grad_(True)
        for t in (weight, bias, wb, bb):
            t.requires_grad_(True)
        g = torch.randn(x.shape, generator=_gen(cfg, 1)).to(cfg.device, dtype)  # x's layout
        g_bcl = as_bcl(g)

        # autograd.grad with grad_outputs=g is the backward of sum(y * g) without the extra pass.
        def run_ours() -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(ours_fn(), (x, weight, bias), grad_outputs=g)

        def run_base() -> tuple[torch.Tensor, ...]:
            return torch.autograd.grad(base_fn(), (x, wb, bb), grad_outputs=g_bcl)

        if not vs_cc1d and _skip_baseline_bwd(row, cfg):
            t = time_interleaved(run_ours, run_ours, cfg)
            timing = Timing(t.ours_ms, float("nan"), t.repeats, None)
            note += "; baseline skipped: 10-30 s per call on CPU"
        else:
            timing = time_interleaved(run_ours, run_base, cfg, check=_max_rel)
    nbytes = conv_bytes(row.B, row.C, row.L, row.K, x.element_size(), pass_)
    rec = make_record("short_conv", dtype, pass_, row.B, row.C, row.L, timing, nbytes, note=note)
    _warn(rec, dtype, "causal-conv1d" if vs_cc1d else "F.conv1d")
    return rec


def measure_step(dtype: torch.dtype, impl: Impl, cfg: Config, vs_cc1d: bool = False) -> Record:
    """Time one decode step at B=1, C=12288, K=3 (latency in the note, in microseconds)."""
    B, C, K = 1, STEP_C, 3
    gen = _gen(cfg, B, C, K, 2)
    x = torch.randn(B, C, generator=gen).to(cfg.device, dtype)
    weight = (torch.randn(C, K, generator=gen) / K**0.5).to(cfg.device)
    bias = torch.randn(C, generator=gen).to(cfg.device)
    state0 = torch.randn(B, C, K - 1, generator=gen).to(cfg.device, dtype)
    s_ours, s_base = state0.clone(), state0.clone()
    if vs_cc1d:
        wb, bb = weight, bias

        def run_base() -> torch.Tensor:
            return impl.cc1d_update(x, s_base, wb, bb)
    else:
        wb, bb = weight.to(dtype), bias.to(dtype)

        def run_base() -> torch.Tensor:
            return torch_short_conv_step(x, s_base, wb, bb)

    def run_ours() -> torch.Tensor:
        return impl.short_conv_step(x, s_ours, weight, bias)

    with torch.no_grad():
        timing = time_interleaved(run_ours, run_base, cfg, check=rel_error)
    nbytes = step_bytes(B, C, K, x.element_size())
    note = (f"decode step K={K}, latency ours {timing.ours_ms * 1e3:.1f} us, "
            f"{'causal-conv1d' if vs_cc1d else 'torch ops'} {timing.baseline_ms * 1e3:.1f} us")
    rec = make_record("short_conv_step", dtype, "fwd", B, C, 1, timing, nbytes, note=note)
    _warn(rec, dtype, "causal-conv1d" if vs_cc1d else "the torch-ops step")
    return rec


def caption(cfg: Config) -> str:
    """Table caption: baselines, layouts and the byte convention behind the GB/s columns."""
    cuda = cfg.device.startswith("cuda")
    return (
        "y = act(bias + depthwise causal conv of x with weight (C, K)); H is the channel count C. "
        "Baseline: `F.conv1d(x, weight[:, None], bias, padding=K-1, groups=C)[..., :L]` (+ `F.silu` "
        "on silu rows), with weight and bias in x's dtype (F.conv1d needs matching dtypes); ours "
        "takes float32 weight and bias. channels-last rows: x is a (B, L, C) tensor, ours gets it "
        "with `channels_last=True`, the baseline gets `x.transpose(1, 2)`. fwd+bwd = forward plus "
        "the gradients of sum(y*g) w.r.t. x, weight and bias (baseline: autograd)"
        + ("; the K=64 fwd+bwd baseline is skipped on CPU (10-30 s per call)" if not cuda else "")
        + ". short_conv_step: one decode step, B=1, C=12288 (3*4096), K=3, vs the same math as "
        "torch ops (dot with the state, in-place roll); latency in the note. "
        + ("Rows marked `vs causal-conv1d` use `causal_conv1d_fn` / `causal_conv1d_update` as the "
           "baseline. " if cuda else "")
        + "speedup = baseline ms / ours ms. GB/s (1e9 bytes) charge both sides the memory-bound "
        "ideal, every tensor read or written once: fwd = read x + write y; fwd+bwd = 5 passes "
        "over (B, C, L) (x, y; x, dy, dx) plus weight and bias reads and their gradients; "
        "step = x, state read and written, y, weight and bias."
    )


@register("short_conv", title=TITLE, caption=caption, plot_filter=lambda r: False, rate_unit="GB/s")
def bench_short_conv(cfg: Config) -> list[Record]:
    """Run the short_conv rows for float32 and bfloat16 and the decode-step rows."""
    impl = load_impls(cfg)
    records: list[Record] = []

    def add(rec: Record) -> None:
        log(f"  {rec.op} {rec.dtype:8s} {rec.pass_:7s} B{rec.B} C{rec.H} L{rec.L} ({rec.note}): "
            f"ours {rec.ours_ms:.3f} ms, baseline {rec.baseline_ms:.3f} ms, {rec.speedup:.2f}x "
            f"(n={rec.repeats})")
        records.append(rec)

    for dtype in DTYPES:
        for pass_ in ("fwd", "fwd+bwd"):
            if cfg.quick and dtype != torch.float32 and pass_ != "fwd":
                continue
            for row in rows(cfg):
                if pass_ not in row.passes or (cfg.quick and dtype != torch.float32 and row.channels_last):
                    continue
                add(measure(row, dtype, pass_, impl, cfg))
                if impl.cc1d_fn is not None and row.K <= 4:
                    try:
                        add(measure(row, dtype, pass_, impl, cfg, vs_cc1d=True))
                    except Exception as e:  # an old or mismatched build must not stop the run
                        log(f"short_conv: causal-conv1d row failed ({type(e).__name__}: {e}); skipped")
    for dtype in DTYPES[:1] if cfg.quick else DTYPES:
        add(measure_step(dtype, impl, cfg))
        if impl.cc1d_update is not None:
            try:
                add(measure_step(dtype, impl, cfg, vs_cc1d=True))
            except Exception as e:
                log(f"short_conv: causal_conv1d_update failed ({type(e).__name__}: {e}); skipped")
    return records
