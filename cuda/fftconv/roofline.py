"""Roofline estimate of the CUDA fftconv kernels per (b, h) row, for cuda/fftconv/README.md.

    python cuda/fftconv/roofline.py                 # the roofline tables of the README
    python cuda/fftconv/roofline.py build.log       # + registers / spills per kernel (ptxas -v log)

Standard library only; no GPU needed. Every number is a model, stated with its assumptions:

- HBM bytes: what the kernels must read and write once (activations, k_f shared by the batch,
  the workspace passes of the multi-kernel path); L2 hits (the re-read of u for the D skip and by
  the second unit of the N = 32768 unit sweep, k_f for B > 1 after the first row) are not charged.
- Tensor-core FLOPs: 12 wmma m16n16k16 products (3 split products x 4 real products of a complex
  16 x 16 matrix product) per 256-point tile and radix-16 stage, 2 * 16^3 flops each, forward and
  inverse transform.
- Shared memory bytes: per point and radix-16 stage, 8 (read fp32 re/im) + 8 (write fp16 hi/lo x
  re/im) + 8 (wmma fragment loads) + 8 (accumulator stores) + 16 (epilogue read + write) + 8
  (twiddle) = 56; 40 per point for the small first stage; 32 for fold/multiply/unfold; 16 for
  the load and store phases.
- Peaks (dense, fp16 tensor cores): A100-SXM4-80GB 2.04 TB/s HBM, 312 TFLOP/s, shared memory 108 SMs
  x 128 B/clk x 1.41 GHz = 19.5 TB/s. H100-SXM5 3.35 TB/s, 989 TFLOP/s with wgmma, of which the
  wmma/mma.sync path these kernels use reaches about two thirds (660 TFLOP/s assumed), shared
  memory 132 x 128 B x 1.98 GHz = 33.5 TB/s.
- cuFFT baseline (benchmarks/fftconv.py: rfft(u.float(), 2L) * rfft(k, 2L), irfft, [:L], + D u,
  cast): memory-bound; each torch op reads and writes its operands once, cuFFT does one pass over
  the data up to N = 16384 points and two beyond.
"""

from __future__ import annotations

import math

HW = {
    "A100": {"hbm": 2.039e12, "tc": 312e12, "smem": 108 * 128 * 1.41e9},
    "H100": {"hbm": 3.35e12, "tc": 660e12, "smem": 132 * 128 * 1.98e9},
}
MAX_FUSED_LOG2 = 13  # fused forward up to M = 8192 (cuda/fftconv/execution.h)
MAX_ROW_LOG2 = 12
SWEEP_LOG2M = 14     # M = 16384 as a unit sweep (unit_sweep.cuh): fused, first stage in registers


def plan(log2m: int) -> list[int]:
    """log2 radices of the stages (plan.cuh)."""
    first = log2m % 4
    return ([first] if first else []) + [4] * (log2m // 4)


def outer_stages(log2m: int) -> int:
    if log2m <= MAX_FUSED_LOG2 or log2m == SWEEP_LOG2M:
        return 0
    radices, rest, o = plan(log2m), log2m, 0
    while rest > MAX_ROW_LOG2:
        rest -= radices[o]
        o += 1
    return o


def row_model(L: int, act_bytes: int, gated: bool, B: int) -> dict:
    """Bytes, flops and shared-memory traffic of one (b, h) row of the forward op."""
    N = 1 << (2 * L - 1 - 1).bit_length() if L > 1 else 16
    N = max(N, 16)
    M = N // 2
    log2m = int(math.log2(M))
    radices = plan(log2m)
    o = outer_stages(log2m)
    # The unit sweep runs the radix-4 first stage in registers on load / store, the rest of the
    # plan on rows of 2^12 points in shared memory.
    inner = plan(MAX_ROW_LOG2) if log2m == SWEEP_LOG2M else radices[o:]
    acts = act_bytes * L * (4 if gated else 2)
    hbm = acts + 8 * M / B + 32 * M * o  # activations, k_f, workspace passes
    tc_stages = sum(1 for r in inner if r == 4)
    tc = 2 * tc_stages * (M / 256) * 12 * 2 * 16**3
    smem = 2 * M * (56 * tc_stages + sum(40 for r in inner if r < 4)) + M * (32 + 16)
    return {"N": N, "M": M, "o": o, "hbm": hbm, "tc": tc, "smem": smem, "tc_stages": tc_stages}


def cufft_bytes(L: int, act_bytes: int, gated: bool, B: int) -> float:
    """HBM bytes per row of the PyTorch / cuFFT convolution."""
    N = 2 * L
    passes = 1 if N <= 16384 else 2
    f32 = 4 * L
    b = 0.0
    if act_bytes != 4:
        b += act_bytes * L + f32  # u.float()
    if gated:
        b += (act_bytes * L + f32) + 3 * f32  # pregate.float(), w = u * pregate
    b += passes * (f32 + 8 * (L + 1))  # rfft(w, n=2L)
    b += (4 * L + 8 * (L + 1)) / B  # rfft(k) per call, shared by the batch
    b += 3 * 8 * (L + 1)  # spectrum product
    b += passes * (8 * (L + 1) + 4 * N)  # irfft
    if gated:
        b += f32 + (act_bytes * L + f32) + 3 * f32  # postgate.float(), y * postgate
    else:
        b += f32 + act_bytes * L + f32  # y[:L] + u * D
    if act_bytes != 4:
        b += f32 + act_bytes * L  # .to(dtype)
    return b


def fmt_bytes(x: float) -> str:
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if x >= scale:
            return f"{x / scale:.1f} {unit}"
    return f"{x:.0f} B"


def fmt_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.3g} s"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} us"


def table(act_bytes: int, gated: bool, B: int, H: int) -> str:
    lines = [
        "| L | N | outer passes | HBM bytes/row | TC GFLOP/row | smem bytes/row | "
        "A100 bound | A100 est. (B x H) | H100 bound | H100 est. (B x H) | cuFFT bytes/row | "
        "est. speedup A100 / H100 |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|",
    ]
    rows = B * H
    for e in range(8, 23):
        L = 1 << e
        m = row_model(L, act_bytes, gated, B)
        cells = []
        speed = []
        for hw in ("A100", "H100"):
            p = HW[hw]
            t = {"HBM": m["hbm"] / p["hbm"], "tensor cores": m["tc"] / p["tc"], "smem": m["smem"] / p["smem"]}
            bound = max(t, key=t.get)
            cells += [bound, fmt_time(t[bound] * rows)]
            speed.append(cufft_bytes(L, act_bytes, gated, B) / p["hbm"] / t[bound])
        lines.append(
            f"| {L} | {m['N']} | {m['o']} | {fmt_bytes(m['hbm'])} | {m['tc'] / 1e9:.4f} | "
            f"{fmt_bytes(m['smem'])} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | "
            f"{fmt_bytes(cufft_bytes(L, act_bytes, gated, B))} | {speed[0]:.1f}x / {speed[1]:.1f}x |")
    return "\n".join(lines)


def shared_bytes(points: int, log2_row: int) -> int:
    """make_shared_layout(points, log2_row, 0).total (shared_layout.cuh)."""
    def up(x: int) -> int:
        return (x + 127) // 128 * 128
    at = up(4 * points)
    at = up(at + 4 * points)
    at = up(at + ((1 << log2_row) // 8 + 1) * 8)
    at = up(at + 6 * 256 * 2)
    at = up(at + 8 * 4 * 256 * 2)
    return at


# (kernel, its largest block: points, log2 row) from execution.h.
BLOCKS = [
    ("fused_forward_kernel", 1 << 13, 13), ("filter_forward_kernel", 1 << 13, 13),
    ("filter_backward_kernel", 1 << 13, 13), ("fused_backward_kernel", 2 << 12, 12),
    ("forward_inner_kernel", 2 << 12, 12), ("filter_inner_kernel", 2 << 12, 12),
    ("filter_backward_inner_kernel", 2 << 12, 12), ("backward_inner_kernel", 2 << 12, 8),
    ("unit_sweep_forward_kernel", 2 << 12, 12), ("unit_sweep_filter_kernel", 2 << 12, 12),
]


def kernel_label(mangled: str) -> str:
    """'fused_forward_kernel<float>' from a mangled kernel name (c++filt when available)."""
    import re
    import shutil
    import subprocess
    text = mangled
    if shutil.which("c++filt"):
        text = subprocess.run(["c++filt", mangled], capture_output=True, text=True).stdout.strip()
    m = re.search(r"::([a-z0-9_]+_kernel)(<[^>]*>)?\(", text)
    if not m:
        return mangled
    args = (m.group(2) or "").replace("__nv_bfloat16", "bf16").replace("__half", "half")
    return m.group(1) + args


def ptxas_table(log_text: str) -> str:
    """Registers, stack and spills per fftconv kernel and architecture from a ptxas -v log, with
    the kernel's largest dynamic shared memory."""
    import re
    entries: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    current = None
    stack = stores = loads = 0
    for line in log_text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)' for '(sm_\d+)'", line)
        if m:
            current, stack, stores, loads = (m.group(1), m.group(2)), 0, 0, 0
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and current:
            stack, stores, loads = (int(g) for g in m.groups())
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and current and "fftconv_kernels" in current[0]:
            label = kernel_label(current[0])
            entries[(label, current[1])] = (int(m.group(1)), stack, stores, loads)
            current = None
    smem = {k: shared_bytes(p, r) for k, p, r in BLOCKS}
    lines = ["| kernel | dynamic smem (largest block) | sm_80 regs / stack / spills | sm_90 regs / stack / spills |",
             "|---|---:|---|---|"]
    for label in sorted({k for k, _ in entries}):
        base = label.split("<")[0]
        cells = []
        for arch in ("sm_80", "sm_90"):
            r = entries.get((label, arch))
            cells.append(f"{r[0]} / {r[1]} B / {r[2] + r[3]} B" if r else "-")
        sm = f"{smem[base] / 1024:.1f} KB" if base in smem else "0"
        lines.append(f"| {label} | {sm} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    print("### float32, y = k (*) u + D u, B = 1, H = 768\n")
    print(table(4, False, 1, 768))
    print("\n### bfloat16, gated (FlashFFTConv's benchmark), B = 64, H = 768\n")
    print(table(2, True, 64, 768))
    if len(sys.argv) > 1:
        with open(sys.argv[1], errors="replace") as f:
            print("\n### ptxas\n")
            print(ptxas_table(f.read()))
