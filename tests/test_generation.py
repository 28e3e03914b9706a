"""serengeti.generation: top-k / top-p sets, greedy, padding, seeding, eos, streamers, batching.

The model is a bigram table wrapped as a real LanguageModel (embed = the table row of the token,
one identity block with an empty cache, head = identity), so logits at position t are
``table[ids[t]]`` and every expected sequence is computed by a plain loop over the table here.
Set checks compare against a naive float64 Python implementation of the documented rule
(rank by logit descending, ties to the lower id).
"""
from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Tuple

import pytest
import torch
from torch import Tensor, nn

from serengeti.generation import filter_logits, generate, mask_padding, sample_next_token
from serengeti.models.base import LanguageModel
from serengeti.nn.base import LayerCache


# ----------------------------------------------------------------------------------------------
# The fake model
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _EmptyCache(LayerCache):
    steps: int = 0


class _IdentityBlock(nn.Module):
    prefill_styles = ("parallel", "other")

    def __init__(self) -> None:
        super().__init__()
        self.styles_seen: List[Optional[str]] = []

    def forward(self, h: Tensor) -> Tensor:
        return h

    def prefill(self, h: Tensor, *, style: Optional[str] = None) -> Tuple[Tensor, LayerCache]:
        self.styles_seen.append(style)
        return h, _EmptyCache()

    def step(self, h: Tensor, cache: LayerCache) -> Tensor:
        cache.steps += 1
        return h


class BigramLM(LanguageModel):
    """logits(next | previous token a) = table[a]; ids >= sample_vocab_size are padding."""

    arch = "bigram"

    def __init__(self, table: Tensor, sample_vocab_size: Optional[int] = None) -> None:
        super().__init__()
        self.table = nn.Parameter(table.clone(), requires_grad=False)
        self.vocab_size = table.shape[0]
        self.sample_vocab_size = sample_vocab_size or table.shape[0]
        self.blocks = nn.ModuleList([_IdentityBlock()])
        self.step_calls = 0

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.table[input_ids]

    def head(self, h: Tensor) -> Tensor:
        return h

    def step(self, token_ids: Tensor, cache):  # count calls, then the real LanguageModel.step
        self.step_calls += 1
        return super().step(token_ids, cache)


def _random_table(v: int, seed: int = 0, scale: float = 2.0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(v, v, generator=g) * scale


def _greedy_loop(table: Tensor, prompt: List[int], n: int, sample_vocab: int,
                 eos: Optional[int] = None) -> List[int]:
    """Greedy continuation by hand: argmax over the allowed ids (first index on ties)."""
    seq = list(prompt)
    done = False
    for _ in range(n):
        if done:
            seq.append(eos)  # type: ignore[arg-type]
            continue
        row = table[seq[-1], :sample_vocab].tolist()
        best = max(range(len(row)), key=lambda i: (row[i], -i))
        seq.append(best)
        done = eos is not None and best == eos
    return seq


# ----------------------------------------------------------------------------------------------
# Naive float64 reference of the filters
# ----------------------------------------------------------------------------------------------

def _ranked(row: List[float]) -> List[int]:
    return sorted(range(len(row)), key=lambda i: (-row[i], i))


def _naive_keep(row: List[float], top_k: Optional[int], top_p: Optional[float]) -> set:
    order = [i for i in _ranked(row) if row[i] != -math.inf]
    if top_k is not None:
        order = order[:top_k]
    if top_p is not None:
        m = max(row[i] for i in order)
        w = {i: math.exp(row[i] - m) for i in order}
        total = sum(w.values())
        kept, acc = [], 0.0
        for i in order:
            if acc >= top_p and kept:
                break
            kept.append(i)
            acc += w[i] / total
        order = kept
    return set(order)


def _kept(logits: Tensor) -> set:
    return set(torch.nonzero(torch.isfinite(logits)).flatten().tolist())


# ----------------------------------------------------------------------------------------------
# filter_logits / mask_padding
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("top_k, expected", [(1, {1}), (2, {1, 3}), (3, {1, 2, 3}), (5, {0, 1, 2, 3, 4}),
                                             (99, {0, 1, 2, 3, 4})])
def test_top_k_sets_with_ties(top_k, expected):
    logits = torch.tensor([1.0, 3.0, 2.0, 3.0, 0.5])
    out = filter_logits(logits, top_k=top_k)
    assert _kept(out) == expected
    assert torch.equal(out[list(expected)], logits[list(expected)])  # survivors keep their values


def test_top_k_ties_go_to_lower_ids():
    logits = torch.tensor([2.0, 1.0, 2.0, 2.0, 2.0])
    assert _kept(filter_logits(logits, top_k=2)) == {0, 2}
    assert _kept(filter_logits(logits, top_k=4)) == {0, 2, 3, 4}


@pytest.mark.parametrize("top_p, expected", [
    (1e-9, {0}),            # tiny: only the most probable
    (0.3, {0}),
    (0.6, {0, 1}),          # 0.5 < 0.6 -> need the next (tie 1 vs 2: the lower id)
    (0.75, {0, 1, 2}),      # 0.5 + 0.2 = 0.7 < 0.75
    (0.95, {0, 1, 2, 3}),
    (1.0, {0, 1, 2, 3}),
])
def test_top_p_sets(top_p, expected):
    probs = torch.tensor([0.5, 0.2, 0.2, 0.1], dtype=torch.float64)
    out = filter_logits(probs.log().float(), top_p=top_p)
    assert _kept(out) == expected


def test_top_p_tie_at_the_top_keeps_lower_id_only():
    logits = torch.tensor([0.4, 0.4, 0.2]).log()
    assert _kept(filter_logits(logits, top_p=0.1)) == {0}
    assert _kept(filter_logits(logits, top_p=0.45)) == {0, 1}


def test_top_p_one_keeps_even_negligible_tokens():
    logits = torch.tensor([0.0, -200.0, -90.0, float("-inf")])
    assert _kept(filter_logits(logits, top_p=1.0)) == {0, 1, 2}


def test_top_k_then_top_p_on_renormalised_mass():
    logits = torch.tensor([0.5, 0.2, 0.2, 0.1], dtype=torch.float64).log().float()
    # top_p alone: 0.5 + 0.2 = 0.7 < 0.75 keeps three; after top_k = 3 the mass is /0.9 -> 0.778 >= 0.75
    assert _kept(filter_logits(logits, top_p=0.75)) == {0, 1, 2}
    assert _kept(filter_logits(logits, top_k=3, top_p=0.75)) == {0, 1}


def test_filters_match_naive_reference_on_random_rows():
    g = torch.Generator().manual_seed(3)
    # coarse values force many ties
    logits = (torch.randint(-6, 6, (64, 17), generator=g).float() / 2)
    logits[::5, -3:] = float("-inf")
    out_all = {}
    for top_k in (None, 1, 2, 5, 17):
        for top_p in (None, 0.05, 0.3, 0.5, 0.9, 1.0):
            out = filter_logits(logits, top_k=top_k, top_p=top_p)
            out_all[(top_k, top_p)] = out
            for r in range(logits.shape[0]):
                row = logits[r].double().tolist()
                assert _kept(out[r]) == _naive_keep(row, top_k, top_p), (top_k, top_p, r)
    assert torch.equal(out_all[(None, None)], logits)


def test_filter_does_not_modify_input_and_keeps_batch_shape():
    logits = torch.randn(2, 3, 10)
    before = logits.clone()
    out = filter_logits(logits, top_k=3, top_p=0.5)
    assert out.shape == logits.shape and torch.equal(logits, before)


def test_mask_padding():
    logits = torch.randn(3, 10)
    out = mask_padding(logits, 7)
    assert torch.isinf(out[:, 7:]).all() and torch.equal(out[:, :7], logits[:, :7])
    assert torch.equal(mask_padding(logits, None), logits) and torch.equal(mask_padding(logits, 10), logits)


# ----------------------------------------------------------------------------------------------
# sample_next_token
# ----------------------------------------------------------------------------------------------

def test_sampling_frequencies_match_filtered_softmax():
    """Many rows of the same logits: frequencies vs softmax(z / T) over the top-k/top-p set."""
    base = torch.tensor([2.0, 1.5, 1.0, 0.2, -0.5, 3.0, 0.0, 2.5])
    temperature, top_k, top_p = 1.7, 5, 0.8
    # id 7 is padding (sample_vocab_size 7): it is dropped before filtering
    z = (base[:7].double() / temperature).tolist()
    keep = _naive_keep(z, top_k, top_p)
    m = max(z[i] for i in keep)
    w = {i: math.exp(z[i] - m) for i in keep}
    expected = torch.tensor([w.get(i, 0.0) / sum(w.values()) for i in range(8)], dtype=torch.float64)
    n = 40000
    tokens = sample_next_token(base.expand(n, -1), temperature=temperature, top_k=top_k, top_p=top_p,
                               sample_vocab_size=7, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(tokens, minlength=8).double() / n
    assert set(torch.nonzero(freq).flatten().tolist()) == keep
    sigma = (expected * (1 - expected) / n).sqrt()
    assert (freq - expected).abs().le(5 * sigma + 1e-12).all(), (freq, expected)


def test_greedy_is_argmax_and_ignores_padding():
    logits = torch.randn(6, 12)
    logits[:, 10] = 100.0  # padding id holds the largest logit
    want = torch.argmax(logits[:, :10], dim=-1)
    assert torch.equal(sample_next_token(logits, temperature=0.0, sample_vocab_size=10), want)
    assert torch.equal(sample_next_token(logits, temperature=0.8, top_k=1, sample_vocab_size=10), want)


def test_sampling_works_for_half_precision_logits():
    logits = torch.randn(4, 9).to(torch.bfloat16)
    t = sample_next_token(logits, generator=torch.Generator().manual_seed(1))
    assert t.dtype == torch.int64 and t.shape == (4,) and int(t.max()) < 9


# ----------------------------------------------------------------------------------------------
# generate
# ----------------------------------------------------------------------------------------------

def test_greedy_generate_matches_table_loop():
    table = _random_table(20)
    model = BigramLM(table)
    prompt = torch.tensor([[3, 7, 1]])
    out = generate(model, prompt, 9, temperature=0.0)
    assert out.dtype == torch.int64 and out.shape == (1, 12)
    assert out[0].tolist() == _greedy_loop(table, [3, 7, 1], 9, 20)
    assert torch.equal(generate(model, prompt, 9, top_k=1, temperature=1.3), out)


def test_padding_ids_are_never_generated():
    v, pad_from = 16, 12
    table = _random_table(v, seed=1)
    table[:, pad_from:] = table.max() + 10.0  # every row's best tokens are padding
    model = BigramLM(table, sample_vocab_size=pad_from)
    prompt = torch.tensor([[0], [5]])
    greedy = generate(model, prompt, 10, temperature=0.0)
    for r in range(2):
        assert greedy[r].tolist() == _greedy_loop(table, prompt[r].tolist(), 10, pad_from)
    sampled = generate(model, prompt.repeat(16, 1), 30, temperature=5.0, seed=0)
    assert int(sampled[:, 1:].max()) < pad_from


def test_seeded_sampling_is_deterministic_and_ignores_global_rng():
    model = BigramLM(_random_table(50, seed=2, scale=0.5))
    prompt = torch.tensor([[1, 2], [3, 4]])
    torch.manual_seed(123)
    a = generate(model, prompt, 20, temperature=1.0, top_p=0.95, seed=7)
    torch.manual_seed(999)
    torch.rand(17)
    state = torch.get_rng_state()
    b = generate(model, prompt, 20, temperature=1.0, top_p=0.95, seed=7)
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not used
    c = generate(model, prompt, 20, temperature=1.0, top_p=0.95, seed=8)
    assert not torch.equal(a, c)


def test_first_token_distribution_of_generate():
    """Temperature, top-k and top-p inside generate: frequencies of the first new token."""
    v = 10
    table = _random_table(v, seed=4, scale=1.0)
    model = BigramLM(table, sample_vocab_size=9)
    n = 20000
    out = generate(model, torch.full((n, 1), 2), 1, temperature=0.7, top_k=6, top_p=0.9, seed=11)
    z = (table[2, :9].double() / 0.7).tolist()
    keep = _naive_keep(z, 6, 0.9)
    m = max(z[i] for i in keep)
    w = {i: math.exp(z[i] - m) for i in keep}
    expected = torch.tensor([w.get(i, 0.0) / sum(w.values()) for i in range(v)], dtype=torch.float64)
    freq = torch.bincount(out[:, 1], minlength=v).double() / n
    sigma = (expected * (1 - expected) / n).sqrt()
    assert (freq - expected).abs().le(5 * sigma + 1e-12).all(), (freq, expected)


def test_batched_greedy_equals_per_row():
    table = _random_table(30, seed=5)
    model = BigramLM(table)
    prompts = torch.tensor([[1, 2, 3], [4, 5, 6], [29, 0, 11]])
    batched = generate(model, prompts, 8, temperature=0.0)
    for r in range(3):
        single = generate(model, prompts[r:r + 1], 8, temperature=0.0)
        assert torch.equal(batched[r:r + 1], single)


def test_eos_rows_stay_done_and_generation_stops():
    v, eos = 12, 11
    table = torch.full((v, v), -5.0)
    chain = {0: 1, 1: eos, 2: 3, 3: 4, 4: 5, 5: eos, eos: 6, 6: 7, 7: 8, 8: 9, 9: 10, 10: 0}
    for a, b in chain.items():
        table[a, b] = 5.0
    model = BigramLM(table)
    prompt = torch.tensor([[0], [2]])
    out = generate(model, prompt, 20, temperature=0.0, eos_token_id=eos)
    # row 0: 1, eos (then held at eos); row 1: 3, 4, 5, eos -> all done after 4 new tokens
    assert out.tolist() == [[0, 1, eos, eos, eos], [2, 3, 4, 5, eos]]
    assert model.step_calls == 3  # no step after the last token
    model.step_calls = 0
    assert generate(model, prompt, 3, temperature=0.0, eos_token_id=eos).shape == (2, 4)
    assert model.step_calls == 2
    # a list of eos ids: 3 also ends a row, which is then filled with the first listed id
    out = generate(model, prompt, 20, temperature=0.0, eos_token_id=[eos, 3])
    assert out.tolist() == [[0, 1, eos], [2, 3, eos]]
    # without eos the chain continues past eos
    assert generate(model, prompt, 5, temperature=0.0)[0].tolist() == _greedy_loop(table, [0], 5, v)


def test_sampled_eos_rows_keep_emitting_eos():
    v, eos = 8, 0
    model = BigramLM(torch.zeros(v, v))  # uniform: rows end at random times
    out = generate(model, torch.ones(64, 1, dtype=torch.long), 40, temperature=1.0, seed=3, eos_token_id=eos)
    new = out[:, 1:]
    for row in new.tolist():
        if eos in row:
            first = row.index(eos)
            assert all(t == eos for t in row[first:])
    ended = (new == eos).any(dim=1)
    assert bool(ended.any())
    if out.shape[1] < 41:  # stopped early: only because every row had ended
        assert bool(ended.all())


def test_streamer_callable_and_put_end_object():
    table = _random_table(25, seed=6)
    model = BigramLM(table)
    prompt = torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)
    got: List[Tensor] = []
    out = generate(model, prompt, 6, temperature=0.0, streamer=got.append)
    assert len(got) == 6 and all(t.shape == (2,) and t.dtype == torch.int64 for t in got)
    assert torch.equal(torch.stack(got, 1), out[:, 2:])

    class Recorder:
        def __init__(self) -> None:
            self.events: List[Tuple[str, Optional[Tensor]]] = []

        def put(self, value: Tensor) -> None:
            self.events.append(("put", value))

        def end(self) -> None:
            self.events.append(("end", None))

    rec = Recorder()
    out2 = generate(model, prompt, 6, temperature=0.0, streamer=rec)
    assert torch.equal(out, out2)
    kinds = [k for k, _ in rec.events]
    assert kinds == ["put"] * 7 + ["end"]
    assert torch.equal(rec.events[0][1], prompt.long())  # HF protocol: the prompt first
    assert torch.equal(torch.stack([v for _, v in rec.events[1:7]], 1), out[:, 2:])
    rec0 = Recorder()
    generate(model, prompt, 0, streamer=rec0)
    assert [k for k, _ in rec0.events] == ["put", "end"]


def test_zero_new_tokens_returns_prompt_as_int64():
    model = BigramLM(_random_table(9))
    prompt = torch.tensor([[1, 2, 3]], dtype=torch.int32)
    out = generate(model, prompt, 0)
    assert out.dtype == torch.int64 and torch.equal(out, prompt.long()) and model.step_calls == 0


def test_prefill_style_is_passed_and_stats_are_filled():
    model = BigramLM(_random_table(9))
    stats: dict = {}
    out = model.generate(torch.tensor([[1, 2]]), 5, prefill_style="other", temperature=0.0, stats=stats)
    assert model.blocks[0].styles_seen == ["other"]
    assert out.shape == (1, 7)
    assert stats["new_tokens"] == 5 and stats["prompt_tokens"] == 2 and stats["batch_size"] == 1
    assert stats["prefill_seconds"] >= 0 and stats["decode_seconds"] >= 0
    assert stats["total_seconds"] == pytest.approx(stats["prefill_seconds"] + stats["decode_seconds"])
    assert stats["tokens_per_second"] == pytest.approx(5 / stats["total_seconds"])
    with pytest.raises(ValueError, match="prefill_style"):
        generate(model, torch.tensor([[1]]), 2, prefill_style="nope")


def test_duck_typed_model_object():
    class Counter:
        """Always prefers (previous + 1) mod 5, as a plain object (no nn.Module)."""

        vocab_size = 5
        sample_vocab_size = 5

        def prefill(self, ids, prefill_style=None):
            return self._logits(ids[:, -1]), {"n": ids.shape[1]}

        def step(self, ids, cache):
            cache["n"] += 1
            return self._logits(ids)

        def _logits(self, last):
            return torch.nn.functional.one_hot((last + 1) % 5, 5).float() * 10

    out = generate(Counter(), torch.tensor([[3]]), 6, temperature=0.0)
    assert out.tolist() == [[3, 4, 0, 1, 2, 3, 4]]


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    (dict(max_new_tokens=-1), "max_new_tokens"),
    (dict(max_new_tokens=2.0), "max_new_tokens"),
    (dict(temperature=-0.1), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(top_k=0), "top_k"),
    (dict(top_k=2.5), "top_k"),
    (dict(top_p=0.0), "top_p"),
    (dict(top_p=1.5), "top_p"),
    (dict(eos_token_id=99), "eos_token_id"),
    (dict(eos_token_id=[]), "eos_token_id"),
    (dict(eos_token_id="2"), "eos_token_id"),
    (dict(seed=1.5), "seed"),
    (dict(prefill_style=3), "prefill_style"),
    (dict(streamer=42), "streamer"),
    (dict(stats=[]), "stats"),
    (dict(input_ids=torch.tensor([1, 2])), "input_ids"),
    (dict(input_ids=torch.zeros(1, 0, dtype=torch.long)), "input_ids"),
    (dict(input_ids=torch.tensor([[0.5]])), "input_ids"),
    (dict(input_ids=[[1, 2]]), "input_ids"),
    (dict(model=object()), "model"),
])
def test_bad_arguments_name_themselves(kwargs, name):
    args = dict(model=BigramLM(_random_table(9)), input_ids=torch.tensor([[1, 2]]), max_new_tokens=3)
    args.update(kwargs)
    model, ids, n = args.pop("model"), args.pop("input_ids"), args.pop("max_new_tokens")
    with pytest.raises((ValueError, TypeError), match=name):
        generate(model, ids, n, **args)


@pytest.mark.parametrize("kwargs, name", [
    (dict(top_k=-1), "top_k"), (dict(top_p=-0.5), "top_p"), (dict(logits=[1.0, 2.0]), "logits"),
    (dict(logits=torch.tensor([1, 2])), "logits"),
])
def test_filter_logits_validation(kwargs, name):
    args = dict(logits=torch.randn(4))
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        filter_logits(**args)
