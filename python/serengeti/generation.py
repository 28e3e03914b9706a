"""Autoregressive sampling for any :class:`serengeti.models.base.LanguageModel`.

``generate`` runs the prompt once (``model.prefill``), then one ``model.step`` per new token.
Each next token is drawn from the last logits z (B, V) as follows (all in float32):

1. ids >= ``model.sample_vocab_size`` (padding rows of the embedding) get z = -inf, so they are
   never drawn, not even by greedy decoding;
2. greedy (``temperature == 0`` or ``top_k == 1``): the argmax, ties to the lowest id;
3. otherwise z <- z / temperature, then :func:`filter_logits` (top-k, then top-p on what top-k
   kept), then a draw from softmax(z) with a ``torch.Generator`` seeded by ``seed``.

Order and ties. Both filters rank the tokens by logit, descending, ties broken toward the lower
token id (a stable sort). top-k keeps exactly the first min(k, V) tokens of that order. top-p
(nucleus) keeps the shortest prefix of that order whose probability sum reaches top_p: token i
(0-based rank) is kept iff the probability of the tokens ranked before it is < top_p, so the
most probable token is always kept and top_p = 1 keeps every token. Because ties go to the lower
id, top_k = 1 and a tiny top_p keep exactly the greedy token.
"""
from __future__ import annotations

import math
import numbers
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

Streamer = Union[Callable[[Tensor], Any], Any]

__all__ = ["generate", "filter_logits", "mask_padding", "sample_next_token", "check_sampling_args"]


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------

def _check_top_k(top_k: object) -> Optional[int]:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or int(top_k) < 1:
        raise ValueError(f"top_k: expected None or an integer >= 1, got {top_k!r}")
    return int(top_k)


def _check_top_p(top_p: object) -> Optional[float]:
    if top_p is None:
        return None
    if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real) or not (0.0 < float(top_p) <= 1.0):
        raise ValueError(f"top_p: expected None or a number in (0, 1], got {top_p!r}")
    return float(top_p)


def _check_temperature(temperature: object) -> float:
    if (isinstance(temperature, bool) or not isinstance(temperature, numbers.Real)
            or not math.isfinite(float(temperature)) or float(temperature) < 0.0):
        raise ValueError(f"temperature: expected a finite number >= 0 (0 = greedy), got {temperature!r}")
    return float(temperature)


def check_sampling_args(temperature: object = 1.0, top_k: object = None,
                        top_p: object = None) -> Tuple[float, Optional[int], Optional[float]]:
    """Validate (temperature, top_k, top_p) as :func:`generate` does; return them normalised.
    Raises ValueError naming the bad argument."""
    return _check_temperature(temperature), _check_top_k(top_k), _check_top_p(top_p)


def _check_logits(logits: object) -> Tensor:
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits: expected a torch.Tensor (..., V), got {type(logits).__name__}")
    if logits.dim() < 1 or logits.shape[-1] < 1 or not logits.is_floating_point():
        raise ValueError(f"logits: expected a floating tensor (..., V) with V >= 1, got "
                         f"{logits.dtype} of shape {tuple(logits.shape)}")
    return logits


# ----------------------------------------------------------------------------------------------
# Pure logit processing
# ----------------------------------------------------------------------------------------------

def mask_padding(logits: Tensor, sample_vocab_size: Optional[int]) -> Tensor:
    """A copy of ``logits`` (..., V) with ids >= ``sample_vocab_size`` set to -inf.

    ``sample_vocab_size`` None or >= V: an unchanged copy. Never modifies its input.
    """
    logits = _check_logits(logits)
    v = logits.shape[-1]
    if sample_vocab_size is not None:
        if (isinstance(sample_vocab_size, bool) or not isinstance(sample_vocab_size, numbers.Integral)
                or not 1 <= int(sample_vocab_size)):
            raise ValueError(f"sample_vocab_size: expected None or an integer >= 1, got {sample_vocab_size!r}")
        if int(sample_vocab_size) < v:
            out = logits.clone()
            out[..., int(sample_vocab_size):] = float("-inf")
            return out
    return logits.clone()


def filter_logits(logits: Tensor, top_k: Optional[int] = None, top_p: Optional[float] = None) -> Tensor:
    """Top-k then top-p (nucleus) filtering: a copy of ``logits`` (..., V) with every token that
    does not survive set to -inf (the survivors keep their values).

    Tokens are ranked by logit, descending, ties toward the lower id (stable sort).

    - top_k: keep the first min(top_k, V) ranked tokens (exactly that many, ties included by id).
    - top_p: with p = softmax over what top-k kept (computed in float64), keep ranked token i iff
      sum_{j < i} p_j < top_p: the shortest prefix whose probability reaches top_p. The first
      token is always kept; top_p = 1 keeps everything.

    Tokens already at -inf stay at -inf. The input is not modified.
    """
    logits = _check_logits(logits)
    top_k = _check_top_k(top_k)
    top_p = _check_top_p(top_p)
    v = logits.shape[-1]
    use_k = top_k is not None and top_k < v
    use_p = top_p is not None and top_p < 1.0
    if not (use_k or use_p):
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    remove = torch.zeros_like(sorted_logits, dtype=torch.bool)
    if use_k:
        remove[..., top_k:] = True
    if use_p:
        ranked = sorted_logits.double().masked_fill(remove, float("-inf"))
        probs = torch.softmax(ranked, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # probability of the tokens ranked earlier
        drop = before >= top_p
        drop[..., 0] = False  # the most probable token always survives (even if rounding says otherwise)
        remove |= drop
    mask = torch.zeros_like(remove).scatter(-1, order, remove)
    return logits.masked_fill(mask, float("-inf"))


def sample_next_token(logits: Tensor, *, temperature: float = 1.0, top_k: Optional[int] = None,
                      top_p: Optional[float] = None, sample_vocab_size: Optional[int] = None,
                      generator: Optional[torch.Generator] = None) -> Tensor:
    """One token per row of ``logits`` (B, V) -> (B,) int64 on the logits' device.

    Padding ids (>= sample_vocab_size) are masked first; greedy (argmax, ties to the lowest id)
    when temperature == 0 or top_k == 1; otherwise logits / temperature in float32, then
    :func:`filter_logits`, then a draw from the softmax with ``generator``.
    """
    logits = _check_logits(logits)
    if logits.dim() != 2:
        raise ValueError(f"logits: expected shape (B, V), got {tuple(logits.shape)}")
    temperature = _check_temperature(temperature)
    top_k = _check_top_k(top_k)
    top_p = _check_top_p(top_p)
    z = mask_padding(logits.float(), sample_vocab_size)
    if temperature == 0.0 or top_k == 1:
        return torch.argmax(z, dim=-1)
    z = filter_logits(z / temperature, top_k, top_p)
    probs = torch.softmax(z, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


# ----------------------------------------------------------------------------------------------
# The decoding loop
# ----------------------------------------------------------------------------------------------

def _check_eos(eos_token_id: object, vocab_size: int) -> Tuple[int, ...]:
    if eos_token_id is None:
        return ()
    ids: Sequence[object]
    if isinstance(eos_token_id, numbers.Integral) and not isinstance(eos_token_id, bool):
        ids = (eos_token_id,)
    elif isinstance(eos_token_id, (list, tuple)) and len(eos_token_id) > 0:
        ids = eos_token_id
    else:
        raise ValueError(f"eos_token_id: expected None, an integer or a non-empty list of integers, "
                         f"got {eos_token_id!r}")
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= int(i) < vocab_size:
            raise ValueError(f"eos_token_id: expected token ids in [0, {vocab_size}), got {eos_token_id!r}")
    return tuple(int(i) for i in ids)


def _check_streamer(streamer: object) -> Tuple[Optional[Callable[[Tensor], Any]], Optional[Any]]:
    """-> (callable, put/end object); at most one is not None."""
    if streamer is None:
        return None, None
    if callable(getattr(streamer, "put", None)) and callable(getattr(streamer, "end", None)):
        return None, streamer
    if callable(streamer):
        return streamer, None  # type: ignore[return-value]
    raise TypeError(f"streamer: expected None, a callable taking the new tokens (B,) or an object with "
                    f"put(tokens) and end() methods, got {type(streamer).__name__}")


def _check_model(model: object) -> Tuple[int, int]:
    for name in ("prefill", "step"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"model: expected a LanguageModel with prefill() and step(), got "
                            f"{type(model).__name__} (no {name}())")
    vocab = getattr(model, "vocab_size", None)
    sample_vocab = getattr(model, "sample_vocab_size", vocab)
    for name, value in (("vocab_size", vocab), ("sample_vocab_size", sample_vocab)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
            raise TypeError(f"model: expected an integer attribute {name} >= 1, got {value!r}")
    if int(sample_vocab) > int(vocab):  # type: ignore[arg-type]
        raise ValueError(f"model: sample_vocab_size ({sample_vocab}) exceeds vocab_size ({vocab})")
    return int(vocab), int(sample_vocab)  # type: ignore[arg-type]


def _sync(device: torch.device) -> None:
    """Wait for queued device work so wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def generate(model: Any, input_ids: Tensor, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: Optional[int] = None, top_p: Optional[float] = None,
             eos_token_id: Union[None, int, Sequence[int]] = None, seed: Optional[int] = None,
             streamer: Optional[Streamer] = None, prefill_style: Optional[str] = None,
             stats: Optional[Dict[str, Any]] = None) -> Tensor:
    """Sample up to ``max_new_tokens`` tokens after each (equal-length) prompt.

    Args:
        model: a LanguageModel (or any object with ``prefill(ids, prefill_style=...) -> (logits
            (B, V), cache)``, ``step(ids (B,), cache) -> logits (B, V)``, ``vocab_size`` and
            ``sample_vocab_size``).
        input_ids: (B, L) integer prompts, L >= 1, on the model's device.
        max_new_tokens: n >= 0; 0 returns the prompt (as int64).
        temperature: > 0 divides the logits; 0 means greedy.
        top_k: None or k >= 1 (1 means greedy); see :func:`filter_logits`.
        top_p: None or a probability in (0, 1]; see :func:`filter_logits`.
        eos_token_id: None, an id, or a list of ids. A row that emits one of them is done: it keeps
            emitting (the first listed) eos id; generation stops when every row is done, so the
            result may be shorter than L + max_new_tokens.
        seed: None (a fresh non-deterministic seed) or an integer seeding a torch.Generator on the
            logits' device; results then depend only on the seed, never on torch's global RNG.
        streamer: None; a callable called with each new token column (B,) int64 (CPU); or an
            object with ``put(tokens)`` and ``end()`` (HuggingFace's TextStreamer protocol):
            ``put`` gets the prompt (B, L) first, then each new column (B,), all on the CPU, and
            ``end()`` is called once at the end.
        prefill_style: passed to ``model.prefill`` (None: every block's default).
        stats: if a dict is given it is filled with ``batch_size``, ``prompt_tokens`` (L),
            ``new_tokens`` (n per row), ``prefill_seconds``, ``decode_seconds`` (after prefill:
            sampling and steps), ``total_seconds`` and ``tokens_per_second``
            (batch_size * new_tokens / total_seconds, 0 when nothing was generated).

    Returns:
        (B, L + n) int64 on the prompt's device: the prompts followed by n <= max_new_tokens tokens.
    """
    vocab_size, sample_vocab_size = _check_model(model)
    if not isinstance(input_ids, Tensor):
        raise TypeError(f"input_ids: expected a torch.Tensor (B, L) of token ids, got {type(input_ids).__name__}")
    if input_ids.dim() != 2 or input_ids.shape[0] < 1 or input_ids.shape[1] < 1:
        raise ValueError(f"input_ids: expected shape (B, L) with B >= 1 and L >= 1, got {tuple(input_ids.shape)}")
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise ValueError(f"input_ids: expected an integer tensor, got {input_ids.dtype}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens: expected an integer >= 0, got {max_new_tokens!r}")
    temperature = _check_temperature(temperature)
    top_k = _check_top_k(top_k)
    top_p = _check_top_p(top_p)
    eos_ids = _check_eos(eos_token_id, vocab_size)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed: expected None or an integer, got {seed!r}")
    if prefill_style is not None and not isinstance(prefill_style, str):
        raise ValueError(f"prefill_style: expected None or a style name (str), got {prefill_style!r}")
    if stats is not None and not isinstance(stats, dict):
        raise TypeError(f"stats: expected None or a dict to fill, got {type(stats).__name__}")
    call, put_end = _check_streamer(streamer)

    prompt = input_ids.long()
    batch, prompt_len = prompt.shape
    if put_end is not None:
        put_end.put(prompt.cpu())
    if max_new_tokens == 0:
        if put_end is not None:
            put_end.end()
        if stats is not None:
            stats.update(batch_size=batch, prompt_tokens=prompt_len, new_tokens=0, prefill_seconds=0.0,
                         decode_seconds=0.0, total_seconds=0.0, tokens_per_second=0.0)
        return prompt.clone()

    timing = stats is not None
    if timing:
        _sync(prompt.device)
    t0 = time.perf_counter()
    logits, cache = model.prefill(prompt, prefill_style=prefill_style)
    if timing:
        _sync(logits.device)
    t1 = time.perf_counter()
    if not isinstance(logits, Tensor) or logits.shape != (batch, vocab_size):
        raise ValueError(f"model: prefill returned logits of shape "
                         f"{tuple(getattr(logits, 'shape', ()))}, expected ({batch}, {vocab_size})")

    device = logits.device
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    eos = torch.tensor(eos_ids, dtype=torch.long, device=device) if eos_ids else None
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    new_tokens = []
    for i in range(int(max_new_tokens)):
        token = sample_next_token(logits, temperature=temperature, top_k=top_k, top_p=top_p,
                                  sample_vocab_size=sample_vocab_size, generator=generator)
        if eos is not None:
            token = torch.where(done, eos[0], token)
            done = done | torch.isin(token, eos)
        new_tokens.append(token)
        if call is not None:
            call(token.cpu())
        elif put_end is not None:
            put_end.put(token.cpu())
        if i == max_new_tokens - 1 or (eos is not None and bool(done.all())):
            break
        logits = model.step(token, cache)
    if put_end is not None:
        put_end.end()
    out = torch.cat([prompt, torch.stack(new_tokens, dim=1).to(prompt.device)], dim=1)
    if timing:
        _sync(device)
        t2 = time.perf_counter()
        n = len(new_tokens)
        total = t2 - t0
        stats.update(batch_size=batch, prompt_tokens=prompt_len, new_tokens=n, prefill_seconds=t1 - t0,
                     decode_seconds=t2 - t1, total_seconds=total,
                     tokens_per_second=(batch * n / total) if total > 0 else 0.0)
    return out
