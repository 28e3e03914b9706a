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

import time
from typing import Callable, Dict, List, Tuple

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


def _time_once(fn: Callable[[], object]) -> Tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


@register("generation", title="Generation: ~125M StripedHyena-style models vs a Transformer (KV cache), CPU",
          caption="decode rows: ms per generated token after a prompt of L tokens (rate column: tokens/s); "
                  "prefill rows: the whole prompt. Ours = 'hyena' (all gated-conv blocks) or 'striped' "
                  "(alternating with attention); baseline = the same parts with every layer attention. "
                  "Note = decoding-cache size.",
          rate_unit="tok/s")
def run(cfg: Config) -> List[Record]:
    contexts = [512, 2048] if cfg.quick else [512, 2048, 8192, 32768]
    models = {k: build(k, cfg.device) for k in ("hyena", "striped", "transformer")}
    g = torch.Generator().manual_seed(cfg.seed)
    records: List[Record] = []
    with torch.inference_mode():
        for context in contexts:
            prompt = torch.randint(0, VOCAB, (1, context), generator=g).to(cfg.device)
            prefill_ms: Dict[str, float] = {}
            caches = {}
            for kind, model in models.items():
                prefill_ms[kind], (logits, caches[kind]) = _time_once(lambda m=model: m.prefill(prompt))
            token = logits.argmax(-1)
            for kind in ("hyena", "striped"):
                ours, base = models[kind], models["transformer"]
                c_ours, c_base = caches[kind], caches["transformer"]
                timing = time_interleaved(lambda: ours.step(token, c_ours), lambda: base.step(token, c_base), cfg,
                                          min_sample_s=0.0)
                note = f"cache {c_ours.nbytes() / 2**20:.1f} MiB vs {c_base.nbytes() / 2**20:.1f} MiB"
                records.append(_record("decode", kind, context, timing, 1, note))
                pre = Timing(prefill_ms[kind], prefill_ms["transformer"], 1)
                records.append(_record("prefill", kind, context, pre, context, "one run each"))
            del caches
    return records
