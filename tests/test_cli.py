"""The ``serengeti`` command on real tiny checkpoints written here (StripedHyena as .pt with a
config.json and a tokenizer.json beside it; H3 as .safetensors without the tied lm_head, with
GPT-2 vocab.json/merges.txt elsewhere). Expected greedy text comes from the models' parallel
forward (a different code path from prefill/step) and the tokenizer's full decode."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from helpers import write_gpt2_files
from serengeti.cli import main
from serengeti.models import h3, load_model, striped_hyena
from serengeti.tokenizers import load_tokenizer

STATS = re.compile(r"^(\d+) tokens in [0-9.]+ s \([0-9.]+ tok/s\), prefill [0-9.]+ ms$")
PROMPT = "Hyenas: 日本 café"
GPT2_MERGES = [("H", "y"), ("Hy", "e"), ("n", "a"), ("Hye", "na"), ("c", "a"), ("ca", "f")]


def _byte_level_tokenizer_json(path: Path) -> None:
    """GPT-2-style byte-level BPE with no merges: the 256 byte symbols, then <|endoftext|> (256)."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {s: i for i, s in enumerate(alphabet)}
    vocab["<|endoftext|>"] = 256
    tok = Tokenizer(models.BPE(vocab, []))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    tok.save(str(path))


def _spread_weights(model: torch.nn.Module) -> None:
    """Larger random weights than the models' init, so greedy text is varied and far from ties."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0, 1.5 / m.weight.shape[1] ** 0.5)
            elif isinstance(m, torch.nn.Embedding):
                m.weight.normal_(0, 1.0)
    model.tie_weights()


def _greedy_by_forward(model: torch.nn.Module, ids: List[int], n: int) -> List[int]:
    """Greedy continuation recomputing the full parallel forward each step; checks the margin
    between the best two logits so float rounding cannot flip the expected token."""
    seq = list(ids)
    for _ in range(n):
        with torch.no_grad():
            logits = model(torch.tensor([seq]))[0, -1, :model.sample_vocab_size].double()
        top2 = torch.topk(logits, 2).values
        assert float(top2[0] - top2[1]) > 1e-3, "test model too close to a tie"
        seq.append(int(torch.argmax(logits)))
    return seq[len(ids):]


def _run(argv: List[str], capsys) -> Tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def sh_dir(tmp_path_factory) -> Tuple[Path, torch.nn.Module]:
    """StripedHyena tiny: model.pt + config.json + tokenizer.json in one directory."""
    d = tmp_path_factory.mktemp("sh")
    torch.manual_seed(0)
    cfg = striped_hyena.StripedHyenaConfig.tiny(vocab_size=257)
    model = striped_hyena.build(cfg, torch.float32, "cpu").eval()
    _spread_weights(model)
    torch.save(model.state_dict(), d / "model.pt")
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    _byte_level_tokenizer_json(d / "tokenizer.json")
    return d, model


@pytest.fixture(scope="module")
def h3_files(tmp_path_factory) -> Tuple[Path, Path, torch.nn.Module]:
    """H3 tiny: model.safetensors (tied lm_head left out) + config.json; GPT-2 files elsewhere."""
    d = tmp_path_factory.mktemp("h3")
    tok_dir = tmp_path_factory.mktemp("gpt2")
    vocab = write_gpt2_files(tok_dir, GPT2_MERGES)
    torch.manual_seed(1)
    cfg = h3.H3Config.tiny(vocab_size=vocab)
    model = h3.build(cfg, torch.float32, "cpu").eval()
    _spread_weights(model)
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(sd, str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    return d, tok_dir, model


# ----------------------------------------------------------------------------------------------
# generate
# ----------------------------------------------------------------------------------------------

def test_generate_greedy_streams_the_forward_greedy_text(sh_dir, capsys):
    d, model = sh_dir
    tok = load_tokenizer(d)
    ids = tok.encode(PROMPT)
    n = 6
    want = _greedy_by_forward(model, ids, n)
    code, out, err = _run(["generate", "--checkpoint", str(d / "model.pt"), "--arch", "striped_hyena",
                           "--prompt", PROMPT, "--max-new-tokens", str(n), "--temperature", "0",
                           "--ignore-eos"], capsys)
    assert code == 0, err
    assert out == tok.decode(ids + want) + "\n"
    assert out.startswith(PROMPT)
    stats = [m for m in map(STATS.match, err.strip().splitlines()) if m]
    assert len(stats) == 1 and int(stats[0].group(1)) == n


def test_generate_stops_at_the_tokenizers_eos(sh_dir, capsys, tmp_path):
    d, model = sh_dir
    tok = load_tokenizer(d)
    ids = tok.encode(PROMPT)
    greedy = _greedy_by_forward(model, ids, 3)
    eos = greedy[2]
    want = greedy[:greedy.index(eos) + 1]  # up to its first occurrence
    # name the third greedy token as eos in a tokenizer_config.json: generation stops after it
    shutil.copy(d / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": tok.backend.id_to_token(eos)}))
    code, out, err = _run(["generate", "--checkpoint", str(d), "--arch", "striped_hyena", "--tokenizer",
                           str(tmp_path), "--prompt", PROMPT, "--max-new-tokens", "10", "--temperature", "0"],
                          capsys)
    assert code == 0, err
    assert out == tok.decode(ids + want) + "\n"
    assert f"{len(want)} tokens in" in err


def test_generate_seeded_sampling_is_reproducible(sh_dir, capsys):
    d, _ = sh_dir
    argv = ["generate", "--checkpoint", str(d / "model.pt"), "--arch", "striped_hyena", "--prompt", "ab",
            "--max-new-tokens", "5", "--temperature", "1.5", "--top-k", "40", "--top-p", "0.95",
            "--ignore-eos", "--prefill-style", "recurrence"]
    runs = [_run(argv + ["--seed", s], capsys) for s in ("5", "5")]
    assert all(code == 0 for code, _, _ in runs)
    assert runs[0][1] == runs[1][1] and runs[0][1].startswith("ab")


def test_generate_h3_safetensors_with_gpt2_tokenizer_and_detected_arch(h3_files, capsys):
    d, tok_dir, model = h3_files
    tok = load_tokenizer(tok_dir)
    ids = tok.encode("Hyena café")
    assert len(ids) < len("Hyena café".encode())  # the merges were applied
    n = 5
    want = _greedy_by_forward(model, ids, n)
    code, out, err = _run(["generate", "--checkpoint", str(d / "model.safetensors"), "--tokenizer",
                           str(tok_dir / "vocab.json"), "--prompt", "Hyena café", "--max-new-tokens", str(n),
                           "--top-k", "1", "--ignore-eos", "--dtype", "float32", "--device", "cpu"], capsys)
    assert code == 0, err
    assert out == tok.decode(ids + want) + "\n"
    code, out, err = _run(["generate", "--checkpoint", str(d / "model.safetensors"), "--tokenizer",
                           str(tok_dir), "--prompt", "Hyena", "--max-new-tokens", "3", "--dtype", "bfloat16",
                           "--seed", "0"], capsys)
    assert code == 0, err
    assert out.startswith("Hyena") and any(STATS.match(line) for line in err.splitlines())


def test_generate_zero_tokens_prints_the_prompt(sh_dir, capsys):
    d, _ = sh_dir
    code, out, err = _run(["generate", "--checkpoint", str(d), "--arch", "striped_hyena", "--prompt", PROMPT,
                           "--max-new-tokens", "0"], capsys)
    assert code == 0, err
    assert out == PROMPT + "\n" and "0 tokens in" in err


# ----------------------------------------------------------------------------------------------
# info
# ----------------------------------------------------------------------------------------------

def test_info_reports_arch_config_parameters_and_dtypes(capsys, tmp_path):
    torch.manual_seed(2)
    cfg = striped_hyena.StripedHyenaConfig.tiny()
    model = striped_hyena.build(cfg, torch.bfloat16, "cpu")
    sd = model.state_dict()
    torch.save(sd, tmp_path / "model.pt")
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    code, out, err = _run(["info", str(tmp_path / "model.pt"), "--arch", "striped_hyena"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "arch: striped_hyena"
    for key, value in cfg.to_dict().items():
        assert f"  {key}: {json.dumps(value)}" in lines
    n_params = sum(p.numel() for p in model.parameters())
    assert f"parameters: {n_params:,} (shared weights counted once)" in lines
    # per-dtype counts of what the loader produced (its dtype policy is the loader's business):
    # bf16 weights plus float32 poles and residues
    loaded = load_model(tmp_path / "model.pt", arch="striped_hyena")
    tensors = {t.data_ptr(): t for t in loaded.state_dict().values()}.values()
    dtypes = {t.dtype for t in tensors}
    assert {torch.bfloat16, torch.float32} <= dtypes
    for dtype in dtypes:
        of_dtype = [t for t in tensors if t.dtype == dtype]
        name = str(dtype).removeprefix("torch.")
        line = next(line for line in lines if line.startswith(f"  {name}: "))
        assert line.startswith(f"  {name}: {sum(t.numel() for t in of_dtype):,} elements in {len(of_dtype)} tensors")


# ----------------------------------------------------------------------------------------------
# Errors and help
# ----------------------------------------------------------------------------------------------

def _assert_user_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def test_user_errors_exit_2_with_one_line(sh_dir, capsys, tmp_path):
    d, _ = sh_dir
    base = ["generate", "--arch", "striped_hyena", "--prompt", "x"]
    missing = tmp_path / "nothing.pt"
    _assert_user_error(*_run(base + ["--checkpoint", str(missing)], capsys)[::2], str(missing))
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(d / "model.pt", lone / "model.pt")
    _assert_user_error(*_run(base + ["--checkpoint", str(lone / "model.pt")], capsys)[::2],
                       str(lone / "tokenizer.json"), "--tokenizer")
    _assert_user_error(*_run(base + ["--checkpoint", str(d), "--tokenizer", str(lone)], capsys)[::2],
                       "--tokenizer", str(lone / "tokenizer.json"))
    _assert_user_error(*_run(base + ["--checkpoint", str(d), "--device", "tpu"], capsys)[::2], "--device")
    _assert_user_error(*_run(base + ["--checkpoint", str(d), "--prefill-style", "magic"], capsys)[::2],
                       "--prefill-style", "recurrence")
    _assert_user_error(*_run(base + ["--checkpoint", str(d), "--top-p", "1.5"], capsys)[::2], "--top-p")
    _assert_user_error(*_run(base + ["--checkpoint", str(d), "--temperature", "-1"], capsys)[::2],
                       "--temperature")
    _assert_user_error(*_run(["info", str(missing)], capsys)[::2], str(missing))
    code, _, err = _run(["generate", "--checkpoint", str(d)], capsys)  # --prompt missing: argparse
    assert code == 2 and "--prompt" in err
    code, _, err = _run(["generate", "--checkpoint", str(d), "--prompt", "x", "--dtype", "int8"], capsys)
    assert code == 2 and "--dtype" in err


def test_help_documents_both_commands(capsys):
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and "generate" in out and "info" in out and "tok/s" in out
    code, out, _ = _run(["generate", "--help"], capsys)
    assert code == 0 and all(flag in out for flag in ("--checkpoint", "--prompt", "--top-p", "--prefill-style"))
    code, _, err = _run([], capsys)
    assert code == 2 and "generate" in err


def test_python_dash_m_serengeti():
    proc = subprocess.run([sys.executable, "-m", "serengeti", "info", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: serengeti info" in proc.stdout


def test_generate_never_samples_ids_the_tokenizer_lacks(tmp_path, capsys):
    # Embedding padded to 264 rows, tokenizer of 257 tokens; the padding rows of the unembedding
    # are made to dominate, so only the CLI's limit keeps them out.
    torch.manual_seed(2)
    cfg = striped_hyena.StripedHyenaConfig.tiny(vocab_size=264)
    model = striped_hyena.build(cfg, torch.float32, "cpu").eval()
    _spread_weights(model)
    with torch.no_grad():
        model.unembed.weight[257:] *= 50.0
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    _byte_level_tokenizer_json(tmp_path / "tokenizer.json")
    tok = load_tokenizer(tmp_path)
    ids = tok.encode("abc")
    with torch.no_grad():
        assert int(model(torch.tensor([ids]))[0, -1].argmax()) >= 257  # unmasked greedy would pick padding
    model.sample_vocab_size = 257
    want = _greedy_by_forward(model, ids, 4)
    code, out, err = _run(["generate", "--checkpoint", str(tmp_path / "model.pt"), "--prompt", "abc",
                           "--max-new-tokens", "4", "--temperature", "0", "--ignore-eos", "--dtype", "float32",
                           "--device", "cpu"], capsys)
    assert code == 0, err
    assert out == tok.decode(ids + want) + "\n"
