"""The ``serengeti`` command: sample text from a checkpoint, or describe one.

    serengeti generate --checkpoint DIR_OR_FILE --prompt "The four species of hyenas are"
    serengeti info DIR_OR_FILE

``main(argv)`` returns the exit code: 0 on success, 2 for a usage error or a user error
(bad argument, missing or unreadable file: one ``serengeti <command>: error: ...`` message on
stderr, no traceback), 130 when interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

__all__ = ["main", "build_parser"]

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

_DESCRIPTION = """\
Serengeti: run long-convolution / state-space language models (H3, safari Hyena, StripedHyena)
from their official checkpoints.

commands:
  generate   load a checkpoint and a tokenizer, and stream a sampled continuation of --prompt
             to stdout (the prompt first); timing goes to stderr:
             "N tokens in X s (Y tok/s), prefill Z ms"
  info       load a checkpoint and print its detected architecture, its config (in the original
             project's field names), its parameter count and its tensors' dtypes

Run "serengeti COMMAND --help" for a command's options.
"""

_EPILOG = """\
examples:
  serengeti generate --checkpoint StripedHyena-Hessian-7B/ --prompt "The four species of hyenas are" \\
      --max-new-tokens 32 --temperature 0 --dtype bfloat16 --device cuda
  serengeti generate --checkpoint h3-125m/model.pt --tokenizer gpt2/ --prompt "Hello" --top-p 0.9 --seed 0
  serengeti info h3-125m/model.pt
"""


def _arch_names() -> List[str]:
    from serengeti.models.checkpoint import FAMILY_MODULES
    return list(FAMILY_MODULES)


def _add_checkpoint_args(p: argparse.ArgumentParser, *, positional: bool) -> None:
    if positional:
        p.add_argument("checkpoint", metavar="PATH",
                       help="checkpoint file (.pt/.bin/.ckpt/.safetensors) or directory (HF shards + config.json)")
    else:
        p.add_argument("--checkpoint", required=True, metavar="PATH",
                       help="checkpoint file (.pt/.bin/.ckpt/.safetensors) or directory (HF shards + config.json)")
    p.add_argument("--config", metavar="PATH",
                   help="config .json/.yml in the original project's field names (default: config.json / "
                        "config.yml beside the checkpoint, else inferred from the weights)")
    p.add_argument("--arch", choices=_arch_names(), help="architecture (default: detected from the keys)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="let torch.load unpickle Python objects in the file (only for files you trust)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``serengeti`` command (subcommands ``generate`` and ``info``)."""
    parser = argparse.ArgumentParser(prog="serengeti", description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser("generate", help="stream a sampled continuation of a prompt",
                         description="Load a checkpoint and a tokenizer and stream a continuation of --prompt "
                                     "to stdout (the prompt first). Timing goes to stderr.")
    _add_checkpoint_args(gen, positional=False)
    gen.add_argument("--tokenizer", metavar="PATH",
                     help="tokenizer.json, GPT-2's vocab.json/merges.txt, or a directory holding them "
                          "(default: the checkpoint's directory)")
    gen.add_argument("--prompt", required=True, metavar="TEXT", help="the text to continue")
    gen.add_argument("--max-new-tokens", type=int, default=64, metavar="N", help="tokens to generate (default 64)")
    gen.add_argument("--temperature", type=float, default=1.0, metavar="T",
                     help="softmax temperature; 0 = greedy (default 1.0)")
    gen.add_argument("--top-k", type=int, metavar="K", help="sample among the K most probable tokens")
    gen.add_argument("--top-p", type=float, metavar="P",
                     help="nucleus sampling: the fewest most probable tokens whose probability reaches P")
    gen.add_argument("--seed", type=int, metavar="S", help="random seed (default: a fresh one each run)")
    gen.add_argument("--ignore-eos", action="store_true", help="do not stop at the tokenizer's eos token")
    gen.add_argument("--dtype", choices=list(DTYPES),
                     help="dtype of the model's tensors (default: the checkpoint's); SSM parameters, poles "
                          "and residues stay float32")
    gen.add_argument("--device", metavar="{cpu,cuda,cuda:N}", help="default: cuda when available, else cpu")
    gen.add_argument("--prefill-style", metavar="STYLE",
                     help="how long-filter state is built from the prompt (e.g. fft, scan, recurrence; "
                          "default: each layer's own)")
    gen.set_defaults(func=_cmd_generate)

    info = sub.add_parser("info", help="describe a checkpoint (arch, config, parameters, dtypes)",
                          description="Load a checkpoint and print its detected architecture, config (original "
                                      "field names), parameter count and the dtypes of its tensors.")
    _add_checkpoint_args(info, positional=True)
    info.set_defaults(func=_cmd_info)
    return parser


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def _device(name: Optional[str]) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device: expected cpu, cuda or cuda:N, got {name!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device: expected cpu, cuda or cuda:N, got {name!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    return dev


def _load(args: argparse.Namespace, device: Optional[torch.device] = None, dtype: Optional[torch.dtype] = None):
    import serengeti.models as models
    return models.load_model(args.checkpoint, arch=args.arch, config=args.config, dtype=dtype,
                             device=device, trust_checkpoint=args.trust_checkpoint)


def _tokenizer_for(args: argparse.Namespace):
    from serengeti.tokenizers import load_tokenizer
    if args.tokenizer is not None:
        try:
            return load_tokenizer(args.tokenizer)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"--tokenizer: {str(e).removeprefix('path: ')}") from None
    ck = Path(args.checkpoint)
    directory = ck if ck.is_dir() else ck.parent
    try:
        return load_tokenizer(directory)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no --tokenizer given and no tokenizer beside the checkpoint: provide {directory / 'tokenizer.json'} "
            f"(or GPT-2's {directory / 'vocab.json'} + {directory / 'merges.txt'}), or pass --tokenizer PATH") from None


def _tensors_by_dtype(model: torch.nn.Module) -> Dict[torch.dtype, List[int]]:
    """dtype -> [elements, tensors] over parameters and buffers, shared tensors counted once."""
    seen: Dict[int, torch.Tensor] = {}
    for t in list(model.parameters()) + list(model.buffers()):
        seen.setdefault(id(t), t)
    out: Dict[torch.dtype, List[int]] = {}
    for t in seen.values():
        entry = out.setdefault(t.dtype, [0, 0])
        entry[0] += t.numel()
        entry[1] += 1
    return out


def _num_parameters(model: torch.nn.Module) -> int:
    """Parameters, shared ones counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _config_dict(config: Any) -> Any:
    if hasattr(config, "to_dict"):
        return config.to_dict()
    import dataclasses
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    return repr(config)


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------

def _cmd_generate(args: argparse.Namespace) -> int:
    from serengeti.generation import check_sampling_args, generate
    from serengeti.tokenizers import StreamDecoder

    if args.max_new_tokens < 0:
        raise ValueError(f"--max-new-tokens: expected an integer >= 0, got {args.max_new_tokens}")
    try:  # before the (slow) model load
        check_sampling_args(args.temperature, args.top_k, args.top_p)
    except ValueError as e:  # "top_p: ..." -> "--top-p: ..."
        name, _, rest = str(e).partition(":")
        raise ValueError(f"--{name.replace('_', '-')}:{rest}") from None
    device = _device(args.device)
    if not Path(args.checkpoint).exists():
        raise FileNotFoundError(f"--checkpoint: no file or directory at {args.checkpoint}")
    tokenizer = _tokenizer_for(args)  # before the (slow) model load: fail fast on a missing file
    t0 = time.perf_counter()
    model = _load(args, device=device, dtype=DTYPES[args.dtype] if args.dtype else None)
    n_params = _num_parameters(model)
    print(f"loaded {getattr(model, 'arch', type(model).__name__)} ({n_params:,} parameters) on {device} "
          f"in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    if args.prefill_style is not None and args.prefill_style not in model.prefill_styles:
        raise ValueError(f"--prefill-style: expected one of {list(model.prefill_styles)} for this model, "
                         f"got {args.prefill_style!r}")

    ids = tokenizer.encode(args.prompt)
    if not ids:
        if tokenizer.bos_token_id is None:
            raise ValueError("--prompt: the prompt encodes to no tokens (and the tokenizer has no bos token to "
                             "start from); give a non-empty prompt")
        ids = [tokenizer.bos_token_id]
    if max(ids) >= model.vocab_size:
        raise ValueError(f"--tokenizer: the prompt has token id {max(ids)} but the model's vocabulary has "
                         f"{model.vocab_size} ids: is this the model's tokenizer?")
    # Ids past the tokenizer's vocabulary (embedding rows padded to a multiple of 8 or 64) have no text:
    # never sample them. Only this process's copy of the model is touched.
    model.sample_vocab_size = min(model.sample_vocab_size, tokenizer.vocab_size)
    eos = tokenizer.eos_token_id
    if args.ignore_eos or eos is None or eos >= model.vocab_size:
        eos = None

    decoder = StreamDecoder(tokenizer, ids)
    out = sys.stdout

    def stream(tokens: torch.Tensor) -> None:
        piece = decoder.push(tokens.tolist())
        if piece:
            out.write(piece)
            out.flush()

    out.write(args.prompt)
    out.flush()
    stats: Dict[str, Any] = {}
    try:
        generate(model, torch.tensor([ids], dtype=torch.long, device=device), args.max_new_tokens,
                 temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, eos_token_id=eos,
                 seed=args.seed, streamer=stream, prefill_style=args.prefill_style, stats=stats)
    finally:
        out.write(decoder.flush() + "\n")
        out.flush()
    print(f"{stats['new_tokens']} tokens in {stats['total_seconds']:.2f} s "
          f"({stats['tokens_per_second']:.1f} tok/s), prefill {stats['prefill_seconds'] * 1e3:.1f} ms",
          file=sys.stderr)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    model = _load(args)
    config = getattr(model, "config", None)
    lines = [f"arch: {getattr(model, 'arch', '') or type(model).__name__}",
             f"model: {type(model).__name__}",
             "config:"]
    fields = _config_dict(config)
    if isinstance(fields, dict):
        lines += [f"  {k}: {json.dumps(v, default=str)}" for k, v in fields.items()]
    else:
        lines.append(f"  {fields}")
    n_params = _num_parameters(model)
    lines.append(f"parameters: {n_params:,} (shared weights counted once)")
    vocab = getattr(model, "vocab_size", None)
    if vocab is not None:
        lines.append(f"vocab_size: {vocab} (sampled: {getattr(model, 'sample_vocab_size', vocab)})")
    lines.append("dtypes (parameters and buffers):")
    total_bytes = 0
    by_dtype = _tensors_by_dtype(model)
    for dtype, (numel, count) in sorted(by_dtype.items(), key=lambda kv: -kv[1][0]):
        nbytes = numel * torch.empty((), dtype=dtype).element_size()
        total_bytes += nbytes
        name = str(dtype).removeprefix("torch.")
        lines.append(f"  {name}: {numel:,} elements in {count} tensors ({nbytes / 2**20:.1f} MiB)")
    lines.append(f"total: {total_bytes / 2**20:.1f} MiB")
    print("\n".join(lines))
    return 0


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------

def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, message already printed)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:  # stdout closed early (`serengeti info ... | head`): not an error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        except (OSError, ValueError, AttributeError):
            pass
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, ImportError) as e:  # user errors: bad argument, file, missing package
        print(f"serengeti {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover - `python -m serengeti.cli`
    sys.exit(main())
