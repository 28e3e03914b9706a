"""Language models on Serengeti's kernels and the loader of their official checkpoints.

Families: ``serengeti.models.h3`` (H3LM), ``serengeti.models.hyena`` (HyenaLM, safari),
``serengeti.models.striped_hyena`` (StripedHyenaLM). :func:`load_model` reads any of their
published checkpoint formats.
"""
from serengeti.models.base import LanguageModel, ModelCache
from serengeti.models.checkpoint import CheckpointError, load_model, read_state_dict

__all__ = ["LanguageModel", "ModelCache", "CheckpointError", "load_model", "read_state_dict"]
