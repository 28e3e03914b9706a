"""safari's Hyena language model (hyena-small, 150B tokens) and its checkpoint family.

Model (safari's ``lm`` / ConvLMHeadModel, the same shell as H3): word embedding (no positions) ->
n_layer pre-LN blocks whose mixer is :class:`serengeti.nn.hyena.HyenaOperator` or, at
``attn_layer_idx``, causal MHA with biases (optionally NeoX rotary) -> ln_f -> lm_head tied to the
embedding. MLP fc1 (d -> d_inner) -> GELU(tanh) -> fc2. Keys: MODELS.md and
:mod:`serengeti.models.gpt_backbone`; the mixer keys ``mixer.in_proj.*``, ``mixer.short_filter.*``,
``mixer.filter_fn.{bias, pos_emb.z, pos_emb.t, implicit_filter.*, modulation.deltas}``,
``mixer.out_proj.*``.

Config (:class:`HyenaConfig`) in safari's field names: ``d_model, n_layer, d_inner, vocab_size,
pad_vocab_size_multiple, attn_layer_idx, attn_cfg {num_heads, rotary_emb_dim}, layer {l_max, order,
filter_order, emb_dim, local_order, modulate, w, ...}``. ``vocab_size`` is the tokenizer's
(50257) and the embedding has it rounded up to ``pad_vocab_size_multiple`` (8 -> 50264) rows, as
safari does. safari passes ``local_order`` to the filter, which ignores it; the short conv's width
is ``short_filter_order`` (3).

Decoding: exact up to l_max by default; ``HyenaLM.distill(num_modes)`` switches every Hyena layer
to O(1)-per-token modal decoding (see :mod:`serengeti.nn.hyena`).
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import torch
from torch import nn

from serengeti.models.family import ModelFamily, StateDict
from serengeti.models.gpt_backbone import GPTShellLM, shell_attention
from serengeti.models.gpt_checkpoint import (GPT2_PADDED_VOCAB, GPT2_VOCAB, LIGHTNING_PREFIX, check_attn_layer_idx,
                                             check_shell_fields, infer_shell, is_int, optional_keys, shape,
                                             strip_lightning_prefix)
from serengeti.nn.distill import DEFAULT_MAX_RADIUS, DistillReport
from serengeti.nn.hyena import HyenaOperator

# safari HyenaOperator options every released model leaves at these values (others are not built).
_FIXED_LAYER_OPTIONS: Dict[str, Any] = {"num_heads": 1, "inner_factor": 1, "num_blocks": 1,
                                        "outer_mixing": False, "post_order_ffn": False, "activation": "id"}


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclasses.dataclass
class HyenaLayerConfig:
    """safari's ``layer`` section (HyenaOperator + HyenaFilter arguments).

    Attributes:
        l_max: longest sequence / filter taps (hyena-small 2048).
        order: recurrence depth N (2).
        filter_order: implicit-MLP width (64).
        emb_dim: positional features (33 for hyena-small; safari's default 3).
        short_filter_order: short conv taps (3).
        local_order: recorded as given; safari passes it to the filter, which ignores it.
        modulate: exponential modulation (hyena-small eval config False, training config True).
        w: initial Sin frequency (14 for hyena-small; safari's default 1).
        num_inner_mlps: hidden MLP layers (2).
        bias: whether the filter's skip bias is used (True).
        normalized: L1-normalise h over channels (False).
        fast_decay_pct, slow_decay_pct, target, shift: the modulation's init and offset.
    """

    l_max: int
    order: int = 2
    filter_order: int = 64
    emb_dim: int = 3
    short_filter_order: int = 3
    local_order: int = 3
    modulate: bool = False
    w: float = 1.0
    num_inner_mlps: int = 2
    bias: bool = True
    normalized: bool = False
    fast_decay_pct: float = 0.3
    slow_decay_pct: float = 1.5
    target: float = 1e-2
    shift: float = 0.0

    def __post_init__(self) -> None:
        for name in ("l_max", "order", "filter_order", "emb_dim", "short_filter_order", "local_order"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"layer.{name}: expected a positive int, got {value!r}")
        if self.order < 2:
            raise ValueError(f"layer.order: expected an int >= 2, got {self.order}")
        if self.emb_dim < 3 or self.emb_dim % 2 == 0:
            raise ValueError(f"layer.emb_dim: expected an odd int >= 3, got {self.emb_dim}")
        if not is_int(self.num_inner_mlps) or self.num_inner_mlps < 0:
            raise ValueError(f"layer.num_inner_mlps: expected an int >= 0, got {self.num_inner_mlps!r}")
        for name in ("modulate", "bias", "normalized"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"layer.{name}: expected a bool, got {getattr(self, name)!r}")
        for name in ("w", "fast_decay_pct", "slow_decay_pct", "target", "shift"):
            if not _is_number(getattr(self, name)):
                raise ValueError(f"layer.{name}: expected a number, got {getattr(self, name)!r}")
            setattr(self, name, float(getattr(self, name)))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> "HyenaLayerConfig":
        """From safari's layer mapping: unknown keys ignored, ``l_max`` required, the options no
        released model changes (num_heads, inner_factor, num_blocks, outer_mixing, post_order_ffn,
        activation) must keep their defaults."""
        if not isinstance(mapping, Mapping):
            raise ValueError(f"layer: expected a mapping of HyenaOperator fields, got {type(mapping).__name__}")
        if mapping.get("l_max") is None:
            raise ValueError("layer.l_max: missing required field")
        for name, fixed in _FIXED_LAYER_OPTIONS.items():
            if name in mapping and mapping[name] is not None and mapping[name] != fixed:
                raise ValueError(f"layer.{name}: only {fixed!r} is supported (every released Hyena uses it), "
                                 f"got {mapping[name]!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in mapping.items() if k in names and v is not None})


@dataclasses.dataclass
class HyenaConfig:
    """A safari Hyena LM (``d_model, n_layer, d_inner, vocab_size, layer, attn_layer_idx, attn_cfg,
    pad_vocab_size_multiple``).

    Attributes:
        d_model, n_layer, d_inner: width, blocks, MLP width (None -> 4 * d_model).
        vocab_size: the tokenizer's vocabulary; the embedding has ``padded_vocab_size`` rows.
        layer: the Hyena layers' :class:`HyenaLayerConfig` (a mapping is converted).
        attn_layer_idx: blocks that are attention layers.
        attn_cfg: ``num_heads`` (required with attention layers), ``rotary_emb_dim`` (0),
            ``rotary_emb_base`` (10000); other keys dropped.
        pad_vocab_size_multiple: round the embedding rows up to a multiple of this (safari: 8).
    """

    d_model: int
    n_layer: int
    vocab_size: int
    layer: Any
    d_inner: Optional[int] = None
    attn_layer_idx: Tuple[int, ...] = ()
    attn_cfg: Dict[str, Any] = dataclasses.field(default_factory=dict)
    pad_vocab_size_multiple: int = 1

    def __post_init__(self) -> None:
        check_shell_fields(self, ("d_model", "n_layer", "vocab_size", "pad_vocab_size_multiple"))
        if isinstance(self.layer, Mapping):
            self.layer = HyenaLayerConfig.from_dict(self.layer)
        if not isinstance(self.layer, HyenaLayerConfig):
            raise ValueError(f"layer: expected a HyenaLayerConfig or a mapping, got {type(self.layer).__name__}")
        cfg = self.attn_cfg if self.attn_cfg is not None else {}
        if not isinstance(cfg, Mapping):
            raise ValueError(f"attn_cfg: expected a mapping, got {type(cfg).__name__}")
        a = {"num_heads": cfg.get("num_heads"), "rotary_emb_dim": cfg.get("rotary_emb_dim") or 0,
             "rotary_emb_base": cfg.get("rotary_emb_base", 10000.0)}
        heads = a["num_heads"]
        if self.attn_layer_idx or heads is not None:
            if not is_int(heads) or heads < 1 or self.d_model % heads:
                raise ValueError(f"attn_cfg.num_heads: expected a positive divisor of d_model={self.d_model} "
                                 f"(attention layers {list(self.attn_layer_idx)}), got {heads!r}")
        r = a["rotary_emb_dim"]
        if not is_int(r) or r < 0 or r % 2 or (heads and r > self.d_model // heads):
            raise ValueError(f"attn_cfg.rotary_emb_dim: expected 0 or an even int <= head_dim, got {r!r}")
        if not _is_number(a["rotary_emb_base"]) or not a["rotary_emb_base"] > 1:
            raise ValueError(f"attn_cfg.rotary_emb_base: expected a number > 1, got {a['rotary_emb_base']!r}")
        a["rotary_emb_base"] = float(a["rotary_emb_base"])
        self.attn_cfg = a

    @property
    def padded_vocab_size(self) -> int:
        """Embedding rows: vocab_size rounded up to pad_vocab_size_multiple."""
        m = self.pad_vocab_size_multiple
        return -(-self.vocab_size // m) * m

    @property
    def sample_vocab_size(self) -> int:
        """Ids that may be sampled: vocab_size (50257 for GPT-2's padded 50264 rows)."""
        if self.padded_vocab_size == GPT2_PADDED_VOCAB and self.vocab_size in (GPT2_VOCAB, GPT2_PADDED_VOCAB):
            return GPT2_VOCAB
        return self.vocab_size

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> "HyenaConfig":
        """From safari's field names. Unknown keys are ignored; the model section of an experiment
        yml (``{'model': {...}}``) or an eval config (``{'model_config': {...}}``) is unwrapped;
        missing required fields (d_model, n_layer, vocab_size, layer.l_max) are named."""
        section = _model_section(mapping)
        missing = [k for k in ("d_model", "n_layer", "vocab_size", "layer") if section.get(k) is None]
        if missing:
            raise ValueError(f"config: missing required field(s) {', '.join(missing)}")
        return cls(d_model=section["d_model"], n_layer=section["n_layer"], vocab_size=section["vocab_size"],
                   layer=section["layer"], d_inner=section.get("d_inner"),
                   attn_layer_idx=section.get("attn_layer_idx") or (), attn_cfg=section.get("attn_cfg") or {},
                   pad_vocab_size_multiple=section.get("pad_vocab_size_multiple") or 1)

    def to_dict(self) -> Dict[str, Any]:
        """safari's field names; ``HyenaConfig.from_dict(c.to_dict()) == c``."""
        return {"d_model": self.d_model, "n_layer": self.n_layer, "d_inner": self.d_inner,
                "vocab_size": self.vocab_size, "pad_vocab_size_multiple": self.pad_vocab_size_multiple,
                "attn_layer_idx": list(self.attn_layer_idx), "attn_cfg": dict(self.attn_cfg),
                "layer": dataclasses.asdict(self.layer)}

    @classmethod
    def published(cls, name: str) -> "HyenaConfig":
        """The released models: "hyena-small-150b" (safari's eval config: modulate False)."""
        if name not in PUBLISHED:
            raise ValueError(f"name: expected one of {sorted(PUBLISHED)}, got {name!r}")
        return cls.from_dict(PUBLISHED[name])

    @classmethod
    def tiny(cls, **overrides: Any) -> "HyenaConfig":
        """A small model for tests: d 32, 2 Hyena layers, d_inner 64, vocab 64, l_max 256, emb_dim 5,
        filter width 16, modulate True. Overrides: any HyenaConfig field, or any HyenaLayerConfig
        field (applied to ``layer``)."""
        layer: Dict[str, Any] = {"l_max": 256, "order": 2, "filter_order": 16, "emb_dim": 5, "modulate": True,
                                 "w": 1.0}
        fields: Dict[str, Any] = {"d_model": 32, "n_layer": 2, "d_inner": 64, "vocab_size": 64}
        layer_names = {f.name for f in dataclasses.fields(HyenaLayerConfig)}
        for k, v in overrides.items():
            if k == "layer":
                layer.update(v)
            elif k in layer_names:
                layer[k] = v
            else:
                fields[k] = v
        fields["layer"] = layer
        return cls.from_dict(fields)


def _model_section(mapping: object) -> Mapping[str, Any]:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"config: expected a mapping of Hyena fields, got {type(mapping).__name__}")
    if "d_model" not in mapping:
        for key in ("model", "model_config"):
            if isinstance(mapping.get(key), Mapping):
                return mapping[key]
    return mapping


PUBLISHED: Dict[str, Dict[str, Any]] = {
    # safari configs/evals/hyena_small_150b.yaml (model_config section).
    "hyena-small-150b": {
        "d_model": 864, "n_layer": 18, "d_inner": 1728, "vocab_size": GPT2_VOCAB, "pad_vocab_size_multiple": 8,
        "layer": {"l_max": 2048, "order": 2, "filter_order": 64, "emb_dim": 33, "local_order": 3,
                  "short_filter_order": 3, "modulate": False, "w": 14},
    },
}


class HyenaLM(GPTShellLM):
    """The safari Hyena language model built from a :class:`HyenaConfig` (module docstring).

    ``HyenaLM(config, device=None, dtype=None)``: projections, MLPs, norms and embedding in
    ``dtype``; the implicit filters (``filter_fn``) stay float32 (float64 for a float64 model).
    Initialisation as safari's LM: Linear / Embedding weights N(0, 0.02) (the filter MLPs too),
    biases zero, out_proj / fc2 weights N(0, 0.02 / sqrt(2 n_layer)).
    """

    arch = "hyena"

    def __init__(self, config: HyenaConfig, *, device=None, dtype=None) -> None:
        if not isinstance(config, HyenaConfig):
            raise TypeError(f"config: expected a HyenaConfig, got {type(config).__name__}")
        d, c, a = config.d_model, config.layer, config.attn_cfg
        mixers: List[nn.Module] = []
        for i in range(config.n_layer):
            if i in config.attn_layer_idx:
                mixers.append(shell_attention(d, a, device=device, dtype=dtype))
            else:
                mixers.append(HyenaOperator(
                    d, c.l_max, order=c.order, filter_order=c.filter_order, emb_dim=c.emb_dim,
                    short_filter_order=c.short_filter_order, w=c.w, modulate=c.modulate,
                    num_inner_mlps=c.num_inner_mlps, filter_bias=c.bias, normalized=c.normalized,
                    fast_decay_pct=c.fast_decay_pct, slow_decay_pct=c.slow_decay_pct, target=c.target,
                    modulation_shift=c.shift, device=device, dtype=dtype))
        super().__init__(config.padded_vocab_size, d, config.d_inner, mixers,
                         sample_vocab_size=config.sample_vocab_size, device=device, dtype=dtype)
        self.config = config
        self._init_weights()

    def hyena_layers(self) -> Iterator[Tuple[int, HyenaOperator]]:
        """(block index, HyenaOperator) of every Hyena block."""
        for i, block in enumerate(self.blocks):
            if isinstance(block.mixer, HyenaOperator):
                yield i, block.mixer

    def distill(self, num_modes: int = 16, *, pencil: Optional[int] = None, max_radius: float = DEFAULT_MAX_RADIUS,
                use_in_forward: Optional[bool] = None) -> Dict[int, DistillReport]:
        """:meth:`HyenaOperator.distill` on every Hyena block; returns {block index: report}.
        Afterwards ``prefill`` / ``step`` decode in O(1) per token at any position."""
        return {i: m.distill(num_modes, pencil=pencil, max_radius=max_radius, use_in_forward=use_in_forward)
                for i, m in self.hyena_layers()}

    def clear_distillation(self) -> None:
        """Back to exact decoding and the exact forward in every Hyena block."""
        for _, m in self.hyena_layers():
            m.clear_distillation()


# ----------------------------------------------------------------------------------------------
# The checkpoint family
# ----------------------------------------------------------------------------------------------

_IMPLICIT_LINEAR = re.compile(r"^backbone\.layers\.(\d+)\.mixer\.filter_fn\.implicit_filter\.(\d+)\.weight$")


def detect(keys: Any) -> bool:
    """True when the keys (plain or Lightning 'model.'-prefixed) hold a safari Hyena mixer
    (``layers.i.mixer.filter_fn.*``)."""
    return any(isinstance(k, str) and ".mixer.filter_fn." in k for k in keys)


def normalize(sd: StateDict) -> StateDict:
    """Strip Lightning's 'model.' prefix. In a Lightning dict, entries outside 'model.' (trainer
    state, not the network) are dropped with a warning naming them; a plain dict is kept as it is
    (the loader reports what does not fit)."""
    stripped = strip_lightning_prefix(sd, LIGHTNING_PREFIX + "backbone.")
    if stripped is not None:
        return stripped
    if not any(k.startswith("backbone.") for k in sd):
        raise ValueError(f"checkpoint: no 'backbone.' keys (nor 'model.backbone.'): cannot map the prefix of "
                         f"{sorted(sd)[:4]} to safari's LM layout")
    return dict(sd)


def _infer(sd: StateDict) -> Dict[str, Any]:
    """What the normalised keys and shapes say about the config (fields absent when unknown):
    the shell's (:func:`~serengeti.models.gpt_checkpoint.infer_shell`) and the Hyena ``layer``."""
    out, layers = infer_shell(sd)
    if not layers:
        return out
    hyena = [i for i in layers if f"backbone.layers.{i}.mixer.filter_fn.pos_emb.z" in sd]
    layer: Dict[str, Any] = {}
    if hyena:
        p = f"backbone.layers.{hyena[0]}.mixer."
        z = shape(sd, p + "filter_fn.pos_emb.z")
        if z is not None and len(z) == 3:
            layer["l_max"], layer["emb_dim"] = z[1], z[2]
        first = shape(sd, p + "filter_fn.implicit_filter.0.weight")
        if first is not None and len(first) == 2:
            layer["filter_order"] = first[0]
        linears = [int(m.group(2)) for k in sd for m in [_IMPLICIT_LINEAR.match(k)]
                   if m and int(m.group(1)) == hyena[0]]
        if linears:
            layer["num_inner_mlps"] = max(linears) // 2 - 1
        in_proj = shape(sd, p + "in_proj.weight")
        if in_proj is not None and len(in_proj) == 2 and in_proj[1] > 0 and in_proj[0] % in_proj[1] == 0:
            layer["order"] = in_proj[0] // in_proj[1] - 1
        short = shape(sd, p + "short_filter.weight")
        if short is not None and len(short) == 3:
            layer["short_filter_order"] = short[2]
    out["layer"] = layer
    return out


def _agree(name: str, given: object, found: object) -> None:
    """A mapping value that is a number must equal what the checkpoint shows; other values
    (None, unresolved Hydra interpolations like '${dataset.max_length}') defer to the checkpoint."""
    if is_int(given) and given != found:
        raise ValueError(f"{name}: the config says {given!r} but the checkpoint has {found!r}")


def config_from_dict(mapping: Optional[Mapping[str, Any]], sd: StateDict) -> HyenaConfig:
    """The config of a normalised safari Hyena state dict, from its keys and shapes plus ``mapping``.

    Inferred: d_model and the embedding rows, n_layer, d_inner (fc1), attn_layer_idx (layers with
    mixer.Wqkv), layer.{l_max, emb_dim} (pos_emb.z), layer.filter_order and num_inner_mlps
    (implicit_filter), layer.order (in_proj), layer.short_filter_order (short_filter),
    attn_cfg.rotary_emb_dim (rotary_emb.inv_freq). From the mapping only: layer.modulate
    (default False, the eval config), w, bias, normalized, shift, attn_cfg.num_heads (required
    with attention layers). vocab_size: the mapping's (with pad_vocab_size_multiple) when it
    pads to the embedding rows, else the rows. A mapping value contradicting the checkpoint raises
    a ValueError naming it; non-numeric values (unresolved interpolations) defer to the checkpoint.
    """
    given: Dict[str, Any] = dict(_model_section(mapping)) if mapping is not None else {}
    found = _infer(sd)
    merged: Dict[str, Any] = dict(given)
    for name in ("d_model", "n_layer", "d_inner"):
        if name in found:
            _agree(name, given.get(name), found[name])
            merged[name] = found[name]
    if "vocab_rows" in found:
        rows = found["vocab_rows"]
        vocab, pad = given.get("vocab_size"), given.get("pad_vocab_size_multiple") or 1
        if is_int(vocab) and is_int(pad) and pad >= 1:
            padded = -(-vocab // pad) * pad
            if padded != rows:
                raise ValueError(f"vocab_size: the config says {vocab} (padded to a multiple of {pad}: {padded}) "
                                 f"but the checkpoint's embedding has {rows} rows")
        else:
            merged["vocab_size"], merged["pad_vocab_size_multiple"] = rows, 1
    if "attn_layer_idx" in found:
        check_attn_layer_idx(given.get("attn_layer_idx"), found["attn_layer_idx"])
        merged["attn_layer_idx"] = found["attn_layer_idx"]
    layer_given = given.get("layer") or {}
    if not isinstance(layer_given, Mapping):
        raise ValueError(f"layer: expected a mapping, got {type(layer_given).__name__}")
    layer = dict(layer_given)
    for name, value in found.get("layer", {}).items():
        _agree(f"layer.{name}", layer_given.get(name), value)
        layer[name] = value
    layer.setdefault("modulate", False)
    merged["layer"] = layer
    attn = dict(given.get("attn_cfg") or {})
    if "rotary_emb_dim" in found:
        _agree("attn_cfg.rotary_emb_dim", attn.get("rotary_emb_dim") or None, found["rotary_emb_dim"])
        attn["rotary_emb_dim"] = found["rotary_emb_dim"]
    merged["attn_cfg"] = attn
    return HyenaConfig.from_dict(merged)


def build(config: HyenaConfig, dtype: Optional[torch.dtype], device: Any) -> HyenaLM:
    """HyenaLM(config) with ``dtype`` (implicit filters float32) on ``device``."""
    return HyenaLM(config, device=device, dtype=dtype)


def keep_float32(name: str) -> bool:
    """The implicit filters (every ``mixer.filter_fn.*`` tensor) and rotary inv_freq stay float32."""
    return ".mixer.filter_fn." in name or name.endswith("rotary_emb.inv_freq")


FAMILY = ModelFamily(arch="hyena", detect=detect, normalize=normalize, config_from_dict=config_from_dict,
                     build=build, keep_float32=keep_float32, optional_keys=optional_keys)
