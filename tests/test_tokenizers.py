"""serengeti.tokenizers: real tiny tokenizer files (trained or hand-written here), round trips,
special tokens, the add_bos behaviour, missing-file messages and streaming decode."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List

import pytest
import torch

from helpers import write_gpt2_files
from serengeti.tokenizers import ByteTokenizer, HFTokenizer, StreamDecoder, Tokenizer, load_tokenizer

import tokenizers as tk
from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers

CORPUS = ["the quick brown fox jumps over the lazy dog", "hyenas laugh at night", "état café naïve",
          "long convolutions and state spaces"] * 10
TEXTS = ["the lazy fox", "Hyenas: 3 species, 1 aardwolf!", "café — 日本語 🙂 done", "  two  spaces\nnewline", ""]


# ----------------------------------------------------------------------------------------------
# Tokenizer files built for the tests
# ----------------------------------------------------------------------------------------------

def _train_byte_level_json(directory: Path) -> Path:
    """A GPT-2-style byte-level BPE trained on CORPUS, saved as tokenizer.json."""
    tok = tk.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    path = directory / "tokenizer.json"
    tok.save(str(path))
    return path


def _llama_style_json(directory: Path) -> Path:
    """A SentencePiece-style BPE (▁ for spaces, <0xNN> byte fallback, <s> prepended by the
    post-processor), like StripedHyena's tokenizer.json, with a hand-written vocabulary."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for s in ["▁", "t", "h", "e", "f", "o", "x", "▁t", "he", "▁the", "▁f", "▁fo", "▁fox"]:
        vocab[s] = len(vocab)
    merges = [("▁", "t"), ("h", "e"), ("▁t", "he"), ("▁", "f"), ("▁f", "o"), ("▁fo", "x")]
    tok = tk.Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    path = directory / "tokenizer.json"
    tok.save(str(path))
    return path


GPT2_MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"),
               ("l", "d"), ("Ġwor", "ld")]


def _round_trips(tok: Tokenizer, texts: List[str]) -> None:
    for text in texts:
        ids = tok.encode(text)
        assert all(isinstance(i, int) and 0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == text, (text, ids)


# ----------------------------------------------------------------------------------------------
# tokenizer.json
# ----------------------------------------------------------------------------------------------

def test_trained_tokenizer_json_file_and_directory(tmp_path):
    path = _train_byte_level_json(tmp_path)
    for target in (path, tmp_path, str(tmp_path)):
        tok = load_tokenizer(target)
        assert isinstance(tok, HFTokenizer)
        assert tok.vocab_size == tk.Tokenizer.from_file(str(path)).get_vocab_size()
        eot = tk.Tokenizer.from_file(str(path)).token_to_id("<|endoftext|>")
        assert tok.bos_token_id == eot and tok.eos_token_id == eot and tok.add_bos is False
        _round_trips(tok, TEXTS)
    # trained merges are used: a corpus word is one token
    assert len(tok.encode("the")) == 1
    # the special token's string maps to its id; decode skips it unless asked
    ids = tok.encode("a<|endoftext|>b")
    assert eot in ids and tok.decode(ids) == "ab"
    assert tok.decode(ids, skip_special_tokens=False) == "a<|endoftext|>b"
    # decode accepts a tensor
    assert tok.decode(torch.tensor(tok.encode("lazy dog"))) == "lazy dog"


def test_llama_style_tokenizer_prepends_bos(tmp_path):
    _llama_style_json(tmp_path)
    tok = load_tokenizer(tmp_path)
    assert (tok.bos_token_id, tok.eos_token_id, tok.add_bos) == (1, 2, True)
    ids = tok.encode("the fox")
    assert ids == [1, tok.backend.token_to_id("▁the"), tok.backend.token_to_id("▁fox")]
    assert tok.encode("the fox", add_bos=False) == ids[1:]
    # byte fallback: é is two <0xNN> tokens
    assert tok.encode("é", add_bos=False)[-2:] == [tok.backend.token_to_id("<0xC3>"),
                                                   tok.backend.token_to_id("<0xA9>")]
    _round_trips(tok, ["the fox", "fox the fox", "é 日本 fox", "ohhh"])
    assert tok.decode(ids, skip_special_tokens=False).startswith("<s>")
    assert load_tokenizer(tmp_path, add_bos=False).encode("the fox") == ids[1:]


def test_tokenizer_config_overrides_specials_and_add_bos(tmp_path):
    _llama_style_json(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"add_bos_token": False, "bos_token": {"content": "<s>"}, "eos_token": "<unk>"}))
    tok = load_tokenizer(tmp_path / "tokenizer.json")
    assert (tok.bos_token_id, tok.eos_token_id, tok.add_bos) == (1, 0, False)
    assert tok.encode("the")[0] != 1


# ----------------------------------------------------------------------------------------------
# GPT-2 vocab.json + merges.txt
# ----------------------------------------------------------------------------------------------

def test_gpt2_vocab_and_merges_every_way_of_pointing(tmp_path):
    write_gpt2_files(tmp_path, GPT2_MERGES)
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    for target in (tmp_path, tmp_path / "vocab.json", tmp_path / "merges.txt"):
        tok = load_tokenizer(target)
        assert tok.vocab_size == len(vocab)
        # merges applied: h e -> he, l l -> ll, he ll -> hell, hell o -> hello; Ġ w ... -> Ġworld
        assert tok.encode("hello world") == [vocab["hello"], vocab["Ġworld"]]
        assert tok.bos_token_id == tok.eos_token_id == vocab["<|endoftext|>"] and not tok.add_bos
        _round_trips(tok, TEXTS + ["hello world", "hello"])
    ids = tok.encode("hello<|endoftext|>world")
    assert ids == [vocab["hello"], vocab["<|endoftext|>"], vocab["w"], vocab["or"], vocab["ld"]]
    assert tok.decode(ids) == "helloworld"


# ----------------------------------------------------------------------------------------------
# Missing and bad files
# ----------------------------------------------------------------------------------------------

def test_missing_files_name_what_to_provide(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_tokenizer(tmp_path)
    assert str(tmp_path / "tokenizer.json") in str(e.value) and str(tmp_path / "merges.txt") in str(e.value)
    write_gpt2_files(tmp_path, GPT2_MERGES)
    (tmp_path / "merges.txt").unlink()
    with pytest.raises(FileNotFoundError, match="merges.txt") as e:
        load_tokenizer(tmp_path)
    assert str(tmp_path / "merges.txt") in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        load_tokenizer(tmp_path / "vocab.json")
    assert str(tmp_path / "merges.txt") in str(e.value)
    other = tmp_path / "sub"
    other.mkdir()
    (other / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(FileNotFoundError) as e:
        load_tokenizer(other / "merges.txt")
    assert str(other / "vocab.json") in str(e.value)
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        load_tokenizer(tmp_path / "nowhere.json")


def test_bad_files_and_arguments(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer.json"):
        load_tokenizer(bad)
    odd = tmp_path / "thing.json"
    odd.write_text(json.dumps({"a": "b"}))
    with pytest.raises(ValueError, match="thing.json"):
        load_tokenizer(odd)
    wrong = tmp_path / "weights.bin"
    wrong.write_bytes(b"\0")
    with pytest.raises(ValueError, match="path"):
        load_tokenizer(wrong)
    with pytest.raises(TypeError, match="path"):
        load_tokenizer(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="add_bos"):
        load_tokenizer(tmp_path, add_bos="yes")  # type: ignore[arg-type]


def test_missing_tokenizers_package_says_pip_install(tmp_path, monkeypatch):
    write_gpt2_files(tmp_path, GPT2_MERGES)
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # makes `import tokenizers` fail
    with pytest.raises(ImportError, match="pip install tokenizers"):
        load_tokenizer(tmp_path)
    assert ByteTokenizer().decode(ByteTokenizer().encode("ok")) == "ok"  # needs nothing


# ----------------------------------------------------------------------------------------------
# ByteTokenizer
# ----------------------------------------------------------------------------------------------

def test_byte_tokenizer():
    plain = ByteTokenizer()
    assert plain.vocab_size == 256 and plain.bos_token_id is None and plain.eos_token_id is None
    assert plain.encode("é") == list("é".encode("utf-8"))
    _round_trips(plain, TEXTS)
    tok = ByteTokenizer(["<pad>"], bos_token="<s>", eos_token="</s>")
    assert tok.vocab_size == 259 and (tok.bos_token_id, tok.eos_token_id) == (257, 258) and tok.add_bos
    ids = tok.encode("a</s>b")
    assert ids == [257, 97, 258, 98]
    assert tok.decode(ids) == "ab" and tok.decode(ids, skip_special_tokens=False) == "<s>a</s>b"
    assert tok.decode([0xC3]) == "\ufffd"  # incomplete UTF-8
    with pytest.raises(ValueError, match="ids"):
        tok.decode([259])
    with pytest.raises(ValueError, match="add_bos"):
        plain.encode("x", add_bos=True)
    with pytest.raises(TypeError, match="text"):
        plain.encode(b"x")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# StreamDecoder
# ----------------------------------------------------------------------------------------------

def _stream_all_splits(tok: Tokenizer, text: str) -> None:
    """For every prompt/continuation split at a clean character boundary, the streamed pieces
    (one id at a time) concatenate to exactly the full decode and never show U+FFFD."""
    ids = tok.encode(text)
    full = tok.decode(ids)
    for k in range(1, len(ids)):
        shown = tok.decode(ids[:k])
        if shown.endswith("\ufffd"):
            continue  # a prompt never ends inside a character
        dec = StreamDecoder(tok, ids[:k])
        pieces = [dec.push([i]) for i in ids[k:]] + [dec.flush()]
        assert shown + "".join(pieces) == full, (k, pieces)
        assert not any("\ufffd" in p for p in pieces), (k, pieces)


def test_stream_decoder_multibyte_and_context(tmp_path):
    _stream_all_splits(ByteTokenizer(), "naïve 日本 🙂!")
    (tmp_path / "a").mkdir()
    _llama_style_json(tmp_path / "a")
    _stream_all_splits(load_tokenizer(tmp_path / "a"), "the fox é 日本 fox")
    (tmp_path / "b").mkdir()
    _train_byte_level_json(tmp_path / "b")
    _stream_all_splits(load_tokenizer(tmp_path / "b"), "the café 🙂 jumps")


def test_stream_decoder_holds_incomplete_character_until_flush():
    tok = ByteTokenizer()
    dec = StreamDecoder(tok, tok.encode("a"))
    smile = list("🙂".encode("utf-8"))
    assert [dec.push([b]) for b in smile[:3]] == ["", "", ""]
    assert dec.push(torch.tensor(smile[3:])) == "🙂"
    dec.push([0xF0])
    assert dec.flush() == "\ufffd"
    with pytest.raises(TypeError, match="tokenizer"):
        StreamDecoder("gpt2")  # type: ignore[arg-type]
