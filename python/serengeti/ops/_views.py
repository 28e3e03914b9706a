"""Describe torch tensors to the C++ core without passing torch objects across the boundary.

A description is ``(data_ptr, dtype_code, sizes, strides)`` (strides in elements) or ``None``;
the codes match ``serengeti::DType`` in cpp/include/serengeti/dtype.h.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

DTYPE_CODES = {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}

TensorDesc = Tuple[int, int, Tuple[int, ...], Tuple[int, ...]]


def describe(t: Optional[torch.Tensor]) -> Optional[TensorDesc]:
    """The C++ view of ``t`` (None stays None)."""
    if t is None:
        return None
    return (t.data_ptr(), DTYPE_CODES[t.dtype], tuple(t.shape), tuple(t.stride()))
