"""H3 language models (the released H3-125M ... H3-2.7B) and their checkpoint family.

Model (upstream's SSMLMHeadModel): word embedding (no positions) -> n_layer pre-LN blocks whose
mixer is H3 (:class:`serengeti.nn.h3.H3`) or, at ``attn_layer_idx``, causal MHA with biases
(optionally NeoX rotary) -> ln_f -> lm_head tied to the embedding. MLP fc1 (d -> d_inner) ->
GELU(tanh) -> fc2. Keys: see MODELS.md and :mod:`serengeti.models.gpt_backbone`.

Checkpoint variants read by :data:`FAMILY` (through :func:`serengeti.load_model`):

- a plain state dict (``model.pt``) with the keys above;
- a Lightning checkpoint (``{'state_dict': {'model.' + key: ...}, 'pytorch-lightning_version': ...}``);
- legacy names: ``s4seq.encoder.`` -> ``backbone.``, ``embedding.`` ->
  ``backbone.embeddings.word_embeddings.``, ``backbone.norm.`` -> ``backbone.ln_0.``; when
  ``backbone.ln_0`` exists the blocks were post-norm and the norms are rotated into the pre-norm
  layout: ln_f <- layers[n-1].norm2; layers[l].norm2 <- layers[l].norm1;
  layers[l].norm1 <- layers[l-1].norm2 (l > 0); layers[0].norm1 <- ln_0.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from serengeti.models.family import ModelFamily, StateDict
from serengeti.models.gpt_backbone import GPTShellLM, shell_attention
from serengeti.models.gpt_checkpoint import (GPT2_PADDED_VOCAB, GPT2_VOCAB, LAYER_KEY, check_attn_layer_idx,
                                             check_shell_fields, infer_shell, is_int, optional_keys, shape,
                                             strip_lightning_prefix)
from serengeti.nn.h3 import H3, MEASURES, MODES

_ATTN_DEFAULTS: Dict[str, Any] = {"num_heads": None, "rotary_emb_dim": 0, "rotary_emb_base": 10000.0}
_SSM_DEFAULTS: Dict[str, Any] = {"head_dim": 1, "d_state": 64, "mode": "diag", "measure": "diag-lin"}
_REQUIRED = ("d_model", "n_layer", "vocab_size")


@dataclasses.dataclass
class H3Config:
    """An H3 LM in upstream's field names (``SSMLMHeadModel(d_model, n_layer, d_inner, vocab_size,
    ssm_cfg, attn_layer_idx, attn_cfg)``).

    Attributes:
        d_model, n_layer, vocab_size: width, blocks, embedding rows (already padded).
        d_inner: MLP width (None -> 4 * d_model).
        attn_layer_idx: indices of the attention blocks (sorted, distinct, < n_layer).
        attn_cfg: ``num_heads`` (required when there are attention blocks), ``rotary_emb_dim``
            (0 = no rotary), ``rotary_emb_base`` (10000).
        ssm_cfg: ``head_dim`` (1), ``d_state`` (64), ``mode`` ("diag"), ``measure`` ("diag-lin").
    Unknown keys of attn_cfg / ssm_cfg are dropped; missing ones take the defaults above.
    """

    d_model: int
    n_layer: int
    vocab_size: int
    d_inner: Optional[int] = None
    attn_layer_idx: Tuple[int, ...] = ()
    attn_cfg: Dict[str, Any] = dataclasses.field(default_factory=dict)
    ssm_cfg: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_shell_fields(self, ("d_model", "n_layer", "vocab_size"))
        self.attn_cfg = self._section("attn_cfg", self.attn_cfg, _ATTN_DEFAULTS)
        self.ssm_cfg = self._section("ssm_cfg", self.ssm_cfg, _SSM_DEFAULTS)
        self._check_attn()
        self._check_ssm()

    @staticmethod
    def _section(name: str, value: object, defaults: Mapping[str, Any]) -> Dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ValueError(f"{name}: expected a mapping, got {type(value).__name__}")
        out = dict(defaults)
        out.update({k: v for k, v in value.items() if k in defaults})
        return out

    def _check_attn(self) -> None:
        a = self.attn_cfg
        heads = a["num_heads"]
        if self.attn_layer_idx or heads is not None:
            if not is_int(heads) or heads < 1 or self.d_model % heads:
                raise ValueError(f"attn_cfg.num_heads: expected a positive divisor of d_model = {self.d_model} "
                                 f"(attention layers {list(self.attn_layer_idx)}), got {heads!r}")
        r = a["rotary_emb_dim"]
        if r is None:
            r = a["rotary_emb_dim"] = 0
        if not is_int(r) or r < 0 or r % 2 or (heads and r > self.d_model // heads):
            raise ValueError(f"attn_cfg.rotary_emb_dim: expected 0 or an even int <= head_dim, got {r!r}")
        base = a["rotary_emb_base"]
        if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 1:
            raise ValueError(f"attn_cfg.rotary_emb_base: expected a number > 1, got {base!r}")
        a["rotary_emb_base"] = float(base)

    def _check_ssm(self) -> None:
        s = self.ssm_cfg
        hd, N = s["head_dim"], s["d_state"]
        if not is_int(hd) or hd < 1 or self.d_model % hd:
            raise ValueError(f"ssm_cfg.head_dim: expected a positive divisor of d_model = {self.d_model}, got {hd!r}")
        if not is_int(N) or N < 2 or N % 2 or N > 128:
            raise ValueError(f"ssm_cfg.d_state: expected an even int in [2, 128], got {N!r}")
        if s["mode"] not in MODES:
            raise ValueError(f"ssm_cfg.mode: expected one of {list(MODES)}, got {s['mode']!r}")
        if s["measure"] not in MEASURES:
            raise ValueError(f"ssm_cfg.measure: expected one of {list(MEASURES)}, got {s['measure']!r}")

    # -- conversions -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> "H3Config":
        """A config from upstream's field names. Unknown keys are ignored; a Hydra-style
        ``{'model': {...}}`` is unwrapped; ``pad_vocab_size_multiple`` pads vocab_size as upstream
        does. Missing required fields (d_model, n_layer, vocab_size) are named in a ValueError."""
        if not isinstance(mapping, Mapping):
            raise TypeError(f"config: expected a mapping of H3 fields, got {type(mapping).__name__}")
        if "d_model" not in mapping and isinstance(mapping.get("model"), Mapping):
            mapping = mapping["model"]
        missing = [k for k in _REQUIRED if mapping.get(k) is None]
        if missing:
            raise ValueError(f"config: missing required field(s) {', '.join(missing)}")
        vocab = mapping["vocab_size"]
        pad = mapping.get("pad_vocab_size_multiple", 1) or 1
        if not is_int(pad) or pad < 1:
            raise ValueError(f"pad_vocab_size_multiple: expected a positive int, got {pad!r}")
        if is_int(vocab) and vocab % pad:
            vocab += pad - vocab % pad
        return cls(d_model=mapping["d_model"], n_layer=mapping["n_layer"], vocab_size=vocab,
                   d_inner=mapping.get("d_inner"), attn_layer_idx=mapping.get("attn_layer_idx") or (),
                   attn_cfg=mapping.get("attn_cfg") or {}, ssm_cfg=mapping.get("ssm_cfg") or {})

    def to_dict(self) -> Dict[str, Any]:
        """Upstream's field names; ``H3Config.from_dict(c.to_dict()) == c``."""
        return {"d_model": self.d_model, "n_layer": self.n_layer, "d_inner": self.d_inner,
                "vocab_size": self.vocab_size, "attn_layer_idx": list(self.attn_layer_idx),
                "attn_cfg": dict(self.attn_cfg), "ssm_cfg": dict(self.ssm_cfg)}

    @property
    def sample_vocab_size(self) -> int:
        """Tokens that may be sampled: 50257 for the padded GPT-2 vocabulary, else vocab_size."""
        return GPT2_VOCAB if self.vocab_size == GPT2_PADDED_VOCAB else self.vocab_size

    @classmethod
    def published(cls, name: str) -> "H3Config":
        """The released models: "h3-125m", "h3-355m", "h3-1.3b", "h3-2.7b" (model-3attn.pt) and
        "h3-2.7b-rotary" (model-2attn-rotary.pt)."""
        if name not in PUBLISHED:
            raise ValueError(f"name: expected one of {sorted(PUBLISHED)}, got {name!r}")
        return cls.from_dict(PUBLISHED[name])

    @classmethod
    def tiny(cls, **overrides: Any) -> "H3Config":
        """A small model for tests: d 16, 2 layers (layer 1 attention, 2 heads), d_state 8, vocab 64."""
        fields: Dict[str, Any] = {"d_model": 16, "n_layer": 2, "d_inner": 32, "vocab_size": 64,
                                  "attn_layer_idx": [1], "attn_cfg": {"num_heads": 2},
                                  "ssm_cfg": {"d_state": 8}}
        fields.update(overrides)
        return cls.from_dict(fields)


def _published(d: int, n: int, heads: int, attn: Sequence[int], rotary: int = 0) -> Dict[str, Any]:
    return {"d_model": d, "n_layer": n, "d_inner": 4 * d, "vocab_size": GPT2_PADDED_VOCAB,
            "attn_layer_idx": list(attn), "attn_cfg": {"num_heads": heads, "rotary_emb_dim": rotary},
            "ssm_cfg": {"head_dim": 1, "d_state": 64, "mode": "diag", "measure": "diag-lin"}}


PUBLISHED: Dict[str, Dict[str, Any]] = {
    "h3-125m": _published(768, 12, 12, [6]),
    "h3-355m": _published(1024, 24, 16, [8, 16]),
    "h3-1.3b": _published(2048, 24, 16, [8, 16]),
    "h3-2.7b": _published(2560, 32, 20, [8, 16, 24]),
    "h3-2.7b-rotary": _published(2560, 32, 20, [10, 21], rotary=64),
}


class H3LM(GPTShellLM):
    """The H3 language model built from an :class:`H3Config` (see the module docstring).

    ``H3LM(config, device=None, dtype=None)``: projections, MLPs, norms and embedding in
    ``dtype``; the SSM parameters of the H3 layers stay float32 (float64 for a float64 model).
    Initialisation follows upstream (GPT-2 style: Linear / Embedding weights N(0, 0.02), biases
    zero, out_proj / fc2 weights N(0, 0.02 / sqrt(2 n_layer)); S4D-Lin SSMs).
    """

    arch = "h3"

    def __init__(self, config: H3Config, *, device=None, dtype=None) -> None:
        if not isinstance(config, H3Config):
            raise TypeError(f"config: expected an H3Config, got {type(config).__name__}")
        d = config.d_model
        a, s = config.attn_cfg, config.ssm_cfg
        mixers: List[nn.Module] = []
        for i in range(config.n_layer):
            if i in config.attn_layer_idx:
                mixers.append(shell_attention(d, a, device=device, dtype=dtype))
            else:
                mixers.append(H3(d, d_state=s["d_state"], head_dim=s["head_dim"], mode=s["mode"],
                                 measure=s["measure"], device=device, dtype=dtype))
        super().__init__(config.vocab_size, d, config.d_inner, mixers,
                         sample_vocab_size=config.sample_vocab_size, device=device, dtype=dtype)
        self.config = config
        self._init_weights()


# ----------------------------------------------------------------------------------------------
# The checkpoint family
# ----------------------------------------------------------------------------------------------

_H3_MIXER_KEY = re.compile(r"(^|\.)layers\.\d+\.mixer\.(q_proj|k_proj|ssm_k_kernel|kernel\.kernel)\.")
_LEGACY_RENAMES = ((re.compile(r"^s4seq\.encoder\."), "backbone."),
                   (re.compile(r"^embedding\."), "backbone.embeddings.word_embeddings."),
                   (re.compile(r"^backbone\.norm\."), "backbone.ln_0."))
_FLOAT32_KEY = re.compile(r"(^|\.)mixer\.(D|ssm_k_D|ssm_k_kernel\.kernel\.[BC]|"
                          r"kernel\.kernel\.(log_dt|inv_A_real|A_imag|B|C)|rotary_emb\.inv_freq)$")


def detect(keys: Any) -> bool:
    """True when the keys (any official variant: plain, Lightning 'model.', legacy s4seq) hold
    an H3 mixer (``layers.i.mixer.q_proj`` / ``ssm_k_kernel`` / ``kernel.kernel``)."""
    return any(isinstance(k, str) and _H3_MIXER_KEY.search(k) for k in keys)


def _rename(sd: StateDict, rename: Callable[[str], str]) -> StateDict:
    out: StateDict = {}
    origin: Dict[str, str] = {}
    for k, v in sd.items():
        new = rename(k)
        if new in out:
            raise ValueError(f"checkpoint: keys {origin[new]!r} and {k!r} both map to {new!r}")
        out[new] = v
        origin[new] = k
    return out


def _legacy_name(key: str) -> str:
    for pattern, repl in _LEGACY_RENAMES:
        key = pattern.sub(repl, key, count=1)
    return key


def _rotate_legacy_norms(sd: StateDict) -> StateDict:
    """The legacy post-norm layout -> pre-norm names (see the module docstring)."""
    layers = {int(m.group(1)) for k in sd for m in [LAYER_KEY.match(k)] if m}
    if not layers:
        raise ValueError("checkpoint: backbone.ln_0 is present but there are no backbone.layers.* keys")
    n = max(layers) + 1
    suffixes = sorted(k[len("backbone.ln_0."):] for k in sd if k.startswith("backbone.ln_0."))
    clash = sorted(k for k in sd if k.startswith("backbone.ln_f."))
    if clash:
        raise ValueError(f"checkpoint: legacy layout (backbone.ln_0 / backbone.norm) but also {clash[0]!r}; "
                         "the rotation would overwrite it")
    # target <- source, for each norm of the new layout
    moves = {"backbone.ln_f": f"backbone.layers.{n - 1}.norm2", "backbone.layers.0.norm1": "backbone.ln_0"}
    for l in range(n):
        moves[f"backbone.layers.{l}.norm2"] = f"backbone.layers.{l}.norm1"
        if l > 0:
            moves[f"backbone.layers.{l}.norm1"] = f"backbone.layers.{l - 1}.norm2"
    sources = {f"{src}.{s}" for src in moves.values() for s in suffixes}
    absent = sorted(sources - set(sd))
    if absent:
        raise ValueError(f"checkpoint: legacy layout (backbone.ln_0) lacks the norm key(s) {absent[:6]}"
                         + (f" and {len(absent) - 6} more" if len(absent) > 6 else ""))
    out = {k: v for k, v in sd.items() if k not in sources}
    for dst, src in moves.items():
        for s in suffixes:
            out[f"{dst}.{s}"] = sd[f"{src}.{s}"]
    return out


def normalize(sd: StateDict) -> StateDict:
    """Strip Lightning's 'model.' prefix, apply the legacy renames and the legacy LayerNorm rotation.

    Keys outside 'model.' in a Lightning dict (trainer state, not the network) are dropped with a
    warning naming them; every other key is kept (the loader reports what does not fit)."""
    stripped = strip_lightning_prefix(sd)
    if stripped is not None:
        sd = stripped
    sd = _rename(dict(sd), _legacy_name)
    if any(k.startswith("backbone.ln_0.") for k in sd):
        sd = _rotate_legacy_norms(sd)
    return sd


def _infer(sd: StateDict) -> Dict[str, Any]:
    """What the normalised keys and shapes say about the config (fields absent when unknown):
    the shell's (:func:`~serengeti.models.gpt_checkpoint.infer_shell`; the embedding rows as
    ``vocab_size``, the rotary dim as ``attn_cfg.rotary_emb_dim``) and ``ssm_cfg``."""
    out, layers = infer_shell(sd)
    if "vocab_rows" in out:
        out["vocab_size"] = out.pop("vocab_rows")
    if "rotary_emb_dim" in out:
        out["attn_cfg"] = {"rotary_emb_dim": out.pop("rotary_emb_dim")}
    if not layers:
        return out
    ssm: Dict[str, Any] = {}
    for i in layers:
        shift_B = shape(sd, f"backbone.layers.{i}.mixer.ssm_k_kernel.kernel.B")
        log_dt = shape(sd, f"backbone.layers.{i}.mixer.kernel.kernel.log_dt")
        if shift_B is not None and len(shift_B) == 2:
            ssm["d_state"] = shift_B[1]
            if log_dt is not None and len(log_dt) == 1 and log_dt[0] > 0 and shift_B[0] % log_dt[0] == 0:
                ssm["head_dim"] = shift_B[0] // log_dt[0]
            break
    out["ssm_cfg"] = ssm
    return out


def _published_match(fields: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The published config with this d_model, n_layer and attention layers, if any."""
    for cfg in PUBLISHED.values():
        if (cfg["d_model"], cfg["n_layer"], cfg["attn_layer_idx"]) == (
                fields.get("d_model"), fields.get("n_layer"), list(fields.get("attn_layer_idx") or [])):
            return cfg
    return None


def config_from_dict(mapping: Optional[Mapping[str, Any]], sd: StateDict) -> H3Config:
    """The config of a normalised H3 state dict, from its keys and shapes plus ``mapping``.

    Inferred: d_model, vocab_size (embedding), n_layer, d_inner (fc1), attn_layer_idx (layers with
    mixer.Wqkv), ssm_cfg.d_state and head_dim (shift B and log_dt shapes), attn_cfg.rotary_emb_dim
    (mixer.rotary_emb.inv_freq). num_heads comes from the mapping or, absent, from the published
    model of that d_model (ValueError naming attn_cfg.num_heads otherwise); rotary, when the
    checkpoint has no inv_freq and the mapping says nothing, from the published model with the
    same d_model, n_layer and attention layers. A mapping field that contradicts the checkpoint
    raises a ValueError naming it.
    """
    given: Dict[str, Any] = {}
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise TypeError(f"config: expected a mapping or None, got {type(mapping).__name__}")
        if "d_model" not in mapping and isinstance(mapping.get("model"), Mapping):
            mapping = mapping["model"]
        given = dict(mapping)
        pad = given.get("pad_vocab_size_multiple") or 1
        if is_int(given.get("vocab_size")) and is_int(pad) and pad > 1 and given["vocab_size"] % pad:
            given["vocab_size"] += pad - given["vocab_size"] % pad
        given.pop("pad_vocab_size_multiple", None)
    found = _infer(sd)
    merged: Dict[str, Any] = dict(given)
    for name in ("d_model", "n_layer", "d_inner", "vocab_size"):
        if name in found:
            if given.get(name) is not None and given[name] != found[name]:
                raise ValueError(f"{name}: the config says {given[name]!r} but the checkpoint has {found[name]!r}")
            merged[name] = found[name]
    if "attn_layer_idx" in found:
        check_attn_layer_idx(given.get("attn_layer_idx"), found["attn_layer_idx"])
        merged["attn_layer_idx"] = found["attn_layer_idx"]
    ssm = dict(given.get("ssm_cfg") or {})
    for name, value in found.get("ssm_cfg", {}).items():
        if ssm.get(name) is not None and ssm[name] != value:
            raise ValueError(f"ssm_cfg.{name}: the config says {ssm[name]!r} but the checkpoint has {value!r}")
        ssm[name] = value
    merged["ssm_cfg"] = ssm
    attn = dict(given.get("attn_cfg") or {})
    published = _published_match(merged)
    if "rotary_emb_dim" in found.get("attn_cfg", {}):
        r = found["attn_cfg"]["rotary_emb_dim"]
        if attn.get("rotary_emb_dim") not in (None, r):
            raise ValueError(f"attn_cfg.rotary_emb_dim: the config says {attn['rotary_emb_dim']!r} but the "
                             f"checkpoint's rotary_emb.inv_freq has {r // 2} frequencies (dim {r})")
        attn["rotary_emb_dim"] = r
    elif attn.get("rotary_emb_dim") is None and published is not None:
        attn["rotary_emb_dim"] = published["attn_cfg"]["rotary_emb_dim"]
    if merged.get("attn_layer_idx") and attn.get("num_heads") is None:
        by_width = {c["d_model"]: c["attn_cfg"]["num_heads"] for c in PUBLISHED.values()}
        if merged.get("d_model") not in by_width:
            raise ValueError(f"attn_cfg.num_heads: not in the config and d_model = {merged.get('d_model')} is "
                             f"not a published H3 width ({sorted(by_width)}); pass config={{'attn_cfg': "
                             "{'num_heads': ...}}")
        attn["num_heads"] = by_width[merged["d_model"]]
    merged["attn_cfg"] = attn
    return H3Config.from_dict(merged)


def build(config: H3Config, dtype: Optional[torch.dtype], device: Any) -> H3LM:
    """H3LM(config) with ``dtype`` (SSM parameters float32) on ``device``."""
    return H3LM(config, device=device, dtype=dtype)


def keep_float32(name: str) -> bool:
    """The SSM tensors (shift and diagonal kernels, D, ssm_k_D) and rotary inv_freq stay float32."""
    return bool(_FLOAT32_KEY.search(name))


FAMILY = ModelFamily(arch="h3", detect=detect, normalize=normalize, config_from_dict=config_from_dict,
                     build=build, keep_float32=keep_float32, optional_keys=optional_keys)
