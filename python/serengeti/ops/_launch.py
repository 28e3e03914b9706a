"""Calling the native ops from the torch layer: the CUDA stream to launch on and the scratch
memory (workspace) the CUDA kernels ask for, allocated by torch on the tensors' device."""
from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import torch
from torch import Tensor

from serengeti._runtime import backend_for, device_guard, get_num_threads


def current_stream(t: Tensor) -> int:
    """The raw handle of torch's current CUDA stream on t's device (0 for CPU tensors)."""
    return torch.cuda.current_stream(t.device).cuda_stream if t.device.type == "cuda" else 0


class Workspace(tuple):
    """(data_ptr, bytes) of scratch memory a kernel asked for; keeps the tensor alive."""

    tensor: Optional[Tensor] = None


def workspace(nbytes: int, device: torch.device) -> Workspace:
    """Scratch memory for the CUDA kernels (filter spectra, long-transform intermediates, partial
    sums), from torch's allocator on the tensors' device; (0, 0) when none is needed."""
    if nbytes == 0:
        return Workspace((0, 0))
    tensor = torch.empty(nbytes, dtype=torch.uint8, device=device)
    ws = Workspace((tensor.data_ptr(), nbytes))
    ws.tensor = tensor
    return ws


def run_native(anchor: Tensor, workspace_bytes: Callable[..., int], run: Callable[..., None],
               args: Tuple[Any, ...]) -> None:
    """One native op on ``anchor``'s backend: size its workspace (``workspace_bytes(*args,
    backend, threads)``), allocate it on anchor's device and call ``run(*args, workspace,
    workspace_bytes, backend, threads, stream)`` there, on the device's current stream."""
    backend, threads = backend_for(anchor), get_num_threads()
    with device_guard(anchor):
        ws = workspace(workspace_bytes(*args, backend, threads), anchor.device)
        run(*args, *ws, backend, threads, current_stream(anchor))
