"""Argument validation shared by the ops: every message starts with the argument's name."""
from __future__ import annotations

from typing import Iterable, Optional

import torch

ACTIVATION_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def dtype_list(dtypes: Iterable[torch.dtype]) -> str:
    return ", ".join(str(d).replace("torch.", "") for d in dtypes)


def check_tensor(x: object, name: str, ndim: Optional[int] = None, shape_doc: str = "") -> torch.Tensor:
    """``x`` must be a tensor (with ``ndim`` dimensions when given)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() != ndim:
        doc = f" {shape_doc}" if shape_doc else ""
        raise ValueError(f"{name}: expected a {ndim}-D tensor{doc}, got shape {tuple(x.shape)}")
    return x


def check_dtype(x: torch.Tensor, name: str, allowed: Iterable[torch.dtype], why: str = "") -> None:
    allowed = tuple(allowed)
    if x.dtype not in allowed:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name}: expected dtype {dtype_list(allowed)}{reason}, got {str(x.dtype).replace('torch.', '')}")


def check_same_device(x: torch.Tensor, name: str, ref: torch.Tensor, ref_name: str) -> None:
    if x.device != ref.device:
        raise ValueError(f"{name}: expected a tensor on {ref_name}'s device {ref.device}, got {x.device}")


def check_bool(x: object, name: str) -> None:
    if not isinstance(x, bool):
        raise ValueError(f"{name}: expected a bool, got {type(x).__name__}")
