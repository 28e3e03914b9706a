"""Ops defined in the ``serengeti`` torch.library namespace with explicit schemas.

``torch.library.custom_op`` costs ~45 us of Python dispatch per call on this machine; an op defined
with ``Library.define`` and a Python kernel costs ~9 us (measured side by side). That difference is
the whole budget of a decode step, so latency-critical ops (one token at a time) are defined here.
Fake (meta) kernels are registered the same way, so torch.compile traces them.
"""
from __future__ import annotations

from typing import Callable

import torch

# A fragment: torch.library.custom_op registers other ops into the same namespace.
_LIB = torch.library.Library("serengeti", "FRAGMENT")


def define_op(schema: str, impl: Callable, fake: Callable):
    """Defines ``serengeti::<schema>`` with ``impl`` for CPU and CUDA tensors and ``fake`` for
    tracing; returns the op (``torch.ops.serengeti.<name>``)."""
    name = schema.split("(", 1)[0]
    _LIB.define(schema)
    for dispatch_key in ("CPU", "CUDA"):
        _LIB.impl(name, impl, dispatch_key)
    torch.library.register_fake(f"serengeti::{name}", fake, lib=_LIB)
    return getattr(torch.ops.serengeti, name)
