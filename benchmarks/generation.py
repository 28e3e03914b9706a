"""Generation: per-token decode latency and prefill time of a ~125M StripedHyena-style model
against a Transformer of the same width and depth built from the same parts (KV cache).

Models (float32, B = 1, d 768, 12 layers, 12 heads / 3 KV heads, gated MLP 2048, vocab 32000):
- "hyena": every layer a StripedHyena gated-conv block (modal filter, 2 modes): fixed-size
  decoding state, so the per-token cost must not depend on the context;
- "striped": StripedHyena's layout (even layers gated conv, odd attention);
- baseline "transformer": every layer an attention block (same attention, MLP, norms).
For each context C the prompt of C tokens is prefilled, then decode steps are timed
(interleaved, median). Rows "decode" give ms per token, "prefill" the whole prompt.
"""
from __future__ import annotations

import statistics
import time
from typing import Dict, List

import torch

from benchmarks.common import Config, Record, Timing, register, time_interleaved

D_MODEL, LAYERS, HEADS, PROJ_GROUPS, MLP, VOCAB = 768, 12, 12, 4, 2048, 32000


def _config(kind: str) -> Dict[str, object]:
    """StripedHyena config fields (the published yml's names) for one of the three layouts."""
    if kind == "hyena":
        attn: List[int] = []
    elif kind == "striped":
        attn = list(range(1, LAYERS, 2))
    else:
        attn = list(range(LAYERS))
    return {
        "hidden_size": D_MODEL, "num_layers": LAYERS, "vocab_size": VOCAB,
        "num_attention_heads": HEADS, "proj_groups": PROJ_GROUPS, "inner_mlp_size": MLP,
        "attn_layer_idxs": attn, "hyena_layer_idxs": [i for i in range(LAYERS) if i not in attn],
        "state_size": 2, "short_filter_length": 3, "short_filter_bias": True, "rotary_emb_base": 500000,
        "column_split_hyena": True, "eps": 1e-5, "tie_embeddings": False,
    }


def build(kind: str, device: str):
    """A randomly initialised model of the given layout ("hyena", "striped", "transformer")."""
    from serengeti.models.striped_hyena import FAMILY, StripedHyenaConfig
    torch.manual_seed(0)
    cfg = StripedHyenaConfig.from_dict(_config(kind))
    return FAMILY.build(cfg, torch.float32, torch.device(device)).eval()


def _record(op: str, kind: str, context: int, timing: Timing, tokens: int, note: str) -> Record:
    """A row whose rate columns hold tokens per second (the harness's rate = units / s / 1e9)."""
    rate = lambda ms: tokens / (ms * 1e-3) if ms > 0 else float("nan")  # noqa: E731
    return Record(op=f"{op} {kind}", dtype="float32", pass_="inference", B=1, H=D_MODEL, L=context,
                  ours_ms=timing.ours_ms, baseline_ms=timing.baseline_ms,
                  speedup=timing.baseline_ms / timing.ours_ms, ours_gflops=rate(timing.ours_ms),
                  baseline_gflops=rate(timing.baseline_ms), repeats=timing.repeats, note=note)


def _prefill_interleaved(models: Dict[str, torch.nn.Module], prompt: torch.Tensor, runs: int):
    """Median prefill time per model over ``runs`` rounds (models alternating within a round, so
    noise hits all), and each model's (logits, cache) from the last round."""
    times: Dict[str, List[float]] = {k: [] for k in models}
    outs: Dict[str, object] = {}
    for _ in range(runs):
        for kind, model in models.items():
            t0 = time.perf_counter()
            outs[kind] = model.prefill(prompt)
            times[kind].append((time.perf_counter() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}, outs


@register("generation", title="Generation: ~125M StripedHyena-style models vs a Transformer (KV cache), CPU",
          caption="decode rows: ms per generated token after a prompt of L tokens, median of interleaved steps "
                  "(rate column: tokens/s); prefill rows: the whole prompt (median of 3 interleaved runs up to "
                  "2K, 2 at 8K, 1 at 32K, after a warm-up). Ours = 'hyena' (all gated-conv blocks) or "
                  "'striped' (alternating with attention); baseline = the same parts with every layer "
                  "attention. Decode rows give both decoding-cache sizes.",
          rate_unit="tok/s")
def run(cfg: Config) -> List[Record]:
    contexts = [512, 2048] if cfg.quick else [512, 2048, 8192, 32768]
    models = {k: build(k, cfg.device) for k in ("hyena", "striped", "transformer")}
    g = torch.Generator().manual_seed(cfg.seed)
    records: List[Record] = []
    with torch.inference_mode():
        warm = torch.randint(0, VOCAB, (1, 64), generator=g).to(cfg.device)
        for model in models.values():  # first-call costs (allocator, thread pool, kernels) out of the way
            logits, cache = model.prefill(warm)
            for _ in range(3):
                logits = model.step(logits.argmax(-1), cache)
        for context in contexts:
            prompt = torch.randint(0, VOCAB, (1, context), generator=g).to(cfg.device)
            runs = 3 if context <= 2048 else 2 if context <= 8192 else 1
            prefill_ms, outs = _prefill_interleaved(models, prompt, runs)
            token = outs["transformer"][0].argmax(-1)
            c_base = outs["transformer"][1]
            for kind in ("hyena", "striped"):
                ours, base = models[kind], models["transformer"]
                c_ours = outs[kind][1]
                timing = time_interleaved(lambda: ours.step(token, c_ours), lambda: base.step(token, c_base), cfg,
                                          min_sample_s=0.0)
                size = f"cache {c_ours.nbytes() / 2**20:.1f} vs {c_base.nbytes() / 2**20:.1f} MiB"
                records.append(_record("decode", kind, context, timing, 1, size))
                pre = Timing(prefill_ms[kind], prefill_ms["transformer"], runs)
                records.append(_record("prefill", kind, context, pre, context, ""))
            del outs, c_base
    return records
