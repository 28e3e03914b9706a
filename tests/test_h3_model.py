"""H3LM (serengeti.models.h3): decoding against the parallel path, batch invariance, causality,
fixed-size H3 caches, the configs, and every official checkpoint format through load_model.

Tolerance for float32 logits: 2e-5 relative to max|logits| (FFT convolution and complex64 state
rounding over a few layers, ~1e-6 observed); bf16 models against the float32 model: 5e-2 relative
(bf16 unit roundoff 4e-3 through a few layers of d = 16 sums).
"""
from __future__ import annotations

import json
import math
from typing import Dict

import pytest
import torch

from helpers import one_thread
from serengeti.models import CheckpointError, load_model
from serengeti.models.h3 import FAMILY, PUBLISHED, H3Config, H3LM
from serengeti.nn.h3 import H3

F32_TOL = 2e-5


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny matmuls / layer norms on one torch thread: on the shared 2-core machine, torch's
    intra-op thread pool costs ~1 ms of synchronisation per tiny op (measured), 100x the op."""
    with one_thread():
        yield


def make_model(rotary: bool = False, seed: int = 0, **overrides) -> H3LM:
    """A tiny H3LM (layer 0 H3, layer 1 attention) with O(1) random weights, distinct LayerNorms
    (so a wrong norm rotation shows) and generic SSM parameters."""
    torch.manual_seed(seed)
    fields = {"attn_cfg": {"num_heads": 2, "rotary_emb_dim": 4 if rotary else 0}}
    fields.update(overrides)
    model = H3LM(H3Config.tiny(**fields)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm1.weight", "norm2.weight", "ln_f.weight")):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith(("norm1.bias", "norm2.bias", "ln_f.bias")):
                p.copy_(0.3 * torch.randn_like(p))
            elif name.endswith("word_embeddings.weight"):
                p.normal_()
            elif p.dim() == 2 and "kernel" not in name:      # Linear weights
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
            elif name.endswith("bias"):
                p.normal_(0.0, 0.1)
        for m in model.modules():
            if isinstance(m, H3):
                m.ssm_k_kernel.kernel.B.normal_()
                m.kernel.kernel.log_dt.uniform_(math.log(0.01), math.log(0.3))
                m.kernel.kernel.B.normal_()
    return model


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a.detach().double() - ref.detach().double()).abs().max() / ref.detach().abs().max())


def ids_for(model: H3LM, B: int, L: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.vocab_size, (B, L), generator=g)


# ----------------------------------------------------------------------------------------------
# Decoding, batch invariance, causality, cache size
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rotary", [False, True])
@pytest.mark.parametrize("style", [None, "fft", "scan"])
@pytest.mark.parametrize("prompt", [1, 2, 3, 127, 600])
def test_prefill_and_steps_match_forward(rotary, style, prompt):
    model = make_model(rotary)
    steps = 12
    ids = ids_for(model, 2, prompt + steps)
    with torch.no_grad():
        full = model(ids)
        logits, cache = model.prefill(ids[:, :prompt], prefill_style=style)
        got = [logits]
        for t in range(prompt, prompt + steps):
            got.append(model.step(ids[:, t], cache))
    assert cache.position == prompt + steps
    assert rel_err(torch.stack(got, 1), full[:, prompt - 1:]) < F32_TOL


def test_decoding_past_the_64_tap_shift_window():
    """d_state 64 (the released models): steps run well past the shift SSM's 64 taps."""
    model = make_model(ssm_cfg={"d_state": 64})
    ids = ids_for(model, 2, 80)
    with torch.no_grad():
        full = model(ids)
        for style in ("fft", "scan"):
            logits, cache = model.prefill(ids[:, :3], prefill_style=style)
            got = [logits] + [model.step(ids[:, t], cache) for t in range(3, 80)]
            assert rel_err(torch.stack(got, 1), full[:, 2:]) < F32_TOL


def test_batch_invariance():
    model = make_model(rotary=True)
    ids = ids_for(model, 3, 40)
    with torch.no_grad():
        batched = model(ids)
        _, cache = model.prefill(ids[:, :25])
        stepped = torch.stack([model.step(ids[:, t], cache) for t in range(25, 40)], 1)
        for b in range(3):
            alone = model(ids[b:b + 1])
            assert rel_err(batched[b:b + 1], alone) < F32_TOL
            _, c1 = model.prefill(ids[b:b + 1, :25])
            s1 = torch.stack([model.step(ids[b:b + 1, t], c1) for t in range(25, 40)], 1)
            assert rel_err(stepped[b:b + 1], s1) < F32_TOL


def test_causality():
    model = make_model(rotary=True)
    ids = ids_for(model, 1, 50)
    t = 31
    changed = ids.clone()
    changed[0, t] = (ids[0, t] + 1) % model.vocab_size
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert rel_err(b[:, :t], a[:, :t]) < 1e-6
    assert float((b[:, t:] - a[:, t:]).abs().amax(-1).min()) > 1e-4


def test_h3_caches_stay_fixed_over_50_generated_tokens():
    model = make_model(rotary=True)
    ids = ids_for(model, 2, 7)
    with torch.no_grad():
        logits, cache = model.prefill(ids)
        h3_layers = [i for i, blk in enumerate(model.blocks) if isinstance(blk.mixer, H3)]
        before = {i: cache.layers[i].nbytes() for i in h3_layers}
        attn_before = sum(cache.layers[i].nbytes() for i in range(len(model.blocks)) if i not in h3_layers)
        for _ in range(50):
            token = logits[:, : model.sample_vocab_size].argmax(-1)
            logits = model.step(token, cache)
    assert h3_layers and all(cache.layers[i].nbytes() == before[i] for i in h3_layers)
    assert sum(cache.layers[i].nbytes() for i in range(len(model.blocks)) if i not in h3_layers) > attn_before


# ----------------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------------

def test_published_configs_and_parameter_count():
    """The sizes of MODELS.md; H3-125M has the 126,387,456 parameters upstream's README prints."""
    table = {"h3-125m": (768, 12, 12, (6,), 0), "h3-355m": (1024, 24, 16, (8, 16), 0),
             "h3-1.3b": (2048, 24, 16, (8, 16), 0), "h3-2.7b": (2560, 32, 20, (8, 16, 24), 0),
             "h3-2.7b-rotary": (2560, 32, 20, (10, 21), 64)}
    assert set(PUBLISHED) == set(table)
    for name, (d, n, heads, attn, rot) in table.items():
        c = H3Config.published(name)
        assert (c.d_model, c.n_layer, c.attn_cfg["num_heads"], c.attn_layer_idx, c.attn_cfg["rotary_emb_dim"]) == \
            (d, n, heads, attn, rot)
        assert c.vocab_size == 50264 and c.sample_vocab_size == 50257 and c.d_inner == 4 * d
        assert c.ssm_cfg == {"head_dim": 1, "d_state": 64, "mode": "diag", "measure": "diag-lin"}
    with torch.device("meta"):
        model = H3LM(H3Config.published("h3-125m"), device="meta")
    assert model.num_parameters() == 126387456
    with pytest.raises(ValueError, match="name"):
        H3Config.published("h3-7b")


def test_config_from_dict_and_to_dict():
    c = H3Config.from_dict({"d_model": 32, "n_layer": 3, "vocab_size": 50257, "pad_vocab_size_multiple": 8,
                            "attn_layer_idx": [2, 0], "attn_cfg": {"num_heads": 4, "causal": True},
                            "ssm_cfg": {"d_state": 16, "lr": 1e-3}, "resid_dropout": 0.1})
    assert c.vocab_size == 50264 and c.sample_vocab_size == 50257 and c.d_inner == 128
    assert c.attn_layer_idx == (0, 2) and c.attn_cfg["rotary_emb_dim"] == 0
    assert c.ssm_cfg == {"head_dim": 1, "d_state": 16, "mode": "diag", "measure": "diag-lin"}
    assert H3Config.from_dict(c.to_dict()) == c
    assert H3Config.from_dict({"model": c.to_dict()}) == c
    assert H3LM(H3Config.tiny(vocab_size=100)).sample_vocab_size == 100


@pytest.mark.parametrize("fields, name", [
    ({"n_layer": 2, "vocab_size": 10}, "d_model"),
    ({"d_model": 8, "vocab_size": 10}, "n_layer"),
    ({"d_model": 8, "n_layer": 2}, "vocab_size"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "attn_layer_idx": [2], "attn_cfg": {"num_heads": 2}},
     "attn_layer_idx"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "attn_layer_idx": [1]}, "attn_cfg.num_heads"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "attn_layer_idx": [1], "attn_cfg": {"num_heads": 3}},
     "attn_cfg.num_heads"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "attn_layer_idx": [1],
      "attn_cfg": {"num_heads": 2, "rotary_emb_dim": 3}}, "attn_cfg.rotary_emb_dim"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"head_dim": 3}}, "ssm_cfg.head_dim"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"d_state": 9}}, "ssm_cfg.d_state"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"mode": "nplr"}}, "ssm_cfg.mode"),
    ({"d_model": 8, "n_layer": 2, "vocab_size": 10, "ssm_cfg": {"measure": "legs"}}, "ssm_cfg.measure"),
    ({"d_model": 8, "n_layer": 0, "vocab_size": 10}, "n_layer"),
])
def test_bad_configs_are_named(fields, name):
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        H3Config.from_dict(fields)


def test_config_inferred_from_published_shapes():
    """config_from_dict(None, keys) recovers every published config from shapes alone (meta
    tensors); the rotary model without inv_freq keys is recognised by its attention layers."""
    for name in PUBLISHED:
        with torch.device("meta"):
            sd = H3LM(H3Config.published(name), device="meta").state_dict()
        assert FAMILY.config_from_dict(None, sd) == H3Config.published(name)
        stripped = {k: v for k, v in sd.items() if not k.endswith("rotary_emb.inv_freq")}
        assert FAMILY.config_from_dict(None, stripped) == H3Config.published(name)


def test_config_contradicting_the_checkpoint_is_named():
    sd = make_model(rotary=True).state_dict()
    base = {"attn_cfg": {"num_heads": 2}}
    assert FAMILY.config_from_dict(base, sd) == make_model(rotary=True).config
    for extra, name in [({"n_layer": 3}, "n_layer"), ({"d_model": 32}, "d_model"), ({"d_inner": 64}, "d_inner"),
                        ({"vocab_size": 65}, "vocab_size"), ({"attn_layer_idx": [0]}, "attn_layer_idx"),
                        ({"ssm_cfg": {"d_state": 64}}, "ssm_cfg.d_state"),
                        ({"ssm_cfg": {"head_dim": 2}}, "ssm_cfg.head_dim"),
                        ({"attn_cfg": {"num_heads": 2, "rotary_emb_dim": 0}}, "attn_cfg.rotary_emb_dim")]:
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):
            FAMILY.config_from_dict({**base, **extra}, sd)
    with pytest.raises(ValueError, match=r"attn_cfg\.num_heads"):
        FAMILY.config_from_dict(None, sd)


# ----------------------------------------------------------------------------------------------
# Checkpoint formats through load_model
# ----------------------------------------------------------------------------------------------

CONFIG = {"attn_cfg": {"num_heads": 2}}


def legacy_state_dict(sd: Dict[str, torch.Tensor], n_layer: int, ln0_name: str) -> Dict[str, torch.Tensor]:
    """The inverse of the legacy mapping: post-norm names (norms rotated back), s4seq.encoder.
    prefix, top-level embedding., ln_0 stored under ``ln0_name`` ("norm" or "ln_0"); no lm_head."""
    norm_keys = {k for k in sd if k.startswith("backbone.ln_f.") or ".norm1." in k or ".norm2." in k}
    out = {k: v for k, v in sd.items() if k not in norm_keys and k != "lm_head.weight"}
    for s in ("weight", "bias"):
        out[f"backbone.{ln0_name}.{s}"] = sd[f"backbone.layers.0.norm1.{s}"]
        for l in range(n_layer):
            out[f"backbone.layers.{l}.norm1.{s}"] = sd[f"backbone.layers.{l}.norm2.{s}"]
            out[f"backbone.layers.{l}.norm2.{s}"] = (sd[f"backbone.layers.{l + 1}.norm1.{s}"] if l + 1 < n_layer
                                                     else sd[f"backbone.ln_f.{s}"])
    renamed = {}
    for k, v in out.items():
        if k.startswith("backbone.embeddings.word_embeddings."):
            k = "embedding." + k[len("backbone.embeddings.word_embeddings."):]
        elif k.startswith("backbone."):
            k = "s4seq.encoder." + k[len("backbone."):]
        renamed[k] = v
    return renamed


def lightning(sd: Dict[str, torch.Tensor]) -> dict:
    return {"state_dict": {"model." + k: v for k, v in sd.items()}, "pytorch-lightning_version": "1.8.6",
            "epoch": 3, "global_step": 1000}


def check_loaded(model: H3LM, loaded: H3LM) -> None:
    ids = ids_for(model, 2, 33)
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))
    assert loaded.config == model.config
    assert loaded.lm_head.weight is loaded.backbone.embeddings.word_embeddings.weight


@pytest.mark.parametrize("rotary", [False, True])
def test_plain_state_dict_with_config_json(tmp_path, rotary):
    model = make_model(rotary)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "config.json").write_text(json.dumps(model.config.to_dict()))
    check_loaded(model, load_model(tmp_path / "model.pt", arch="h3"))


def test_lightning_checkpoint(tmp_path):
    model = make_model(rotary=True)
    torch.save(lightning(model.state_dict()), tmp_path / "last.ckpt")
    check_loaded(model, load_model(tmp_path / "last.ckpt", arch="h3", config=CONFIG))


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("ln0_name", ["norm", "ln_0"])
def test_legacy_checkpoint_with_norm_rotation(tmp_path, wrap, ln0_name):
    model = make_model(rotary=False)
    legacy = legacy_state_dict(model.state_dict(), model.config.n_layer, ln0_name)
    assert FAMILY.detect(legacy)
    torch.save(lightning(legacy) if wrap else legacy, tmp_path / "model.pt")
    check_loaded(model, load_model(tmp_path / "model.pt", arch="h3", config=CONFIG))


def test_normalize_errors_and_warnings():
    model = make_model()
    legacy = legacy_state_dict(model.state_dict(), model.config.n_layer, "norm")
    broken = {k: v for k, v in legacy.items() if k != "s4seq.encoder.layers.1.norm2.bias"}
    with pytest.raises(ValueError, match=r"backbone\.layers\.1\.norm2\.bias"):
        FAMILY.normalize(broken)
    both = dict(legacy)
    both["s4seq.encoder.ln_0.weight"] = legacy["s4seq.encoder.norm.weight"]
    with pytest.raises(ValueError, match=r"backbone\.ln_0\.weight"):
        FAMILY.normalize(both)
    extra = {"model." + k: v for k, v in model.state_dict().items()}
    extra["loss_scale"] = torch.ones(1)
    with pytest.warns(UserWarning, match="loss_scale"):
        out = FAMILY.normalize(extra)
    assert set(out) == set(model.state_dict())


def test_detect():
    sd = make_model().state_dict()
    assert FAMILY.detect(sd) and FAMILY.detect(["model." + k for k in sd])
    hyena_like = ["backbone.embeddings.word_embeddings.weight", "backbone.layers.0.mixer.in_proj.weight",
                  "backbone.layers.0.mixer.filter_fn.bias", "backbone.layers.0.mlp.fc1.weight"]
    striped_like = ["embedding_layer.weight", "blocks.0.filter.poles", "blocks.1.inner_mha_cls.Wqkv.weight"]
    assert not FAMILY.detect(hyena_like) and not FAMILY.detect(striped_like)


def test_load_model_detects_h3(tmp_path):
    model = make_model()
    torch.save(lightning(model.state_dict()), tmp_path / "model.pt")
    check_loaded(model, load_model(tmp_path / "model.pt", config=CONFIG))


def test_rotary_inv_freq_may_be_absent(tmp_path):
    model = make_model(rotary=True)
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("inv_freq") and k != "lm_head.weight"}
    torch.save(sd, tmp_path / "model.pt")
    cfg = {"attn_cfg": {"num_heads": 2, "rotary_emb_dim": 4}}
    check_loaded(model, load_model(tmp_path / "model.pt", arch="h3", config=cfg))


def test_missing_ssm_key_is_reported(tmp_path):
    model = make_model()
    sd = {k: v for k, v in model.state_dict().items() if k != "backbone.layers.0.mixer.kernel.kernel.A_imag"}
    torch.save(sd, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"kernel\.kernel\.A_imag"):
        load_model(tmp_path / "model.pt", arch="h3", config=CONFIG)


def test_bf16_load_keeps_ssm_parameters_float32(tmp_path):
    model = make_model(rotary=True)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt", arch="h3", config=CONFIG, dtype=torch.bfloat16)
    for name, t in list(loaded.named_parameters()) + list(loaded.named_buffers()):
        want = torch.float32 if FAMILY.keep_float32(name) else torch.bfloat16
        assert t.dtype == want, name
    ssm = [n for n, _ in loaded.named_parameters() if FAMILY.keep_float32(n)]
    assert {n.split("mixer.")[1] for n in ssm} == {
        "D", "ssm_k_D", "ssm_k_kernel.kernel.B", "ssm_k_kernel.kernel.C", "kernel.kernel.log_dt",
        "kernel.kernel.inv_A_real", "kernel.kernel.A_imag", "kernel.kernel.B", "kernel.kernel.C"}
    ids = ids_for(model, 2, 20)
    with torch.no_grad():
        ref = model(ids)
        out = loaded(ids)
        logits, cache = loaded.prefill(ids[:, :10])
        steps = torch.stack([logits] + [loaded.step(ids[:, t], cache) for t in range(10, 20)], 1)
    assert out.dtype == torch.bfloat16
    assert rel_err(out, ref) < 5e-2 and rel_err(steps, ref[:, 9:]) < 5e-2


def test_optional_keys():
    cfg = make_model(rotary=True).config
    opt = FAMILY.optional_keys(cfg)
    assert opt["lm_head.weight"]() is None
    inv = opt["backbone.layers.1.mixer.rotary_emb.inv_freq"]()
    assert inv.dtype == torch.float32 and torch.allclose(inv, 10000.0 ** (-torch.arange(0, 4, 2) / 4))
    assert set(FAMILY.optional_keys(make_model(rotary=False).config)) == {"lm_head.weight"}
