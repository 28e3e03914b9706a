"""Tokenizers for the released models, read from local files only (never downloaded).

- ``tokenizer.json`` (HuggingFace ``tokenizers`` format; StripedHyena's 32000-token BPE with byte
  fallback): loaded through the ``tokenizers`` package.
- GPT-2 BPE ``vocab.json`` + ``merges.txt`` (H3, Hyena): a byte-level BPE built from the two
  files with the ``tokenizers`` package (GPT-2's pre-tokenisation regex and byte decoder).
- :class:`ByteTokenizer`: UTF-8 bytes as ids 0..255 plus optional special tokens; needs nothing.

Every tokenizer has ``encode(text) -> list[int]``, ``decode(ids) -> str``, ``vocab_size``,
``bos_token_id``, ``eos_token_id`` (None when absent) and ``add_bos`` (whether ``encode``
prepends the bos id). :class:`StreamDecoder` turns a growing id sequence into text pieces for
streaming, holding back incomplete UTF-8 characters.
"""
from __future__ import annotations

import abc
import json
import numbers
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Tokenizer", "HFTokenizer", "ByteTokenizer", "StreamDecoder", "load_tokenizer"]

TOKENIZER_JSON = "tokenizer.json"
GPT2_VOCAB = "vocab.json"
GPT2_MERGES = "merges.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"

#: Special tokens recognised when no tokenizer_config.json names them (first present wins).
BOS_CANDIDATES = ("<s>", "<|begin_of_text|>", "<|endoftext|>")
EOS_CANDIDATES = ("</s>", "<|end_of_text|>", "<|endoftext|>")

_REPLACEMENT = "\ufffd"


def _import_tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:
        raise ImportError("reading tokenizer.json or GPT-2 vocab.json/merges.txt needs the `tokenizers` package: "
                          "pip install tokenizers") from None
    return tokenizers


class Tokenizer(abc.ABC):
    """Text <-> token ids.

    Attributes:
        vocab_size: number of ids (including special tokens).
        bos_token_id, eos_token_id: the special ids, or None when the tokenizer has none.
        add_bos: ``encode`` prepends ``bos_token_id`` (only possible when it is not None).
    """

    vocab_size: int
    bos_token_id: Optional[int]
    eos_token_id: Optional[int]
    add_bos: bool

    def _init_specials(self, bos_token_id: Optional[int], eos_token_id: Optional[int], add_bos: bool) -> None:
        if not isinstance(add_bos, bool):
            raise TypeError(f"add_bos: expected a bool, got {type(add_bos).__name__}")
        if add_bos and bos_token_id is None:
            raise ValueError("add_bos: the tokenizer has no bos token to prepend")
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.add_bos = add_bos

    def encode(self, text: str, *, add_bos: Optional[bool] = None) -> List[int]:
        """text -> ids; with ``bos_token_id`` first when ``add_bos`` (default: ``self.add_bos``).
        A special token's string inside ``text`` (e.g. "<|endoftext|>") becomes its id."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        if add_bos is None:
            add_bos = self.add_bos
        elif not isinstance(add_bos, bool):
            raise TypeError(f"add_bos: expected None or a bool, got {type(add_bos).__name__}")
        if add_bos and self.bos_token_id is None:
            raise ValueError("add_bos: the tokenizer has no bos token to prepend")
        ids = self._encode(text)
        return [self.bos_token_id] + ids if add_bos else ids  # type: ignore[list-item]

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = True) -> str:
        """ids (a list of ints or a 1-D integer tensor) -> text; special tokens (bos, eos, ...) are
        left out unless ``skip_special_tokens=False``. Incomplete UTF-8 gives U+FFFD."""
        if hasattr(ids, "tolist") and callable(ids.tolist):  # torch tensor / numpy array
            shape = tuple(getattr(ids, "shape", ()))
            if len(shape) != 1:
                raise ValueError(f"ids: expected a 1-D sequence of token ids, got shape {shape}")
            ids = ids.tolist()  # type: ignore[assignment]
        try:
            values = list(ids)
        except TypeError:
            raise TypeError(f"ids: expected a sequence of token ids, got {type(ids).__name__}") from None
        for i in values:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= int(i) < self.vocab_size:
                raise ValueError(f"ids: expected integers in [0, {self.vocab_size}), got {i!r}")
        return self._decode([int(i) for i in values], skip_special_tokens)

    @abc.abstractmethod
    def _encode(self, text: str) -> List[int]:
        """text -> ids without any special token."""

    @abc.abstractmethod
    def _decode(self, ids: List[int], skip_special_tokens: bool) -> str:
        """Checked ids -> text."""


class ByteTokenizer(Tokenizer):
    """UTF-8 bytes as ids 0..255, then ``special_tokens`` as ids 256, 257, ...

    ``bos_token`` / ``eos_token`` name special tokens (added to the specials when not listed);
    ``add_bos`` defaults to True exactly when there is a bos token.
    """

    def __init__(self, special_tokens: Sequence[str] = (), *, bos_token: Optional[str] = None,
                 eos_token: Optional[str] = None, add_bos: Optional[bool] = None) -> None:
        if isinstance(special_tokens, str) or not all(isinstance(s, str) and s for s in special_tokens):
            raise TypeError("special_tokens: expected a sequence of non-empty strings")
        specials = list(dict.fromkeys(special_tokens))
        for name, tok in (("bos_token", bos_token), ("eos_token", eos_token)):
            if tok is not None and (not isinstance(tok, str) or not tok):
                raise TypeError(f"{name}: expected None or a non-empty string, got {tok!r}")
            if tok is not None and tok not in specials:
                specials.append(tok)
        self.special_tokens: Tuple[str, ...] = tuple(specials)
        self.vocab_size = 256 + len(specials)
        index = {s: 256 + i for i, s in enumerate(specials)}
        self._special_ids = index
        longest_first = sorted(specials, key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(re.escape(s) for s in longest_first) + ")")
        bos = index[bos_token] if bos_token is not None else None
        eos = index[eos_token] if eos_token is not None else None
        self._init_specials(bos, eos, bos is not None if add_bos is None else add_bos)

    def _encode(self, text: str) -> List[int]:
        if not self.special_tokens:
            return list(text.encode("utf-8"))
        ids: List[int] = []
        for piece in self._special_re.split(text):  # the capturing group keeps the specials
            if piece in self._special_ids:
                ids.append(self._special_ids[piece])
            else:
                ids.extend(piece.encode("utf-8"))
        return ids

    def _decode(self, ids: List[int], skip_special_tokens: bool) -> str:
        out: List[str] = []
        run = bytearray()
        for i in ids:
            if i < 256:
                run.append(i)
                continue
            out.append(run.decode("utf-8", errors="replace"))
            run = bytearray()
            if not skip_special_tokens:
                out.append(self.special_tokens[i - 256])
        out.append(run.decode("utf-8", errors="replace"))
        return "".join(out)

    def __repr__(self) -> str:
        return f"ByteTokenizer(vocab_size={self.vocab_size}, bos={self.bos_token_id}, eos={self.eos_token_id})"


class HFTokenizer(Tokenizer):
    """A ``tokenizers.Tokenizer`` with named bos/eos tokens.

    ``encode`` runs the tokenizer without its post-processor's special tokens and prepends the
    bos id itself when ``add_bos``, so the behaviour is the same for every file format.
    """

    def __init__(self, tokenizer: Any, *, bos_token: Optional[str] = None, eos_token: Optional[str] = None,
                 add_bos: bool = False, source: str = "") -> None:
        self._tok = tokenizer
        self.source = source
        self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
        ids = []
        for name, tok in (("bos_token", bos_token), ("eos_token", eos_token)):
            i = tokenizer.token_to_id(tok) if tok is not None else None
            if tok is not None and i is None:
                raise ValueError(f"{name}: {tok!r} is not in the vocabulary of {source or 'the tokenizer'}")
            ids.append(i)
        self.bos_token, self.eos_token = bos_token, eos_token
        self._init_specials(ids[0], ids[1], add_bos)

    @property
    def backend(self) -> Any:
        """The wrapped ``tokenizers.Tokenizer``."""
        return self._tok

    def _encode(self, text: str) -> List[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def _decode(self, ids: List[int], skip_special_tokens: bool) -> str:
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)

    def __repr__(self) -> str:
        return (f"HFTokenizer({self.source!r}, vocab_size={self.vocab_size}, bos={self.bos_token_id}, "
                f"eos={self.eos_token_id}, add_bos={self.add_bos})")


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------

def _read_tokenizer_config(directory: Path) -> Dict[str, Any]:
    """tokenizer_config.json beside the tokenizer (HuggingFace), or {}."""
    path = directory / TOKENIZER_CONFIG
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"path: {path} is not valid JSON ({e})") from None
    return data if isinstance(data, dict) else {}


def _config_token(config: Dict[str, Any], key: str) -> Optional[str]:
    value = config.get(key)
    if isinstance(value, dict):  # {"content": "<s>", "lstrip": false, ...}
        value = value.get("content")
    return value if isinstance(value, str) and value else None


def _pick_special(tok: Any, config: Dict[str, Any], key: str, candidates: Sequence[str]) -> Optional[str]:
    named = _config_token(config, key)
    if named is not None and tok.token_to_id(named) is not None:
        return named
    for c in candidates:
        if tok.token_to_id(c) is not None:
            return c
    return None


def _post_processor_adds_bos(tok: Any, bos: Optional[str]) -> bool:
    """Whether the tokenizer's own post-processor prepends ``bos`` (Llama-style tokenizer.json)."""
    if bos is None:
        return False
    bos_id = tok.token_to_id(bos)
    with_specials = tok.encode("a", add_special_tokens=True).ids
    without = tok.encode("a", add_special_tokens=False).ids
    return len(with_specials) > len(without) and with_specials[0] == bos_id


def _from_tokenizer_json(path: Path, add_bos: Optional[bool]) -> HFTokenizer:
    tokenizers = _import_tokenizers()
    try:
        tok = tokenizers.Tokenizer.from_str(path.read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001 - the tokenizers package raises plain Exception
        raise ValueError(f"path: {path} is not a valid tokenizer.json ({e})") from None
    config = _read_tokenizer_config(path.parent)
    bos = _pick_special(tok, config, "bos_token", BOS_CANDIDATES)
    eos = _pick_special(tok, config, "eos_token", EOS_CANDIDATES)
    if add_bos is None:
        flag = config.get("add_bos_token")
        add_bos = flag if isinstance(flag, bool) else _post_processor_adds_bos(tok, bos)
        add_bos = add_bos and bos is not None
    return HFTokenizer(tok, bos_token=bos, eos_token=eos, add_bos=add_bos, source=str(path))


def _from_gpt2_files(vocab: Path, merges: Path, add_bos: Optional[bool]) -> HFTokenizer:
    tokenizers = _import_tokenizers()
    from tokenizers import decoders, models, pre_tokenizers

    try:
        bpe = models.BPE.from_file(str(vocab), str(merges))
    except Exception as e:  # noqa: BLE001 - the tokenizers package raises plain Exception
        raise ValueError(f"path: {vocab} + {merges} are not a valid GPT-2 vocab.json/merges.txt pair ({e})") from None
    tok = tokenizers.Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    config = _read_tokenizer_config(vocab.parent)
    specials = [t for t in dict.fromkeys([_config_token(config, "bos_token"), _config_token(config, "eos_token"),
                                           *BOS_CANDIDATES, *EOS_CANDIDATES])
                if t is not None and tok.token_to_id(t) is not None]
    if specials:  # keep e.g. <|endoftext|> whole and let decode skip it
        tok.add_special_tokens(specials)
    bos = _pick_special(tok, config, "bos_token", BOS_CANDIDATES)
    eos = _pick_special(tok, config, "eos_token", EOS_CANDIDATES)
    if add_bos is None:  # GPT-2 models (H3, Hyena) are run without a prepended token
        flag = config.get("add_bos_token")
        add_bos = bool(flag) and bos is not None if isinstance(flag, bool) else False
    return HFTokenizer(tok, bos_token=bos, eos_token=eos, add_bos=add_bos, source=f"{vocab} + {merges.name}")


def _json_kind(path: Path) -> str:
    """"tokenizer.json" (an object with a "model" object) or "gpt2-vocab" (a flat object of
    token -> integer id, GPT-2's vocab.json)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"path: {path} is not valid JSON ({e})") from None
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        return "tokenizer.json"
    if isinstance(data, dict) and data and all(isinstance(v, int) for v in data.values()):
        return "gpt2-vocab"
    raise ValueError(f"path: {path} is neither a tokenizer.json (no \"model\" object) nor a GPT-2 vocab.json "
                     "(a mapping of tokens to integer ids)")


def load_tokenizer(path: PathLike, *, add_bos: Optional[bool] = None) -> Tokenizer:
    """The tokenizer stored at ``path`` (local files only).

    Args:
        path: a tokenizer.json file; GPT-2's vocab.json or merges.txt (the other file must sit
            beside it); or a directory holding tokenizer.json, or vocab.json + merges.txt.
        add_bos: override whether ``encode`` prepends the bos token. Default: the directory's
            tokenizer_config.json ``add_bos_token`` when present; else, for tokenizer.json,
            whether its post-processor prepends bos (StripedHyena: yes, <s> = 1); for GPT-2 files,
            no.

    bos/eos: tokenizer_config.json's ``bos_token``/``eos_token`` when present, else the first of
    <s> / <|begin_of_text|> / <|endoftext|> (bos) and </s> / <|end_of_text|> / <|endoftext|> (eos)
    found in the vocabulary, else None.

    Raises:
        FileNotFoundError naming the file(s) to provide; ValueError for an unreadable file;
        ImportError when the ``tokenizers`` package is missing.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    if add_bos is not None and not isinstance(add_bos, bool):
        raise TypeError(f"add_bos: expected None or a bool, got {type(add_bos).__name__}")
    p = Path(path)
    if p.is_dir():
        if (p / TOKENIZER_JSON).is_file():
            return _from_tokenizer_json(p / TOKENIZER_JSON, add_bos)
        vocab, merges = p / GPT2_VOCAB, p / GPT2_MERGES
        if vocab.is_file() and merges.is_file():
            return _from_gpt2_files(vocab, merges, add_bos)
        if vocab.is_file() or merges.is_file():
            missing = merges if vocab.is_file() else vocab
            raise FileNotFoundError(f"path: {p} has GPT-2's {vocab.name if vocab.is_file() else merges.name} but "
                                    f"not {missing.name}: provide {missing}")
        raise FileNotFoundError(f"path: no tokenizer in {p}: provide {p / TOKENIZER_JSON}, or GPT-2's "
                                f"{vocab} and {merges}")
    if not p.is_file():
        raise FileNotFoundError(f"path: no tokenizer file at {p} (provide a tokenizer.json, GPT-2's "
                                f"vocab.json + merges.txt, or a directory holding them)")
    if p.suffix == ".txt":  # GPT-2 merges.txt: the vocabulary sits beside it
        vocab = p.parent / GPT2_VOCAB
        if not vocab.is_file():
            raise FileNotFoundError(f"path: {p} is a merges file; provide GPT-2's vocabulary at {vocab}")
        return _from_gpt2_files(vocab, p, add_bos)
    if p.suffix == ".json":
        if _json_kind(p) == "gpt2-vocab":
            merges = p.parent / GPT2_MERGES
            if not merges.is_file():
                raise FileNotFoundError(f"path: {p} is a GPT-2 vocabulary; provide its merges at {merges}")
            return _from_gpt2_files(p, merges, add_bos)
        return _from_tokenizer_json(p, add_bos)
    raise ValueError(f"path: expected a tokenizer.json, vocab.json or merges.txt file, or a directory, got {p}")


# ----------------------------------------------------------------------------------------------
# Streaming
# ----------------------------------------------------------------------------------------------

class StreamDecoder:
    """Text for ids as they arrive: ``push(ids)`` returns the text they complete.

    Each call decodes a short window (the ids of the previous piece plus the new ones) and returns
    what the new ids add to it, so the cost per token stays constant and tokenizers whose text
    depends on context (SentencePiece's word-initial space, byte-level BPE) come out as a full
    decode would print them. Text ending in an incomplete UTF-8 character (U+FFFD) is held back
    until the next ids complete it; ``flush()`` returns whatever is still held.

    Args:
        tokenizer: any :class:`Tokenizer`.
        prompt_ids: ids already shown (the prompt); they give the first new ids their context.
        skip_special_tokens: passed to ``tokenizer.decode``.
    """

    #: prompt ids kept as context for the first piece
    CONTEXT = 6

    def __init__(self, tokenizer: Tokenizer, prompt_ids: Iterable[int] = (), *,
                 skip_special_tokens: bool = True) -> None:
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer: expected a serengeti Tokenizer, got {type(tokenizer).__name__}")
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self._ids: List[int] = [int(i) for i in prompt_ids]
        self._read = len(self._ids)  # ids before this are already shown
        self._prefix = max(0, self._read - self.CONTEXT)  # start of the decoding window

    def push(self, ids: Iterable[int]) -> str:
        """Append ``ids`` (ints or a 1-D tensor); return the newly completed text (maybe "")."""
        if hasattr(ids, "tolist") and callable(ids.tolist):
            ids = ids.tolist()  # type: ignore[assignment]
        self._ids.extend(int(i) for i in ids)
        return self._emit(final=False)

    def flush(self) -> str:
        """The text still held back (an incomplete character at the very end), as decoded."""
        return self._emit(final=True)

    def _emit(self, final: bool) -> str:
        if len(self._ids) == self._read:
            return ""
        decode = self.tokenizer.decode
        shown = decode(self._ids[self._prefix:self._read], skip_special_tokens=self.skip_special_tokens)
        text = decode(self._ids[self._prefix:], skip_special_tokens=self.skip_special_tokens)
        if len(text) <= len(shown) or (text.endswith(_REPLACEMENT) and not final):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return text[len(shown):]
