"""The language-model interface shared by H3LM, HyenaLM and StripedHyenaLM.

A model is ``embed -> blocks -> head``; each block maps the residual stream h (B, L, d) -> h and
offers ``forward(h)``, ``prefill(h, style) -> (h, cache)`` and ``step(h_t, cache) -> h_t``
(h_t (B, d)). This class turns those into:

- ``model(input_ids)`` -> logits (B, L, vocab_size), the parallel path;
- ``model.prefill(input_ids, prefill_style=None)`` -> (logits of the last position (B, V), cache);
- ``model.step(token_ids, cache)`` -> logits (B, V) for the next position (cache updated in place);
- ``model.generate(...)``: see :func:`serengeti.generation.generate`.
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor, nn

from serengeti.nn.base import LayerCache


@dataclasses.dataclass
class ModelCache:
    """Per-block decoding caches plus the number of tokens consumed so far."""

    layers: List[LayerCache]
    position: int

    def nbytes(self) -> int:
        """Bytes held by every block's cache."""
        return sum(c.nbytes() for c in self.layers)


class LanguageModel(nn.Module, abc.ABC):
    """Base of the three LM families. Subclasses set ``self.config``, ``self.blocks``
    (an nn.ModuleList of blocks as described in the module docstring), ``vocab_size`` (rows of the
    logits), ``sample_vocab_size`` (ids >= it are padding and never sampled) and implement
    ``embed(input_ids) -> (B, L, d)`` and ``head(h) -> logits``."""

    arch: str = ""

    @abc.abstractmethod
    def embed(self, input_ids: Tensor) -> Tensor:
        """input_ids (B, L) int64 -> the residual stream (B, L, d)."""

    @abc.abstractmethod
    def head(self, h: Tensor) -> Tensor:
        """The residual stream (B, L, d) -> logits (B, L, vocab_size) (final norm included)."""

    # -- shared plumbing -------------------------------------------------------------------------

    @property
    def prefill_styles(self) -> Tuple[str, ...]:
        """Every prefill style some block accepts (blocks not offering a style use their default)."""
        styles: List[str] = []
        for block in self.blocks:
            for s in block.prefill_styles:
                if s not in styles:
                    styles.append(s)
        return tuple(styles)

    def _check_ids(self, input_ids: object, name: str = "input_ids", ndim: int = 2) -> Tensor:
        shape_doc = "(B, L)" if ndim == 2 else "(B,)"
        if not isinstance(input_ids, Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor {shape_doc} of token ids, got {type(input_ids).__name__}")
        if input_ids.dim() != ndim or (ndim == 2 and input_ids.shape[1] < 1) or input_ids.shape[0] < 1:
            raise ValueError(f"{name}: expected shape {shape_doc} with B >= 1" + (" and L >= 1" if ndim == 2 else "")
                             + f", got {tuple(input_ids.shape)}")
        if input_ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
            raise ValueError(f"{name}: expected an integer tensor, got {input_ids.dtype}")
        # The range check reads values (a graph break), so compiled graphs skip it.
        if (not torch.compiler.is_compiling() and input_ids.numel()
                and (int(input_ids.min()) < 0 or int(input_ids.max()) >= self.vocab_size)):
            raise ValueError(f"{name}: token ids must lie in [0, {self.vocab_size}), got range "
                             f"[{int(input_ids.min())}, {int(input_ids.max())}]")
        return input_ids.long()

    def forward(self, input_ids: Tensor) -> Tensor:
        """input_ids (B, L) -> logits (B, L, vocab_size)."""
        h = self.embed(self._check_ids(input_ids))
        for block in self.blocks:
            h = block(h)
        return self.head(h)

    @torch.no_grad()
    def prefill(self, input_ids: Tensor, *, prefill_style: Optional[str] = None,
                all_logits: bool = False) -> Tuple[Tensor, ModelCache]:
        """Run the prompt and build every block's decoding cache.

        Args:
            input_ids: (B, L) prompt, L >= 1.
            prefill_style: None (each block's default) or one of ``self.prefill_styles``; blocks
                that do not offer the style use their default.
            all_logits: return logits for every position (B, L, V) instead of the last (B, V)
                (the last alone keeps long prompts cheap).
        Returns:
            (logits, cache) with ``cache.position == L``.
        """
        ids = self._check_ids(input_ids)
        styles = self.prefill_styles
        if prefill_style is not None and (not isinstance(prefill_style, str) or prefill_style not in styles):
            raise ValueError(f"prefill_style: expected None or one of {list(styles)}, got {prefill_style!r}")
        h = self.embed(ids)
        caches: List[LayerCache] = []
        for block in self.blocks:
            style = prefill_style if prefill_style in block.prefill_styles else None
            h, cache = block.prefill(h, style=style)
            caches.append(cache)
        logits = self.head(h if all_logits else h[:, -1:])
        return (logits if all_logits else logits[:, 0]), ModelCache(caches, ids.shape[1])

    @torch.no_grad()
    def step(self, token_ids: Tensor, cache: ModelCache) -> Tensor:
        """token_ids (B,) at position ``cache.position`` -> logits (B, V); advances the cache."""
        ids = self._check_ids(token_ids, "token_ids", ndim=1)
        if not isinstance(cache, ModelCache) or len(cache.layers) != len(self.blocks):
            raise ValueError("cache: expected the ModelCache returned by this model's prefill")
        h = self.embed(ids[:, None])[:, 0]
        for block, layer_cache in zip(self.blocks, cache.layers):
            h = block.step(h, layer_cache)
        cache.position += 1
        return self.head(h[:, None])[:, 0]

    def generate(self, input_ids: Tensor, max_new_tokens: int, **kwargs: Any) -> Tensor:
        """Sample a continuation; see :func:`serengeti.generation.generate` for the arguments."""
        from serengeti.generation import generate
        return generate(self, input_ids, max_new_tokens, **kwargs)

    def tie_weights(self) -> None:
        """Re-tie shared weights after a checkpoint was assigned (families with tied weights override)."""

    def num_parameters(self) -> int:
        """Parameters counted once (tied weights once)."""
        return sum(p.numel() for p in {id(p): p for p in self.parameters()}.values())
