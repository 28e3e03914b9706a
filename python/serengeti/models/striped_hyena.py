"""StripedHyena (Together's 7B Hessian base and Nous chat models): config, LM and checkpoint family.

Model: ``embedding_layer`` -> ``blocks`` (Hyena blocks and attention blocks, striped; the 7B has
even = Hyena, odd = attention) -> final RMSNorm ``norm`` -> ``unembed`` (bias-free, untied unless
``tie_embeddings``). Blocks: :mod:`serengeti.nn.striped_hyena`.

Checkpoints (MODELS.md): the standalone ``pytorch-model.bin`` is a plain state dict with these key
names; the HF copy is a directory (``config.json`` + sharded safetensors +
``model.safetensors.index.json``) whose keys carry the prefix ``backbone.``. Configs use the
published yml / config.json field names (:class:`StripedHyenaConfig`). Precision: every tensor in
the requested dtype (bf16 for the 7B) except poles and residues, which stay float32.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from serengeti.models.base import LanguageModel
from serengeti.models.family import ModelFamily, StateDict
from serengeti.nn.norms import RMSNorm
from serengeti.nn.rotary import rotary_inv_freq
from serengeti.nn.striped_hyena import (HYENA_PREFILL_STYLES, AttentionBlock, ParallelGatedConvBlock)

ARCH = "striped_hyena"
HF_PREFIX = "backbone."


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclasses.dataclass
class StripedHyenaConfig:
    """StripedHyena hyper-parameters, named as in the published yml / HF config.json.

    Fields (published 7B value in brackets):
        hidden_size d [4096]; num_layers [32]; vocab_size [32000]; num_attention_heads [32] (also
        the heads of the Hyena column split); proj_groups: query heads per kv head [4];
        attn_layer_idxs [odd layers]; hyena_layer_idxs [even layers] (defaults to the layers that
        are not attention; entries >= num_layers are dropped: the published yml lists 32);
        state_size S [2]; short_filter_length K [3]; short_filter_bias [True];
        inner_mlp_size [14336] (default: the reference rule, 8d/3 rounded up to
        inner_size_multiple_of); rotary_emb_base [500000]; column_split_hyena [True] (False: the
        "thirds" split); eps [1e-5]; tie_embeddings [False]; qkv_proj_bias, mha_out_proj_bias
        [False]; final_norm [True]; make_vocab_size_divisible_by [8] (recorded only: the published
        embedding is exactly vocab_size rows); max_seqlen [32768] (recorded only);
        prefill_style: the default prefill style of the Hyena blocks ("fft", "scan",
        "recurrence").
        Fields that only accept their default (other values describe models this module does not
        build): num_filters (= hidden_size), hyena_filter_groups (1), mlp_activation ("silu"),
        use_interpolated_rotary_pos_emb (False), smeared_gqa (False).
    """

    hidden_size: int
    num_layers: int
    vocab_size: int
    num_attention_heads: int
    proj_groups: int = 1
    attn_layer_idxs: Tuple[int, ...] = ()
    hyena_layer_idxs: Optional[Tuple[int, ...]] = None
    state_size: int = 2
    short_filter_length: int = 3
    short_filter_bias: bool = True
    inner_mlp_size: Optional[int] = None
    inner_size_multiple_of: int = 64
    rotary_emb_base: float = 10000.0
    column_split_hyena: bool = True
    eps: float = 1e-5
    tie_embeddings: bool = False
    qkv_proj_bias: bool = False
    mha_out_proj_bias: bool = False
    final_norm: bool = True
    make_vocab_size_divisible_by: int = 8
    max_seqlen: int = 32768
    prefill_style: str = "fft"
    num_filters: Optional[int] = None
    hyena_filter_groups: int = 1
    mlp_activation: str = "silu"
    use_interpolated_rotary_pos_emb: bool = False
    smeared_gqa: bool = False

    REQUIRED = ("hidden_size", "num_layers", "vocab_size", "num_attention_heads")

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers", "vocab_size", "num_attention_heads", "proj_groups",
                     "state_size", "short_filter_length", "inner_size_multiple_of",
                     "make_vocab_size_divisible_by", "max_seqlen", "hyena_filter_groups"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        for name in ("short_filter_bias", "column_split_hyena", "tie_embeddings", "qkv_proj_bias",
                     "mha_out_proj_bias", "final_norm", "use_interpolated_rotary_pos_emb", "smeared_gqa"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected a bool, got {getattr(self, name)!r}")
        d, H = self.hidden_size, self.num_attention_heads
        if d % H:
            raise ValueError(f"num_attention_heads: expected a divisor of hidden_size={d}, got {H}")
        if H % self.proj_groups:
            raise ValueError(f"proj_groups: expected a divisor of num_attention_heads={H}, got {self.proj_groups}")
        if self.short_filter_length > 128:
            raise ValueError(f"short_filter_length: expected at most 128, got {self.short_filter_length}")
        if (isinstance(self.rotary_emb_base, bool) or not isinstance(self.rotary_emb_base, (int, float))
                or not math.isfinite(self.rotary_emb_base) or self.rotary_emb_base <= 1):
            raise ValueError(f"rotary_emb_base: expected a finite number > 1, got {self.rotary_emb_base!r}")
        self.rotary_emb_base = float(self.rotary_emb_base)
        if (isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not self.eps >= 0):
            raise ValueError(f"eps: expected a number >= 0, got {self.eps!r}")
        self.eps = float(self.eps)
        if self.prefill_style not in HYENA_PREFILL_STYLES:
            raise ValueError(f"prefill_style: expected one of {list(HYENA_PREFILL_STYLES)}, got {self.prefill_style!r}")
        if self.inner_mlp_size is None:
            m = self.inner_size_multiple_of
            self.inner_mlp_size = m * ((int(2 * d * 4 / 3) + m - 1) // m)
        elif not _is_int(self.inner_mlp_size) or self.inner_mlp_size < 1:
            raise ValueError(f"inner_mlp_size: expected an int >= 1, got {self.inner_mlp_size!r}")
        if self.num_filters is None:
            self.num_filters = d
        if self.num_filters != d:
            raise ValueError(f"num_filters: only num_filters == hidden_size ({d}) is supported, "
                             f"got {self.num_filters!r}")
        if self.hyena_filter_groups != 1:
            raise ValueError(f"hyena_filter_groups: only 1 (one modal filter per channel) is supported, "
                             f"got {self.hyena_filter_groups}")
        if self.mlp_activation != "silu":
            raise ValueError(f"mlp_activation: StripedHyena's MLP is l3(silu(l1 x) * l2 x); expected 'silu', "
                             f"got {self.mlp_activation!r}")
        if self.use_interpolated_rotary_pos_emb:
            raise ValueError("use_interpolated_rotary_pos_emb: interpolated rotary embeddings are not supported; "
                             "expected False")
        if self.smeared_gqa:
            raise ValueError("smeared_gqa: expected False (the published models use plain GQA)")
        self.attn_layer_idxs = self._indices(self.attn_layer_idxs, "attn_layer_idxs")
        n = self.num_layers
        bad = [i for i in self.attn_layer_idxs if i >= n]
        if bad:
            raise ValueError(f"attn_layer_idxs: indices must lie in [0, num_layers={n}), got {bad}")
        if self.hyena_layer_idxs is None:
            self.hyena_layer_idxs = tuple(i for i in range(n) if i not in self.attn_layer_idxs)
        # Entries past the last layer are dropped: the published 7B yml lists layer 32 of 32, and the
        # reference never consults them.
        self.hyena_layer_idxs = tuple(i for i in self._indices(self.hyena_layer_idxs, "hyena_layer_idxs") if i < n)
        both = sorted(set(self.attn_layer_idxs) & set(self.hyena_layer_idxs))
        if both:
            raise ValueError(f"hyena_layer_idxs: layers {both} are also in attn_layer_idxs")
        orphans = [i for i in range(n) if i not in self.attn_layer_idxs and i not in self.hyena_layer_idxs]
        if orphans:
            raise ValueError(f"attn_layer_idxs, hyena_layer_idxs: layers {orphans} are in neither list")

    @staticmethod
    def _indices(value: object, name: str) -> Tuple[int, ...]:
        if not isinstance(value, (list, tuple)) or not all(_is_int(i) and i >= 0 for i in value):
            raise ValueError(f"{name}: expected a list of layer indices >= 0, got {value!r}")
        if len(set(value)) != len(value):
            raise ValueError(f"{name}: repeated indices in {list(value)}")
        return tuple(sorted(value))

    # -- derived ---------------------------------------------------------------------------------

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def num_kv_heads(self) -> int:
        return self.num_attention_heads // self.proj_groups

    def is_attention(self, layer: int) -> bool:
        """True when block ``layer`` is an attention block (else a Hyena block)."""
        return layer in self.attn_layer_idxs

    # -- conversion ------------------------------------------------------------------------------

    @classmethod
    def field_names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> "StripedHyenaConfig":
        """The config from a published yml / config.json mapping. Unknown keys are ignored;
        missing required ones (hidden_size, num_layers, vocab_size, num_attention_heads) are
        named in a ValueError."""
        if not isinstance(mapping, Mapping):
            raise TypeError(f"mapping: expected a mapping of config fields, got {type(mapping).__name__}")
        names = set(cls.field_names())
        values: Dict[str, Any] = {k: v for k, v in mapping.items() if k in names}
        missing = [k for k in cls.REQUIRED if values.get(k) is None]
        if missing:
            raise ValueError(f"config: missing required field(s) {missing} (StripedHyena yml / config.json names)")
        for key in ("attn_layer_idxs", "hyena_layer_idxs"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**{k: v for k, v in values.items() if v is not None})

    def to_dict(self) -> Dict[str, Any]:
        """The fields as plain Python values (lists for the layer indices), in from_dict's names."""
        out = dataclasses.asdict(self)
        out["attn_layer_idxs"] = list(self.attn_layer_idxs)
        out["hyena_layer_idxs"] = list(self.hyena_layer_idxs or ())
        return out

    # -- presets ---------------------------------------------------------------------------------

    @classmethod
    def published(cls, name: str) -> "StripedHyenaConfig":
        """"stripedhyena-hessian-7b" or "stripedhyena-nous-7b" (the same architecture)."""
        if name not in PUBLISHED:
            raise ValueError(f"name: expected one of {sorted(PUBLISHED)}, got {name!r}")
        return cls.from_dict(PUBLISHED[name])

    @classmethod
    def tiny(cls, **overrides: Any) -> "StripedHyenaConfig":
        """A small striped model for tests and examples: d 32, 4 layers (Hyena, attention, Hyena,
        attention), 4 query / 2 kv heads, MLP 64, vocab 96, S 2."""
        values: Dict[str, Any] = dict(hidden_size=32, num_layers=4, vocab_size=96, num_attention_heads=4,
                                      proj_groups=2, attn_layer_idxs=(1, 3), state_size=2,
                                      short_filter_length=3, inner_mlp_size=64, rotary_emb_base=10000.0,
                                      column_split_hyena=True)
        values.update(overrides)
        if "attn_layer_idxs" in overrides and "hyena_layer_idxs" not in overrides:
            values["hyena_layer_idxs"] = None
        return cls(**values)


_7B: Dict[str, Any] = {
    "hidden_size": 4096, "num_layers": 32, "vocab_size": 32000, "num_attention_heads": 32, "proj_groups": 4,
    "attn_layer_idxs": list(range(1, 32, 2)), "hyena_layer_idxs": list(range(0, 32, 2)), "state_size": 2,
    "short_filter_length": 3, "short_filter_bias": True, "inner_mlp_size": 14336, "rotary_emb_base": 500000,
    "column_split_hyena": True, "eps": 1e-5, "tie_embeddings": False, "qkv_proj_bias": False,
    "mha_out_proj_bias": False, "final_norm": True, "make_vocab_size_divisible_by": 8, "max_seqlen": 32768,
    "num_filters": 4096, "hyena_filter_groups": 1,
}
#: The published configs, in their own field names.
PUBLISHED: Dict[str, Dict[str, Any]] = {"stripedhyena-hessian-7b": dict(_7B), "stripedhyena-nous-7b": dict(_7B)}


def transformer_like(config: StripedHyenaConfig) -> StripedHyenaConfig:
    """The same model with every block an attention block (the Transformer baseline built from
    the same parts: embedding, RMSNorms, GQA with rotary, gated MLP, unembed)."""
    if not isinstance(config, StripedHyenaConfig):
        raise TypeError(f"config: expected a StripedHyenaConfig, got {type(config).__name__}")
    return dataclasses.replace(config, attn_layer_idxs=tuple(range(config.num_layers)), hyena_layer_idxs=())


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------

def make_block(config: StripedHyenaConfig, layer: int, *, device=None, dtype=None) -> nn.Module:
    """Block ``layer`` of the model described by ``config``."""
    fk = {"device": device, "dtype": dtype}
    d = config.hidden_size
    if config.is_attention(layer):
        return AttentionBlock(d, config.inner_mlp_size, config.num_attention_heads, config.num_kv_heads,
                              eps=config.eps, qkv_bias=config.qkv_proj_bias, out_bias=config.mha_out_proj_bias,
                              rotary_base=config.rotary_emb_base, **fk)
    return ParallelGatedConvBlock(
        d, config.inner_mlp_size, eps=config.eps, state_size=config.state_size,
        short_filter_length=config.short_filter_length, short_filter_bias=config.short_filter_bias,
        layout="column_split" if config.column_split_hyena else "thirds", heads=config.num_attention_heads,
        prefill_style=config.prefill_style, **fk)


class StripedHyenaLM(LanguageModel):
    """StripedHyena language model (see the module docstring).

    Submodules (official key names): ``embedding_layer`` (vocab, d), ``blocks`` (``blocks.i.*``),
    ``norm`` (final RMSNorm, ``norm.scale``; absent when ``final_norm`` is False), ``unembed``
    (Linear d -> vocab, no bias; its weight is the embedding when ``tie_embeddings``).

    Args:
        config: a :class:`StripedHyenaConfig`.
        device, dtype: of every tensor except the poles and residues (float32).
    """

    arch = ARCH

    def __init__(self, config: StripedHyenaConfig, *, device=None, dtype=None) -> None:
        super().__init__()
        if not isinstance(config, StripedHyenaConfig):
            raise TypeError(f"config: expected a StripedHyenaConfig, got {type(config).__name__}")
        self.config = config
        self.vocab_size = config.vocab_size
        self.sample_vocab_size = config.vocab_size
        fk = {"device": device, "dtype": dtype}
        d = config.hidden_size
        self.embedding_layer = nn.Embedding(config.vocab_size, d, **fk)
        self.blocks = nn.ModuleList(make_block(config, i, **fk) for i in range(config.num_layers))
        self.norm = RMSNorm(d, config.eps, **fk) if config.final_norm else None
        if config.tie_embeddings:  # no storage: tie_weights points it at the embedding
            self.unembed = nn.Linear(d, config.vocab_size, bias=False, device="meta", dtype=dtype)
        else:
            self.unembed = nn.Linear(d, config.vocab_size, bias=False, **fk)
        self.tie_weights()

    def tie_weights(self) -> None:
        """Point ``unembed.weight`` at the embedding when ``tie_embeddings`` (again, after a
        checkpoint was assigned)."""
        if self.config.tie_embeddings:
            self.unembed.weight = self.embedding_layer.weight

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.embedding_layer(input_ids)

    def head(self, h: Tensor) -> Tensor:
        return self.unembed(self.norm(h) if self.norm is not None else h)


def build(config: StripedHyenaConfig, dtype: Optional[torch.dtype] = None, device: Any = None) -> StripedHyenaLM:
    """StripedHyenaLM(config) with every tensor in ``dtype`` except poles and residues (float32)."""
    return StripedHyenaLM(config, device=device, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Checkpoint family
# ----------------------------------------------------------------------------------------------

_DETECT = re.compile(r"(?:backbone\.)?(?:embedding_layer\.weight|blocks\.\d+\.filter\.poles)")
_BLOCK_KEY = re.compile(r"blocks\.(\d+)\.(.+)")


def detect(keys: Any) -> bool:
    """True for StripedHyena keys (standalone or HF-prefixed): ``embedding_layer.weight`` or
    ``blocks.i.filter.poles``."""
    return any(isinstance(k, str) and _DETECT.fullmatch(k) for k in keys)


def normalize(state_dict: StateDict) -> StateDict:
    """Strip the HF ``backbone.`` prefix; other keys are kept as they are (the completeness check
    reports what does not fit).

    Rotary ``inv_freq`` buffers stored in 16-bit precision are dropped (the key is optional and then
    recomputed in float32 from ``rotary_emb_base``): the reference casts the buffer to bf16 and
    flash-attn then recomputes the frequencies in float32 from the base, while bf16-rounded
    frequencies would move the angles of long positions by whole radians.
    """
    out: StateDict = {}
    for key, value in state_dict.items():
        name = key[len(HF_PREFIX):] if key.startswith(HF_PREFIX) else key
        if name in out:
            raise ValueError(f"state_dict: both {name!r} and {HF_PREFIX + name!r} are present")
        if name.endswith("rotary_emb.inv_freq") and value.dtype in (torch.bfloat16, torch.float16):
            continue
        out[name] = value
    return out


def keep_float32(name: str) -> bool:
    """Poles and residues stay float32 whatever dtype the model is loaded in; so does the rotary
    ``inv_freq`` buffer (float32 by :class:`~serengeti.nn.rotary.RotaryEmbedding`'s contract)."""
    return name.endswith(("filter.poles", "filter.residues", "rotary_emb.inv_freq"))


def optional_keys(config: StripedHyenaConfig) -> Dict[str, Callable[[], Optional[Tensor]]]:
    """Rotary ``inv_freq`` buffers (recomputed from the base) and, when tied, ``unembed.weight``."""
    out: Dict[str, Callable[[], Optional[Tensor]]] = {}
    dim, base = config.head_dim, config.rotary_emb_base
    for i in config.attn_layer_idxs:
        out[f"blocks.{i}.inner_mha_cls.rotary_emb.inv_freq"] = lambda: rotary_inv_freq(dim, base)
    if config.tie_embeddings:
        out["unembed.weight"] = lambda: None
    return out


def _rotary_base_from(inv_freq: Tensor, dim: int) -> Optional[float]:
    """The base of ``inv_freq[i] = base^(-2i/dim)`` from a float32/64 buffer (None when it cannot
    tell: lower precision or fewer than two frequencies). Read from the last (smallest) frequency,
    where the exponent is largest, and rounded to 6 significant digits."""
    if inv_freq.dtype not in (torch.float32, torch.float64) or inv_freq.numel() < 2 or inv_freq.is_meta:
        return None
    last = float(inv_freq.reshape(-1)[-1])
    n = inv_freq.numel()
    if not 0 < last < 1:
        return None
    base = last ** (-dim / (2 * (n - 1)))
    return float(f"{base:.6g}")


def _infer(state_dict: StateDict) -> Dict[str, Any]:
    """What the keys and shapes of a normalised state dict tell about the config."""
    out: Dict[str, Any] = {}
    emb = state_dict.get("embedding_layer.weight")
    if emb is None or emb.dim() != 2:
        raise ValueError("state_dict: expected 'embedding_layer.weight' (vocab_size, hidden_size) to infer the config")
    out["vocab_size"], out["hidden_size"] = int(emb.shape[0]), int(emb.shape[1])
    layers: Dict[int, Dict[str, Tensor]] = {}
    for key, value in state_dict.items():
        m = _BLOCK_KEY.fullmatch(key)
        if m:
            layers.setdefault(int(m.group(1)), {})[m.group(2)] = value
    if not layers:
        raise ValueError("state_dict: no 'blocks.i.*' keys to infer the layers from")
    out["num_layers"] = max(layers) + 1
    # Layers with attention keys are attention blocks; every other layer is a Hyena block (one
    # with neither kind of key then shows up as missing keys in the completeness check).
    attn = sorted(i for i, keys in layers.items() if any(k.startswith("inner_mha_cls.") for k in keys))
    hyena = [i for i in range(out["num_layers"]) if i not in attn]
    out["attn_layer_idxs"] = attn
    out["hyena_layer_idxs"] = hyena
    for keys in layers.values():
        l1 = keys.get("mlp.l1.weight")
        if l1 is not None and l1.dim() == 2:
            out["inner_mlp_size"] = int(l1.shape[0])
            break
    for i in (i for i in hyena if i in layers):
        keys = layers[i]
        if "filter.poles" in keys and keys["filter.poles"].dim() == 4:
            out["state_size"] = int(keys["filter.poles"].shape[1])
        if "filter.short_filter_weight" in keys and keys["filter.short_filter_weight"].dim() == 3:
            out["short_filter_length"] = int(keys["filter.short_filter_weight"].shape[-1])
        out["short_filter_bias"] = "filter.short_filter_bias" in keys
        break
    if attn:
        keys = layers[attn[0]]
        out["qkv_proj_bias"] = "inner_mha_cls.Wqkv.bias" in keys
        out["mha_out_proj_bias"] = "inner_mha_cls.out_proj.bias" in keys
        inv = keys.get("inner_mha_cls.rotary_emb.inv_freq")
        if inv is not None and inv.dim() == 1 and inv.numel() > 0 and out["hidden_size"] % (2 * inv.numel()) == 0:
            head_dim = 2 * inv.numel()
            out["_num_attention_heads"] = out["hidden_size"] // head_dim
            base = _rotary_base_from(inv, head_dim)
            if base is not None:
                out["_rotary_emb_base"] = base
        wqkv = keys.get("inner_mha_cls.Wqkv.weight")
        if wqkv is not None and wqkv.dim() == 2:
            out["_wqkv_rows"] = int(wqkv.shape[0])
    out["final_norm"] = "norm.scale" in state_dict
    out["_has_unembed"] = "unembed.weight" in state_dict
    return out


def _kv_heads(rows: Optional[int], d: int, H: object) -> Optional[int]:
    """Key/value heads G from Wqkv's rows = d + 2 G head_dim (None when they do not fit)."""
    if rows is None or not _is_int(H) or H < 1 or d % H:
        return None
    e, extra = d // H, rows - d
    if extra <= 0 or extra % (2 * e) or H % (extra // (2 * e)):
        return None
    return extra // (2 * e)


def config_from_dict(mapping: Optional[Mapping[str, Any]], state_dict: StateDict) -> StripedHyenaConfig:
    """The config of a checkpoint: the mapping's fields (yml or HF config.json names) checked
    against, and completed by, what the state dict's shapes tell.

    From the shapes: hidden_size, vocab_size, num_layers, inner_mlp_size, state_size,
    short_filter_length / bias, which layers are attention, the attention biases, final_norm.
    num_attention_heads, proj_groups and rotary_emb_base come from the mapping, else from the
    checkpoint when it tells (the rotary ``inv_freq`` length gives head_dim, Wqkv's rows the kv
    heads, a float32 ``inv_freq`` the base), else from the published 7B values when
    hidden_size == 4096; otherwise a ValueError names the field.
    """
    given: Dict[str, Any] = {}
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise TypeError(f"config: expected a mapping, got {type(mapping).__name__}")
        names = set(StripedHyenaConfig.field_names())
        given = {k: v for k, v in mapping.items() if k in names and v is not None}
    inferred = _infer(state_dict)
    values = dict(given)
    n = inferred["num_layers"]
    for key, value in inferred.items():
        if key.startswith("_"):
            continue
        if key in given:
            mine = given[key]
            if key == "hyena_layer_idxs":  # the published yml lists one past the last layer
                mine = [i for i in mine if _is_int(i) and i < n] if isinstance(mine, (list, tuple)) else mine
            if isinstance(value, list) and isinstance(mine, (list, tuple)):
                same = sorted(mine) == value
            else:
                same = mine == value
            if not same:
                raise ValueError(f"config: {key}={given[key]!r} disagrees with the checkpoint, which has "
                                 f"{key}={value!r}")
        values[key] = value
    if "tie_embeddings" not in values:
        values["tie_embeddings"] = not inferred["_has_unembed"]
    d = values["hidden_size"]
    is_7b = d == _7B["hidden_size"]
    has_attn = bool(values["attn_layer_idxs"])
    needs_heads = has_attn or (bool(values["hyena_layer_idxs"]) and values.get("column_split_hyena", True))
    _complete(values, "num_attention_heads", inferred.get("_num_attention_heads"), is_7b, needs_heads,
              "config: num_attention_heads is needed (attention and the Hyena column split use it) and can be "
              "neither read from a config nor inferred from the checkpoint")
    values.setdefault("num_attention_heads", 1)
    H = values["num_attention_heads"]
    kv_heads = None if "proj_groups" in values else _kv_heads(inferred.get("_wqkv_rows"), d, H)
    _complete(values, "proj_groups", None if kv_heads is None else H // kv_heads, is_7b, has_attn,
              "config: proj_groups cannot be read from a config nor inferred from the checkpoint")
    _complete(values, "rotary_emb_base", inferred.get("_rotary_emb_base"), is_7b, has_attn,
              "config: rotary_emb_base cannot be read from a config nor inferred from the checkpoint (its "
              "rotary inv_freq is absent or not float32)")
    return StripedHyenaConfig.from_dict(values)


def _complete(values: Dict[str, Any], name: str, inferred: Optional[Any], is_7b: bool, needed: bool,
              error: str) -> None:
    """Fill ``values[name]`` when the config did not give it: from the checkpoint (``inferred``, None
    when it does not tell), else the published 7B value when ``is_7b``; else raise ValueError(error)
    when the model ``needed`` it (left unset otherwise)."""
    if name in values:
        return
    if inferred is not None:
        values[name] = inferred
    elif is_7b:
        values[name] = _7B[name]
    elif needed:
        raise ValueError(error)


FAMILY = ModelFamily(arch=ARCH, detect=detect, normalize=normalize, config_from_dict=config_from_dict,
                     build=build, keep_float32=keep_float32, optional_keys=optional_keys)

__all__ = ["StripedHyenaConfig", "StripedHyenaLM", "PUBLISHED", "transformer_like", "make_block", "build",
           "config_from_dict", "FAMILY"]
