"""The language-model shell shared by H3 and safari's Hyena (flash-attn's SSMLMHeadModel layout).

Keys: ``backbone.embeddings.word_embeddings.weight``, ``backbone.layers.i.{norm1, mixer, norm2,
mlp.fc1, mlp.fc2}``, ``backbone.ln_f``, ``lm_head.weight`` (tied to the embedding).
Pre-LN blocks: ``r += mixer(norm1 r); r += mlp(norm2 r)``; logits = ``lm_head(ln_f r)``.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from serengeti.models.base import LanguageModel
from serengeti.nn.attention import Attention
from serengeti.nn.base import LayerCache, SequenceMixer
from serengeti.nn.mlp import GeluMLP
from serengeti.nn.norms import LayerNorm


def shell_attention(d_model: int, attn_cfg: Mapping[str, Any], *, device=None, dtype=None) -> Attention:
    """The shell's attention mixer (``mixer.Wqkv``, ``mixer.out_proj``, both with bias): multi-head
    attention with ``attn_cfg['num_heads']`` heads and NeoX rotary over ``rotary_emb_dim`` dims of
    each head (0: none) with base ``rotary_emb_base``."""
    return Attention(d_model, attn_cfg["num_heads"], qkv_bias=True, out_bias=True,
                     rotary_dim=attn_cfg["rotary_emb_dim"], rotary_base=attn_cfg["rotary_emb_base"],
                     device=device, dtype=dtype)


class PreNormBlock(nn.Module):
    """``r += mixer(norm1 r); r += mlp(norm2 r)`` with LayerNorm (eps 1e-5) and the GELU MLP."""

    def __init__(self, d_model: int, d_inner: int, mixer: SequenceMixer, *, device=None, dtype=None) -> None:
        super().__init__()
        self.norm1 = LayerNorm(d_model, eps=1e-5, device=device, dtype=dtype)
        self.mixer = mixer
        self.norm2 = LayerNorm(d_model, eps=1e-5, device=device, dtype=dtype)
        self.mlp = GeluMLP(d_model, d_inner, device=device, dtype=dtype)

    @property
    def prefill_styles(self) -> Tuple[str, ...]:
        return self.mixer.prefill_styles

    def forward(self, h: Tensor) -> Tensor:
        h = h + self.mixer(self.norm1(h))
        return h + self.mlp(self.norm2(h))

    def prefill(self, h: Tensor, *, style: Optional[str] = None) -> Tuple[Tensor, LayerCache]:
        y, cache = self.mixer.prefill(self.norm1(h), style=style)
        h = h + y
        return h + self.mlp(self.norm2(h)), cache

    def step(self, h: Tensor, cache: LayerCache) -> Tensor:
        h = h + self.mixer.step(self.norm1(h), cache)
        return h + self.mlp(self.norm2(h))


class Backbone(nn.Module):
    """``embeddings.word_embeddings``, ``layers`` and ``ln_f`` (the key names of the checkpoints)."""

    def __init__(self, vocab_size: int, d_model: int, d_inner: int, mixers: Sequence[SequenceMixer], *,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(vocab_size, d_model, device=device, dtype=dtype)
        self.layers = nn.ModuleList(PreNormBlock(d_model, d_inner, m, device=device, dtype=dtype) for m in mixers)
        self.ln_f = LayerNorm(d_model, eps=1e-5, device=device, dtype=dtype)


class GPTShellLM(LanguageModel):
    """Embedding -> PreNormBlocks -> ln_f -> lm_head tied to the embedding (H3LM, HyenaLM).

    ``mixers[i]`` is layer i's mixer (the family's own, or attention); ``sample_vocab_size`` is the
    tokenizer's vocabulary (50257 for GPT-2) when ``vocab_size`` is padded (50264).
    """

    def __init__(self, vocab_size: int, d_model: int, d_inner: int, mixers: Sequence[SequenceMixer], *,
                 sample_vocab_size: Optional[int] = None, device=None, dtype=None) -> None:
        super().__init__()
        self.vocab_size = int(vocab_size)
        self.sample_vocab_size = int(sample_vocab_size or vocab_size)
        self.backbone = Backbone(vocab_size, d_model, d_inner, mixers, device=device, dtype=dtype)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False, device="meta")
        self.tie_weights()

    @property
    def blocks(self) -> nn.ModuleList:
        return self.backbone.layers

    @torch.no_grad()
    def _init_weights(self, initializer_range: float = 0.02) -> None:
        """GPT-2-style initialisation (upstream H3's and safari's): every Linear weight (the mixers'
        inner ones too) N(0, initializer_range), out_proj / fc2 weights N(0, initializer_range /
        sqrt(2 n_layer)), Linear biases zero, the word embedding N(0, initializer_range); the tied
        lm_head is skipped. Subclasses call it once their modules are built."""
        scaled = initializer_range / (2 * len(self.blocks)) ** 0.5
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                if module.weight is self.backbone.embeddings.word_embeddings.weight:
                    continue  # the tied lm_head
                std = scaled if name.endswith(("out_proj", "fc2")) else initializer_range
                nn.init.normal_(module.weight, 0.0, std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, initializer_range)

    def tie_weights(self) -> None:
        """Point lm_head at the word embedding (again, after a checkpoint was assigned)."""
        self.lm_head.weight = self.backbone.embeddings.word_embeddings.weight

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.backbone.embeddings.word_embeddings(input_ids)

    def head(self, h: Tensor) -> Tensor:
        return self.lm_head(self.backbone.ln_f(h))
