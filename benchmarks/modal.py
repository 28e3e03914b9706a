"""Modal-filter benchmarks: modal_kernel, prefill state, modal_scan vs FFT, gated-conv decode step.

Rows (CPU; ``--quick`` keeps the smallest of each):
- ``modal_kernel``: ours vs ``(R[..., None] * p[..., None] ** t).real.sum(1)`` which materialises
  (D, S, L) complex64; D=768/S=32 and D=4096/S=2, L 1K..1M. Rows whose baseline temporaries would
  exceed ~4 GB run ours only (baseline_ms = nan, the note says so). FLOPs: 8 D S L.
- ``modal_state``: prefill state at L=32K, D=4096, S=2, B=1 vs the FFT method (StripedHyena's
  reference: rfft of w and of the (D, S, L) powers at size 2L, product, irfft, last sample).
- ``modal_scan``: vs ``fftconv(w, modal_kernel(R, p, L), D)`` for S=2 and S=32 (the crossover).
- ``gated_conv_step``: B=1, D=4096, S=2, K=3 vs the same math as separate torch ops.
The note column gives the baseline's materialised temporaries (the peak-memory difference: ours
allocates only its outputs, O(D*L) or O(B*D*S)).
"""
from __future__ import annotations

import dataclasses
import math

import torch

from benchmarks import common
from benchmarks.common import Config, Record, make_record, register, time_interleaved

import serengeti  # noqa: F401
from serengeti.ops.modal import gated_conv_step, modal_kernel, modal_scan, modal_state

GB = 1024 ** 3
# The materialising baselines take seconds to minutes per call (complex pow over (D, S, L)); rows
# whose baseline would hold more than this are run for ours only, and heavy rows take one timed
# sample, so `run.py --only modal` stays within a few minutes.
BASELINE_MAX_BYTES = GB // 2


def _one_sample(cfg: Config) -> Config:
    return dataclasses.replace(cfg, repeats=1, min_repeats=1, warmup=1)


def _filter(D: int, S: int):
    g = torch.Generator().manual_seed(0)
    p = torch.polar(0.9 + 0.0999 * torch.rand(D, S, generator=g), math.pi * torch.rand(D, S, generator=g))
    return torch.randn(D, S, generator=g, dtype=torch.complex64), p.to(torch.complex64)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = torch.view_as_real(a) if a.is_complex() else a, torch.view_as_real(b) if b.is_complex() else b
    return ((a.double() - b.double()).norm() / (b.double().norm() + 1e-30)).item()


def _kernel_rows(cfg: Config) -> list[Record]:
    rows = []
    sizes = [(768, 32), (4096, 2)]
    lengths = [1024, 4096] if cfg.quick else [1024, 4096, 16384, 65536, 262144, 1048576]
    for D_full, S in sizes:
        for L in lengths:
            # Keep our own (D, L) output within 2 GB: the longest rows use fewer channels (the row's
            # H says how many).
            D = D_full if D_full * L * 4 <= 2 * GB else max(8, (2 * GB // (4 * L)) // 8 * 8)
            R, p = _filter(D, S)
            # The baseline's peak live set: p**t and R*(p**t), two complex64 (D, S, L), alive together
            # (plus the (D, L) output both sides allocate). Ours: the output only, plus per-thread
            # tables of S*64 entries.
            base_bytes = D * S * L * 8 * 2
            t = torch.arange(L, dtype=torch.float32)

            def ours():
                return modal_kernel(R, p, L)

            def baseline():
                return (R[..., None] * p[..., None] ** t).real.sum(1)

            if base_bytes > BASELINE_MAX_BYTES:
                timing = time_interleaved(ours, ours, _one_sample(cfg))
                timing = common.Timing(timing.ours_ms, float("nan"), timing.repeats, None)
                note = f"baseline skipped: would materialise {base_bytes / GB:.1f} GB"
            else:
                timing = time_interleaved(ours, baseline, _one_sample(cfg), check=_rel)
                note = f"peak extra memory: baseline {base_bytes / GB:.2f} GB, ours 0 (output {D * L * 4 / GB:.2f} GB both)"
            rows.append(make_record("modal_kernel", torch.float32, "fwd", 1, D, L, timing, 8.0 * D * S * L,
                                    rel_err=timing.check, note=f"S={S}; {note}"))
    return rows


def _state_rows(cfg: Config) -> list[Record]:
    B, D, S, L = 1, 4096, 2, (4096 if cfg.quick else 32768)
    R, p = _filter(D, S)
    w = torch.randn(B, D, L)
    t = torch.arange(L, dtype=torch.float32)

    # The FFT method is independent per channel; it is timed on the first `part` channels and
    # scaled by D / part (a full 4096-channel call takes over a minute here), checked on that slice.
    part = 512
    wp, pp = w[:, :part], p[:part]

    def baseline():
        n = 2 * L
        powers = pp[..., None] ** t  # (part, S, L)
        conv = torch.fft.ifft(torch.fft.fft(wp[:, :, None].to(torch.complex64), n=n) * torch.fft.fft(powers, n=n)[None], n=n)
        return conv[..., L - 1]

    timing = time_interleaved(lambda: modal_state(w, p)[:, :part], baseline, _one_sample(cfg), check=_rel)
    timing = common.Timing(timing.ours_ms, timing.baseline_ms * D / part, timing.repeats, timing.check)
    # Baseline live set at the inverse FFT: the product and its ifft, two (B, D, S, 2L) complex64,
    # plus the (D, S, 2L) filter spectrum still referenced by the expression: >= 40 B*D*S*L bytes.
    peak = (2 * B * D * S * 2 * L + D * S * 2 * L) * 8
    note = (f"S={S}; baseline timed on {part} channels x {D // part}; baseline peak temporaries "
            f"{peak / GB:.2f} GB at D={D} (FFT method); ours {B * D * S * 8} B (the state)")
    return [make_record("modal_state", torch.float32, "fwd", B, D, L, timing, 8.0 * B * D * S * L,
                        rel_err=timing.check, note=note)]


def _scan_rows(cfg: Config) -> list[Record]:
    rows = []
    B, D = 1, 768
    # Long rows too: the scan is O(L S) and the FFT path O(L log L), so the crossover (if any) is at
    # large L and S.
    lengths = [1024] if cfg.quick else [256, 1024, 4096, 16384, 65536, 262144]
    for S in (2, 32, 64):
        R, p = _filter(D, S)
        Dk = torch.randn(D)
        for L in lengths:
            w = torch.randn(B, D, L)
            timing = time_interleaved(lambda: modal_scan(w, R, p, Dk),
                                      lambda: serengeti.fftconv(w, modal_kernel(R, p, L), Dk), cfg, check=_rel)
            rows.append(make_record("modal_scan", torch.float32, "fwd", B, D, L, timing, 8.0 * B * D * S * L,
                                    rel_err=timing.check, note=f"S={S}; baseline fftconv+modal_kernel"))
    return rows


def _step_rows(cfg: Config) -> list[Record]:
    B, D, S, K, heads = 1, 4096, 2, 3, 32
    R, p = _filter(D, S)
    g = torch.Generator().manual_seed(1)
    fir_weight, fir_bias, Dk = torch.randn(3 * D, K, generator=g), torch.randn(3 * D, generator=g), torch.randn(D, generator=g)
    z = torch.randn(B, 3 * D, generator=g)
    fs, ss = torch.zeros(B, 3 * D, K - 1), torch.zeros(B, D, S, dtype=torch.complex64)
    fs2, ss2 = fs.clone(), ss.clone()

    def baseline():
        nonlocal fs2, ss2
        u = fir_bias + fir_weight[:, K - 1] * z + (fir_weight[:, : K - 1] * fs2).sum(-1)
        fs2 = torch.cat([fs2[..., 1:], z[..., None]], -1)
        x2, x1, v = u.view(B, heads, 3, D // heads).unbind(2)
        w = (x1 * v).reshape(B, D)
        ss2 = p * ss2 + w[..., None]
        return x2.reshape(B, D) * ((R * ss2).real.sum(-1) + Dk * w)

    timing = time_interleaved(lambda: gated_conv_step(z, fs, fir_weight, fir_bias, p, R, Dk, ss, heads=heads),
                              baseline, cfg)
    return [make_record("gated_conv_step", torch.float32, "fwd", B, D, 1, timing, 0.0,
                        note="target >= 5x vs separate torch ops")]


@register("modal", title="Modal filters, prefill state, modal scan, gated-conv decode step (CPU)",
          caption="ours vs torch baselines; see benchmarks/modal.py for the baselines and FLOP counts")
def run(cfg: Config) -> list[Record]:
    return _kernel_rows(cfg) + _state_rows(cfg) + _scan_rows(cfg) + _step_rows(cfg)
