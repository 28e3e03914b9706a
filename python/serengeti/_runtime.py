"""Run-time settings: which backend runs CPU tensors, how many CPU threads the kernels use.

Both are explicit, user-set values (like ``torch.set_num_threads``): the backend is scoped with a
context manager (a ``contextvars.ContextVar``, so threads and async tasks do not see each other's
choice), the thread count is a process-wide override of ``torch.get_num_threads()``.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from serengeti import _C

_BACKENDS = ("cpu", "emu", "cuda")
# The CUDA kernels use Ampere's tensor-core and shared-memory features (wmma on fp16, up to 99 KB
# of shared memory per block): compute capability 8.0 or newer.
MIN_COMPUTE_CAPABILITY = (8, 0)
_cpu_backend: contextvars.ContextVar[str] = contextvars.ContextVar("serengeti_cpu_backend", default="cpu")

_threads_lock = threading.Lock()
_threads_override: Optional[int] = None


def backend_status() -> Dict[str, str]:
    """For each backend name, "available" or the reason it cannot run here."""
    status = {"cpu": "available"}
    if getattr(_C, "has_emu_kernels", False):
        status["emu"] = "available"
    else:
        status["emu"] = "not built: this build found no CUDA headers for the host emulator (cuda/emu)"
    if not getattr(_C, "has_cuda_kernels", False):
        status["cuda"] = "not built: this build of serengeti has no CUDA kernels"
    elif not torch.cuda.is_available():
        status["cuda"] = "no CUDA device or driver visible to torch"
    elif not any(_capable(i) for i in range(torch.cuda.device_count())):
        found = ", ".join(_sm(torch.cuda.get_device_capability(i)) for i in range(torch.cuda.device_count()))
        status["cuda"] = f"no GPU of compute capability {_sm(MIN_COMPUTE_CAPABILITY)} or newer (found {found})"
    else:
        status["cuda"] = "available"
    return status


def _sm(capability: Tuple[int, int]) -> str:
    return f"sm_{capability[0]}{capability[1]}"


def _capable(device_index: int) -> bool:
    return tuple(torch.cuda.get_device_capability(device_index)) >= MIN_COMPUTE_CAPABILITY


# Which backends implement each op family (the C++ dispatch raises for the others).
OP_BACKENDS: Dict[str, Tuple[str, ...]] = {
    "fftconv": ("cpu", "emu", "cuda"),
    "short_conv": ("cpu", "emu", "cuda"),
    "modal": ("cpu", "emu", "cuda"),
}


def available_backends(op: Optional[str] = None) -> List[str]:
    """The backends that can run ops here, e.g. ``["cpu"]`` or ``["cpu", "emu", "cuda"]``.

    With ``op`` (a family name such as "fftconv" or "short_conv"), only those implementing it.
    """
    if op is not None and op not in OP_BACKENDS:
        raise ValueError(f"op: expected one of {sorted(OP_BACKENDS)}, got {op!r}")
    allowed = OP_BACKENDS[op] if op is not None else _BACKENDS
    return [name for name, state in backend_status().items() if state == "available" and name in allowed]


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run ops on CPU tensors with backend ``name`` ("cpu" or "emu") inside the ``with`` block.

    CUDA tensors always use the "cuda" backend; selecting "cuda" here is accepted so tests can
    parametrise over :func:`available_backends`, and then means "the tensors must be on a GPU".
    """
    if name not in _BACKENDS:
        raise ValueError(f"name: expected one of {list(_BACKENDS)}, got {name!r}")
    status = backend_status()[name]
    if status != "available":
        raise ValueError(f"name: backend {name!r} is not available ({status})")
    token = _cpu_backend.set(name)
    try:
        yield
    finally:
        _cpu_backend.reset(token)


def backend_for(t: torch.Tensor) -> str:
    """The backend that runs an op whose main input is ``t``. A CUDA tensor on a GPU older than
    the kernels need raises RuntimeError saying so (rather than failing at the kernel launch)."""
    if t.device.type == "cuda":
        index = t.device.index if t.device.index is not None else torch.cuda.current_device()
        if not _capable(index):
            raise RuntimeError(
                f"serengeti's CUDA kernels need compute capability {_sm(MIN_COMPUTE_CAPABILITY)} or newer; "
                f"{t.device} is {_sm(torch.cuda.get_device_capability(index))}. Run on the CPU "
                f"(tensor.cpu()) or on an Ampere or newer GPU.")
        return "cuda"
    selected = _cpu_backend.get()
    return "cpu" if selected == "cuda" else selected


def set_num_threads(n: Optional[int]) -> None:
    """Use ``n`` CPU threads in serengeti kernels; ``None`` follows ``torch.get_num_threads()``."""
    global _threads_override
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n: expected a positive int or None, got {n!r}")
    with _threads_lock:
        _threads_override = n


def get_num_threads() -> int:
    """The CPU thread count serengeti kernels use now."""
    override = _threads_override
    return override if override is not None else max(1, torch.get_num_threads())


def device_guard(t: torch.Tensor) -> contextlib.AbstractContextManager:
    """Makes ``t``'s GPU the current device for a launch (a no-op for CPU tensors), so kernels run
    on the tensor's device and on that device's current torch stream."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()

