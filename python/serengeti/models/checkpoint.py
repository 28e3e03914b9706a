"""Loading the official checkpoints of H3, safari's Hyena and StripedHyena, unchanged.

``load_model(path)`` reads the file(s), picks the family from the keys (or ``arch=``), lets the
family normalise the key names, builds the model on the meta device (no memory, no random
init), checks completeness — missing, unexpected and misshaped keys reported together in one
:class:`CheckpointError` — and assigns the checkpoint's tensors to the model.

Memory: safetensors files are memory-mapped (private, copy-on-write) and .pt/.bin files are read
with ``torch.load(mmap=True)``; a tensor whose dtype and device already match is assigned as it
is, so a bf16 7B checkpoint loaded as bf16 is never held twice.
"""
from __future__ import annotations

import importlib
import json
import os
import struct
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import Tensor

from serengeti.models.base import LanguageModel
from serengeti.models.family import ModelFamily, StateDict

PathLike = Union[str, "os.PathLike[str]"]

#: arch name -> module defining ``FAMILY`` (imported on first use).
FAMILY_MODULES: Dict[str, str] = {
    "h3": "serengeti.models.h3",
    "hyena": "serengeti.models.hyena",
    "striped_hyena": "serengeti.models.striped_hyena",
}

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")
CONFIG_NAMES = ("config.json", "config.yml", "config.yaml")
SAFETENSORS_INDEX = "model.safetensors.index.json"

_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not match the model it describes."""


def family(arch: str) -> ModelFamily:
    """The :class:`ModelFamily` registered under ``arch``."""
    if not isinstance(arch, str) or arch not in FAMILY_MODULES:
        raise ValueError(f"arch: expected one of {list(FAMILY_MODULES)}, got {arch!r}")
    return importlib.import_module(FAMILY_MODULES[arch]).FAMILY


# ----------------------------------------------------------------------------------------------
# Reading files
# ----------------------------------------------------------------------------------------------

def _read_safetensors(path: Path) -> StateDict:
    """Tensors of one .safetensors file as views of a private memory map of it.

    Format: 8-byte little-endian header size n, n bytes of JSON {name: {dtype, shape,
    data_offsets: [begin, end]}} (offsets relative to the end of the header), then the data.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: not a safetensors file (shorter than its 8-byte header size)")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise CheckpointError(f"{path}: corrupt safetensors header (claims {n} bytes, file has {size})")
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise CheckpointError(f"{path}: corrupt safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header (not a JSON object)")
    base = 8 + n
    storage = torch.UntypedStorage.from_file(str(path), False, size) if size > 0 else None
    out: StateDict = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: corrupt or unsupported safetensors entry {name!r}: {info!r}") from None
        itemsize = torch.empty((), dtype=dtype).element_size()
        numel = 1
        for s in shape:
            numel *= s
        if end - begin != numel * itemsize or base + end > size or begin < 0:
            raise CheckpointError(f"{path}: tensor {name!r} does not fit the file (offsets {begin}..{end})")
        if (base + begin) % itemsize == 0:
            t = torch.empty(0, dtype=dtype)
            t.set_(storage, (base + begin) // itemsize, shape)
        else:  # unaligned: copy this one tensor out of the map
            raw = torch.empty(0, dtype=torch.uint8).set_(storage, base + begin, [end - begin])
            t = raw.clone().view(dtype).reshape(shape)
        out[name] = t
    return out


def _read_safetensors_dir(directory: Path) -> StateDict:
    index_path = directory / SAFETENSORS_INDEX
    try:
        index = json.loads(index_path.read_text())
        weight_map: Mapping[str, str] = index["weight_map"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{index_path}: not a valid safetensors index ({e!r})") from None
    out: StateDict = {}
    for shard in sorted(set(weight_map.values())):
        shard_path = directory / shard
        if not shard_path.is_file():
            raise CheckpointError(f"{index_path}: shard {shard!r} listed in weight_map is missing")
        tensors = _read_safetensors(shard_path)
        for name, t in tensors.items():
            if weight_map.get(name) == shard:
                out[name] = t
    absent = sorted(set(weight_map) - set(out))
    if absent:
        raise CheckpointError(f"{index_path}: {len(absent)} tensors of weight_map are not in their shard: "
                              + _preview(absent))
    return out


def _read_torch_file(path: Path, trust_checkpoint: bool) -> Any:
    kwargs: Dict[str, Any] = {"map_location": "cpu", "weights_only": not trust_checkpoint}
    try:
        return torch.load(str(path), mmap=True, **kwargs)
    except RuntimeError as e:
        if "mmap" not in str(e) and "zip" not in str(e):
            raise CheckpointError(f"{path}: could not read the checkpoint ({e})") from None
    except Exception as e:  # noqa: BLE001 - unpickling raises many types; all mean "unreadable"
        if not trust_checkpoint and "weights_only" in str(e):
            raise CheckpointError(
                f"{path}: the checkpoint holds Python objects besides tensors, which torch.load refuses "
                "to unpickle safely; if you trust the file, pass trust_checkpoint=True") from None
        raise CheckpointError(f"{path}: could not read the checkpoint ({type(e).__name__}: {e})") from None
    try:  # the legacy (non-zip) serialisation cannot be memory-mapped
        return torch.load(str(path), **kwargs)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{path}: could not read the checkpoint ({type(e).__name__}: {e})") from None


def _find_checkpoint_file(directory: Path) -> Path:
    candidates = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise FileNotFoundError(f"path: {directory} holds no checkpoint (expected {SAFETENSORS_INDEX} or one "
                                f"file ending in {', '.join(CHECKPOINT_SUFFIXES)})")
    raise CheckpointError(f"path: {directory} holds several checkpoint files "
                          f"({', '.join(p.name for p in candidates)}); pass the one to load")


def read_state_dict(path: PathLike, *, trust_checkpoint: bool = False) -> StateDict:
    """The flat {name: tensor} of a checkpoint file or HF directory, Lightning wrapping removed.

    Non-tensor entries (version numbers and the like) are dropped.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"path: no checkpoint at {p}")
    if p.is_dir():
        if (p / SAFETENSORS_INDEX).is_file():
            return _read_safetensors_dir(p)
        p = _find_checkpoint_file(p)
    if p.suffix == ".safetensors":
        return _read_safetensors(p)
    raw = _read_torch_file(p, trust_checkpoint)
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]  # Lightning (or a similar trainer wrapper)
    if not isinstance(raw, Mapping):
        raise CheckpointError(f"{p}: expected a state dict (a mapping of names to tensors), got {type(raw).__name__}")
    out = {str(k): v for k, v in raw.items() if isinstance(v, Tensor)}
    if not out:
        raise CheckpointError(f"{p}: the checkpoint holds no tensors")
    return out


def _quote_interpolations(text: str) -> str:
    """Quote unquoted OmegaConf interpolations (``key: ${eval: 2*${.d_model}}``, as in safari's
    experiment configs), which plain YAML cannot parse; the family then infers such fields from the
    checkpoint's shapes."""
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and value.lstrip().startswith("${"):
            stripped = value.strip()
            comment = ""
            if " #" in stripped:
                stripped, _, comment = stripped.partition(" #")
                comment = " #" + comment
            line = f"{key}{sep}'{stripped.strip()}'{comment}"
        out.append(line)
    return "\n".join(out)


def read_config(config: Union[None, PathLike, Mapping[str, Any]], checkpoint: PathLike) -> Optional[Dict[str, Any]]:
    """The config mapping: ``config`` itself, the .json/.yml file it names, or else a config file
    beside the checkpoint (config.json / config.yml / config.yaml), or None."""
    if isinstance(config, Mapping):
        return dict(config)
    if config is None:
        ck = Path(checkpoint)
        directory = ck if ck.is_dir() else ck.parent
        found = [directory / n for n in CONFIG_NAMES if (directory / n).is_file()]
        if not found:
            return None
        path = found[0]
    elif isinstance(config, (str, os.PathLike)):
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"config: no file at {path}")
    else:
        raise TypeError(f"config: expected None, a mapping or a path to a .json/.yml file, got {type(config).__name__}")
    text = path.read_text()
    if path.suffix in (".yml", ".yaml"):
        try:
            import yaml
        except ImportError:
            raise ImportError("config: reading a .yml config needs PyYAML (pip install pyyaml)") from None
        try:
            data = yaml.safe_load(_quote_interpolations(text))
        except yaml.YAMLError as e:
            raise ValueError(f"config: {path} is not valid YAML ({e})") from None
    elif path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ValueError(f"config: {path} is not valid JSON ({e})") from None
    else:
        raise ValueError(f"config: expected a .json, .yml or .yaml file, got {path}")
    if not isinstance(data, Mapping):
        raise ValueError(f"config: {path} does not hold a mapping of fields")
    return dict(data)


# ----------------------------------------------------------------------------------------------
# Matching a state dict to a model
# ----------------------------------------------------------------------------------------------

def _preview(names: List[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _common_prefix_hint(unexpected: List[str], missing: List[str]) -> str:
    """When the unexpected keys are the missing ones plus (or minus) a prefix, say so."""
    if not unexpected or not missing:
        return ""
    u, m = unexpected[0], missing[0]
    for a, b, verb in ((u, m, "carry"), (m, u, "lack")):
        if a.endswith(b) and a != b:
            prefix = a[: len(a) - len(b)]
            other = unexpected if verb == "carry" else missing
            target = set(missing if verb == "carry" else unexpected)
            if sum(1 for k in other if k.startswith(prefix) and k[len(prefix):] in target) >= len(other) // 2:
                return f" The checkpoint's keys seem to {verb} the prefix {prefix!r}."
    return ""


def check_state_dict(expected: Mapping[str, Tuple[int, ...]], state_dict: Mapping[str, Tensor],
                     optional: Mapping[str, Any], source: str) -> None:
    """Raise one CheckpointError listing every missing, unexpected and misshaped key."""
    missing = sorted(k for k in expected if k not in state_dict and k not in optional)
    unexpected = sorted(k for k in state_dict if k not in expected)
    misshaped = sorted(f"{k} (checkpoint {tuple(state_dict[k].shape)}, model {tuple(expected[k])})"
                       for k in state_dict if k in expected and tuple(state_dict[k].shape) != tuple(expected[k]))
    if not (missing or unexpected or misshaped):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing: {_preview(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected: {_preview(unexpected)}")
    if misshaped:
        parts.append(f"{len(misshaped)} misshaped: {_preview(misshaped)}")
    raise CheckpointError(f"{source} does not match the model: " + "; ".join(parts) + "."
                          + _common_prefix_hint(unexpected, missing))


def _default_dtype(state_dict: StateDict, keep_float32) -> torch.dtype:
    """The most common floating dtype among the tensors that follow the requested dtype."""
    counts: Counter = Counter()
    for name, t in state_dict.items():
        if t.is_floating_point() and not keep_float32(name):
            counts[t.dtype] += t.numel()
    return counts.most_common(1)[0][0] if counts else torch.float32


def _foreign_prefix(keys: List[str], fam: ModelFamily) -> Optional[str]:
    """A prefix every key shares (up to three dotted components, e.g. DDP's 'module.') whose removal
    makes ``fam`` recognise the keys, or None."""
    prefix = ""
    for _ in range(3):
        heads = {k[len(prefix):].split(".", 1)[0] for k in keys}
        if len(heads) != 1 or not all("." in k[len(prefix):] for k in keys):
            return None
        prefix += heads.pop() + "."
        if fam.detect([k[len(prefix):] for k in keys]):
            return prefix
    return None


def detect_arch(keys: List[str]) -> str:
    """The family whose ``detect`` accepts these keys; CheckpointError when none or several do."""
    found = [arch for arch in FAMILY_MODULES if family(arch).detect(keys)]
    if len(found) == 1:
        return found[0]
    if not found:
        hints = [f"they look like a {arch} checkpoint whose keys carry the prefix {p!r}"
                 for arch in FAMILY_MODULES for p in [_foreign_prefix(keys, family(arch))] if p]
        raise CheckpointError("could not detect the architecture from the checkpoint's keys (first keys: "
                              f"{_preview(sorted(keys), 6)})" + (f"; {hints[0]}" if hints else "")
                              + f"; pass arch= one of {list(FAMILY_MODULES)}")
    raise CheckpointError(f"the checkpoint's keys fit several architectures {found}; pass arch=")


def _check_dtype_arg(dtype: object) -> Optional[torch.dtype]:
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None) if dtype in ("float32", "float16", "bfloat16", "float64") else dtype
    if dtype is not None and dtype not in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        raise ValueError(f"dtype: expected None, torch.float32, float16, bfloat16 or float64, got {dtype!r}")
    return dtype  # type: ignore[return-value]


def load_model(path: PathLike, *, arch: Optional[str] = None,
               config: Union[None, PathLike, Mapping[str, Any]] = None,
               dtype: Union[None, str, torch.dtype] = None, device: Union[None, str, torch.device] = None,
               trust_checkpoint: bool = False) -> LanguageModel:
    """Load an official H3, safari Hyena or StripedHyena checkpoint into a Serengeti model.

    Args:
        path: a checkpoint file (.pt/.pth/.bin/.ckpt: plain or Lightning state dict;
            .safetensors), or a directory (HF: config.json + model.safetensors.index.json +
            shards; or a directory with one checkpoint file).
        arch: "h3", "hyena" or "striped_hyena"; detected from the keys when None.
        config: a mapping or .json/.yml path in the original project's field names; when None a
            config.json/config.yml beside the checkpoint is used if present, and whatever the
            keys and shapes tell is inferred.
        dtype: dtype of the model's tensors (None: the checkpoint's own); SSM parameters, poles
            and residues stay float32 whatever is asked.
        device: where the model lives (default cpu).
        trust_checkpoint: allow torch.load to unpickle arbitrary Python objects (only for files you
            trust; plain tensor checkpoints never need it).

    Returns:
        The model in eval mode: ``model(input_ids)`` -> logits (B, L, vocab), ``model.generate``.

    Raises:
        FileNotFoundError, CheckpointError (unreadable file; missing, unexpected and misshaped keys
        listed together), ValueError (bad argument or config, naming it).
    """
    dtype = _check_dtype_arg(dtype)
    target_device = torch.device(device) if device is not None else torch.device("cpu")
    if not isinstance(trust_checkpoint, bool):
        raise TypeError(f"trust_checkpoint: expected a bool, got {type(trust_checkpoint).__name__}")
    raw = read_state_dict(path, trust_checkpoint=trust_checkpoint)
    mapping = read_config(config, path)
    fam = family(arch) if arch is not None else family(detect_arch(list(raw)))
    if not fam.detect(list(raw)):
        prefix = _foreign_prefix(list(raw), fam)
        raise CheckpointError(f"checkpoint {path}: the keys are not those of a {fam.arch} checkpoint (first keys: "
                              f"{_preview(sorted(raw), 4)})"
                              + (f"; they carry the prefix {prefix!r}" if prefix else ""))
    try:
        state_dict = fam.normalize(raw)
    except ValueError as e:
        heads = {k.split(".", 1)[0] for k in raw}
        if len(heads) == 1 and all("." in k for k in raw):
            prefix = heads.pop() + "."
            try:
                fam.normalize({k[len(prefix):]: v for k, v in raw.items()})
            except ValueError:
                raise e from None
            raise CheckpointError(f"checkpoint {path}: {e}; they carry the prefix {prefix!r}") from None
        raise
    cfg = fam.config_from_dict(mapping, state_dict)
    if dtype is None:
        dtype = _default_dtype(state_dict, fam.keep_float32)
    with torch.device("meta"):
        model = fam.build(cfg, dtype, torch.device("meta"))
    expected = {k: tuple(v.shape) for k, v in model.state_dict(keep_vars=True).items()}
    optional = fam.optional_keys(cfg)
    check_state_dict(expected, state_dict, optional, f"checkpoint {path}")
    assigned: StateDict = {}
    for name, want in model.state_dict(keep_vars=True).items():
        t = state_dict.get(name)
        if t is None:
            t = optional[name]()
            if t is None:
                continue  # re-derived by the model (tied weights)
        if t.is_floating_point():
            t = t.to(device=target_device, dtype=torch.float32 if fam.keep_float32(name) else dtype)
        else:
            t = t.to(device=target_device)
        assigned[name] = t
    model.load_state_dict(assigned, strict=False, assign=True)
    model.tie_weights()
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"internal error: the {fam.arch} model kept tensors with no value after loading: "
                           + _preview(left))
    return model.eval()
