"""How a model family plugs into :func:`serengeti.load_model`.

Each family module (models/h3.py, models/hyena.py, models/striped_hyena.py) defines one
``FAMILY = ModelFamily(...)``; the loader (models/checkpoint.py) reads the file(s), asks each family
whether the keys are its own, normalises them, builds the model on the meta device and assigns the
tensors after a completeness check.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional

import torch
from torch import Tensor

from serengeti.models.base import LanguageModel

StateDict = Dict[str, Tensor]


@dataclasses.dataclass(frozen=True)
class ModelFamily:
    """The hooks one architecture gives the loader.

    Attributes:
        arch: "h3", "hyena" or "striped_hyena".
        detect: keys of the checkpoint (any official variant, before ``normalize``) -> True when
            they belong to this family.
        normalize: the flat state dict as read (Lightning ``state_dict`` already unwrapped) ->
            the state dict with this package's key names (prefixes stripped, legacy names renamed,
            legacy LayerNorm rotation applied). Raises ValueError for a wrong prefix it cannot map.
        config_from_dict: a config mapping in the original project's field names (unknown keys
            ignored, missing required ones named in a ValueError) and the normalised state dict
            (for what can be inferred from keys and shapes, e.g. attention layer indices) ->
            the family's config object.
        build: config, dtype, device -> the model (parameters on ``device``; the loader passes
            the meta device and assigns the checkpoint tensors afterwards).
        keep_float32: parameter name -> True when it stays float32 whatever dtype is requested
            (SSM parameters, poles, residues).
        optional_keys: config -> {name: factory} for tensors a checkpoint may omit (tied
            lm_head, rotary inv_freq); the factory returns the value to use when absent, or None
            when the model re-derives it itself (tied weights).
    """

    arch: str
    detect: Callable[[Any], bool]
    normalize: Callable[[StateDict], StateDict]
    config_from_dict: Callable[[Optional[Mapping[str, Any]], StateDict], Any]
    build: Callable[[Any, Optional[torch.dtype], Any], LanguageModel]
    keep_float32: Callable[[str], bool]
    optional_keys: Callable[[Any], Dict[str, Callable[[], Optional[Tensor]]]]
