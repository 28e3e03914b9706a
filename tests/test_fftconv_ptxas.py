"""ptxas report of the CUDA fftconv kernels: no register spills on sm_80 and sm_90.

The build prints ptxas' resource usage for every kernel (-Xptxas=-v, CMakeLists.txt) into
<build dir>/build.log (setup.py keeps it; .ci/run builds for sm_80 and sm_90 with
SERENGETI_BUILD_DIR set). This test reads that report: SERENGETI_PTXAS_LOG names the log file
directly, otherwise $SERENGETI_BUILD_DIR/build.log. Without a CUDA build (no nvcc, or a build
with -DSERENGETI_CUDA=off) there is no report and the test skips.

A spill is a register the kernel had to keep in local memory: for the fused kernels it means
their wmma fragments or the per-lane tile values went through L1, which is exactly what the
tile design must avoid (launch bounds and register-resident plans, see shared_layout.cuh).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

# Kernels that do the tensor-core transforms in shared memory (the ones the issue requires to be
# spill-free); every other fftconv kernel is checked too.
BLOCK_KERNELS = (
    "fused_forward_kernel", "fused_backward_kernel", "filter_forward_kernel", "filter_backward_kernel",
    "forward_inner_kernel", "backward_inner_kernel", "filter_inner_kernel", "filter_backward_inner_kernel",
    "unit_sweep_forward_kernel", "unit_sweep_filter_kernel",
)
ARCHS = ("sm_80", "sm_90")


class Entry(NamedTuple):
    kernel: str  # mangled name
    arch: str
    registers: int
    spill_stores: int
    spill_loads: int
    stack: int


def _log_path() -> Optional[Path]:
    direct = os.environ.get("SERENGETI_PTXAS_LOG")
    if direct:
        return Path(direct)
    build = os.environ.get("SERENGETI_BUILD_DIR")
    return Path(build) / "build.log" if build else None


def parse_ptxas(text: str) -> list[Entry]:
    """Entries of a ptxas -v report: one per (kernel, architecture)."""
    entries = []
    current: Optional[tuple[str, str]] = None
    stack = stores = loads = 0
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)' for '(sm_\d+)'", line)
        if m:
            current = (m.group(1), m.group(2))
            stack = stores = loads = 0
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and current:
            stack, stores, loads = (int(g) for g in m.groups())
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and current:
            entries.append(Entry(current[0], current[1], int(m.group(1)), stores, loads, stack))
            current = None
    return entries


def _fftconv_entries() -> list[Entry]:
    path = _log_path()
    if path is None or not path.is_file():
        pytest.skip("no build log with a ptxas report (set SERENGETI_BUILD_DIR or SERENGETI_PTXAS_LOG "
                    "to a CUDA build's log)")
    entries = [e for e in parse_ptxas(path.read_text(errors="replace")) if "fftconv_kernels" in e.kernel]
    if not entries:
        pytest.skip(f"{path} has no ptxas report of the fftconv kernels (a build without nvcc)")
    return entries


def test_parser_reads_a_ptxas_report() -> None:
    sample = """ptxas info    : Compiling entry function '_ZN9serengeti4cuda15fftconv_kernels3fooEv' for 'sm_80'
ptxas info    : Function properties for _ZN9serengeti4cuda15fftconv_kernels3fooEv
    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 147 registers, used 1 barriers, 16 bytes cumulative stack size
"""
    assert parse_ptxas(sample) == [Entry("_ZN9serengeti4cuda15fftconv_kernels3fooEv", "sm_80", 147, 8, 4, 16)]


def test_no_spills_in_the_fftconv_kernels() -> None:
    entries = _fftconv_entries()
    spilled = [e for e in entries if e.spill_stores or e.spill_loads]
    assert not spilled, "register spills:\n" + "\n".join(
        f"{e.arch} {e.kernel}: {e.registers} registers, {e.spill_stores} B stored, {e.spill_loads} B loaded"
        for e in spilled)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_block_kernel_is_built_for(arch: str) -> None:
    names = {e.kernel for e in _fftconv_entries() if e.arch == arch}
    missing = [k for k in BLOCK_KERNELS if not any(k in n for n in names)]
    assert not missing, f"no {arch} ptxas entry for {missing} (is {arch} in SERENGETI_CUDA_ARCHS?)"
