"""Checkpoint logic shared by the two families on the GPT LM shell (:mod:`serengeti.models.gpt_backbone`):
H3 (:mod:`serengeti.models.h3`) and safari's Hyena (:mod:`serengeti.models.hyena`).

Both families' checkpoints use the same shell keys (``backbone.embeddings.word_embeddings.weight``,
``backbone.layers.i.{norm1, mixer, norm2, mlp.fc1, mlp.fc2}``, ``backbone.ln_f``, ``lm_head.weight``
tied to the embedding), attention blocks with ``mixer.Wqkv`` and optional NeoX rotary
(``mixer.rotary_emb.inv_freq``), and the same Lightning wrapping (every network key prefixed with
``model.``). What each family's mixer keys say about its config stays in the family's module.
"""
from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

from torch import Tensor

from serengeti.models.family import StateDict
from serengeti.nn.rotary import rotary_inv_freq

GPT2_VOCAB = 50257
GPT2_PADDED_VOCAB = 50264   # GPT-2's 50257 tokens padded to a multiple of 8

LIGHTNING_PREFIX = "model."
LAYER_KEY = re.compile(r"^backbone\.layers\.(\d+)\.")


class ShellConfig(Protocol):
    """What :func:`optional_keys` reads of a family config (H3Config, HyenaConfig)."""

    attn_layer_idx: Tuple[int, ...]
    attn_cfg: Dict[str, Any]


def is_int(x: object) -> bool:
    """True for an int that is not a bool."""
    return isinstance(x, int) and not isinstance(x, bool)


def check_shell_fields(config: Any, positive: Tuple[str, ...]) -> None:
    """Validate and normalise the GPT-shell fields of a family config in place: the ``positive``
    int fields, ``d_inner`` (None -> 4 d_model) and ``attn_layer_idx`` (None, an int or a list ->
    a sorted tuple of distinct layer indices in [0, n_layer)). ValueError names the field."""
    for name in positive:
        value = getattr(config, name)
        if not is_int(value) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if config.d_inner is None:
        config.d_inner = 4 * config.d_model
    if not is_int(config.d_inner) or config.d_inner < 1:
        raise ValueError(f"d_inner: expected a positive int or None, got {config.d_inner!r}")
    idx = config.attn_layer_idx
    idx = () if idx is None else ((idx,) if is_int(idx) else idx)
    if not isinstance(idx, (list, tuple)) or not all(is_int(i) for i in idx):
        raise ValueError(f"attn_layer_idx: expected a list of layer indices, got {config.attn_layer_idx!r}")
    if len(set(idx)) != len(idx) or any(not 0 <= i < config.n_layer for i in idx):
        raise ValueError(f"attn_layer_idx: expected distinct indices in [0, n_layer = {config.n_layer}), "
                         f"got {list(idx)}")
    config.attn_layer_idx = tuple(sorted(idx))


def strip_lightning_prefix(sd: Mapping[str, Tensor], marker: str = LIGHTNING_PREFIX) -> Optional[StateDict]:
    """The network of a Lightning checkpoint, or None when ``sd`` is not one.

    ``sd`` is a Lightning dict when some key starts with ``marker`` (:data:`LIGHTNING_PREFIX`, or a
    longer prefix beginning with it that a family requires). Then the entries under ``'model.'``
    are returned with that prefix removed; the others (trainer state, not the network) are
    dropped with a warning naming them, attributed to the caller of the family's ``normalize``
    (which must call this function directly). Raises TypeError when ``sd`` is not a mapping.
    """
    if not isinstance(sd, Mapping):
        raise TypeError(f"state_dict: expected a mapping of names to tensors, got {type(sd).__name__}")
    keys = list(sd)
    if not any(k.startswith(marker) for k in keys):
        return None
    other = [k for k in keys if not k.startswith(LIGHTNING_PREFIX)]
    if other:
        warnings.warn(f"checkpoint: Lightning dict; ignoring {len(other)} entries outside 'model.': "
                      f"{other[:8]}", stacklevel=3)
    return {k[len(LIGHTNING_PREFIX):]: v for k, v in sd.items() if k.startswith(LIGHTNING_PREFIX)}


def shape(sd: Mapping[str, Tensor], key: str) -> Optional[Tuple[int, ...]]:
    """The shape of ``sd[key]``, or None when the key is absent."""
    t = sd.get(key)
    return None if t is None else tuple(t.shape)


def infer_shell(sd: Mapping[str, Tensor]) -> Tuple[Dict[str, Any], List[int]]:
    """What a normalised state dict's shell keys and shapes say about the config.

    Returns ``(fields, layers)``: ``layers`` the sorted indices of the ``backbone.layers.i.*`` keys;
    ``fields`` holds, when the checkpoint shows them, ``vocab_rows`` and ``d_model`` (the word
    embedding's shape), ``n_layer`` (last layer + 1), ``d_inner`` (the first layer's mlp.fc1 rows),
    ``attn_layer_idx`` (the layers with ``mixer.Wqkv.weight``; present whenever there are layers)
    and ``rotary_emb_dim`` (twice the length of the first attention layer's
    ``mixer.rotary_emb.inv_freq``).
    """
    out: Dict[str, Any] = {}
    emb = shape(sd, "backbone.embeddings.word_embeddings.weight")
    if emb is not None and len(emb) == 2:
        out["vocab_rows"], out["d_model"] = emb
    layers = sorted({int(m.group(1)) for k in sd for m in [LAYER_KEY.match(k)] if m})
    if not layers:
        return out, layers
    out["n_layer"] = layers[-1] + 1
    fc1 = shape(sd, f"backbone.layers.{layers[0]}.mlp.fc1.weight")
    if fc1 is not None and len(fc1) == 2:
        out["d_inner"] = fc1[0]
    out["attn_layer_idx"] = [i for i in layers if f"backbone.layers.{i}.mixer.Wqkv.weight" in sd]
    rotary = [shape(sd, f"backbone.layers.{i}.mixer.rotary_emb.inv_freq") for i in out["attn_layer_idx"]]
    rotary = [r for r in rotary if r is not None]
    if rotary:
        out["rotary_emb_dim"] = 2 * rotary[0][0]
    return out, layers


def check_attn_layer_idx(given: object, found: List[int]) -> None:
    """Raise a ValueError when a config's ``attn_layer_idx`` (an int or a list of ints; None when
    the config does not say) is not the checkpoint's attention layers ``found`` (sorted list of
    the layers with ``mixer.Wqkv``, from :func:`infer_shell`)."""
    if given is None:
        return
    g_list = [given] if is_int(given) else given
    if not isinstance(g_list, (list, tuple)) or sorted(g_list) != found:
        raise ValueError(f"attn_layer_idx: the config says {given!r} but the checkpoint has attention "
                         f"(mixer.Wqkv) at layers {found}")


def optional_keys(config: ShellConfig) -> Dict[str, Callable[[], Optional[Tensor]]]:
    """lm_head.weight (tied: re-derived) and each attention layer's rotary inv_freq (recomputed)."""
    out: Dict[str, Callable[[], Optional[Tensor]]] = {"lm_head.weight": lambda: None}
    r, base = config.attn_cfg["rotary_emb_dim"], config.attn_cfg["rotary_emb_base"]
    if r:
        for i in config.attn_layer_idx:
            out[f"backbone.layers.{i}.mixer.rotary_emb.inv_freq"] = lambda: rotary_inv_freq(r, base)
    return out
