"""What every sequence mixer of Serengeti provides, and the decoding caches they return.

A mixer maps x (B, L, d) -> y (B, L, d) causally and offers three ways to run:

- ``forward(x)``: the parallel path (fftconv / short_conv / modal ops, or attention);
- ``prefill(x, style=None) -> (y, cache)``: the same y (to rounding) plus the cache that
  ``step`` continues from, position L; ``style`` picks how long-filter state is built
  ("fft", "scan", "recurrence"; each mixer lists its own in ``prefill_styles``, None = default);
- ``step(x_t, cache) -> y_t``: one token, x_t (B, d) -> y_t (B, d); the cache is updated in place.

Caches are plain dataclasses of tensors, so their size can be asserted in tests (``nbytes``).
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Iterator, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn


@dataclasses.dataclass
class LayerCache:
    """Base of every decoding cache: a dataclass whose tensor fields (or lists/tuples of tensors)
    are the state carried from token to token."""

    def tensors(self) -> Iterator[Tensor]:
        """Every tensor the cache holds."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Tensor):
                yield value
            elif isinstance(value, (list, tuple)):
                yield from (v for v in value if isinstance(v, Tensor))
            elif isinstance(value, LayerCache):
                yield from value.tensors()

    def nbytes(self) -> int:
        """Bytes held by the cache's tensors (allocated capacity, not just the used part)."""
        return sum(t.numel() * t.element_size() for t in self.tensors())


class SequenceMixer(nn.Module, abc.ABC):
    """Base class of the mixers (H3, Hyena, StripedHyena's gated conv, attention).

    Subclasses set ``prefill_styles`` (the first one is the default) and implement
    ``forward``, ``_prefill(x, style)`` and ``step``.
    """

    prefill_styles: Tuple[str, ...] = ("parallel",)

    def prefill(self, x: Tensor, *, style: Optional[str] = None) -> Tuple[Tensor, LayerCache]:
        """Run the prompt x (B, L, d), L >= 1; return (y (B, L, d), cache at position L)."""
        return self._prefill(x, resolve_style(style, self.prefill_styles, type(self).__name__))

    @abc.abstractmethod
    def _prefill(self, x: Tensor, style: str) -> Tuple[Tensor, LayerCache]:
        """``prefill`` after the style was validated."""

    @abc.abstractmethod
    def step(self, x_t: Tensor, cache: LayerCache) -> Tensor:
        """One decoding step: x_t (B, d) -> y_t (B, d); updates ``cache`` in place."""


def resolve_style(style: Optional[str], allowed: Sequence[str], who: str) -> str:
    """``style`` if it is one of ``allowed`` (None -> the first); otherwise a ValueError naming
    the argument."""
    if style is None:
        return allowed[0]
    if not isinstance(style, str) or style not in allowed:
        raise ValueError(f"prefill_style: expected one of {list(allowed)} for {who}, got {style!r}")
    return style


def check_sequence_input(x: object, d_model: int, name: str = "x") -> Tensor:
    """Validate a mixer input (B, L, d_model) with L >= 1."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (B, L, {d_model}), got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != d_model or x.shape[1] < 1:
        raise ValueError(f"{name}: expected shape (B, L >= 1, {d_model}), got {tuple(x.shape)}")
    return x


def check_step_input(x_t: object, d_model: int, name: str = "x_t") -> Tensor:
    """Validate a decoding-step input (B, d_model)."""
    if not isinstance(x_t, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (B, {d_model}), got {type(x_t).__name__}")
    if x_t.dim() != 2 or x_t.shape[-1] != d_model:
        raise ValueError(f"{name}: expected shape (B, {d_model}), got {tuple(x_t.shape)}")
    return x_t
