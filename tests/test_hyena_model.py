"""HyenaLM and the safari checkpoint family: decoding equals the parallel path, batch invariance,
causality, the l_max limit and distilled decoding past it, configs, and safari-format checkpoints
written key for key (MODELS.md) loading through serengeti.load_model (plain and Lightning).

Tolerances: logits of a float32 tiny model through different summation orders agree to 1e-4
absolute (O(1) logits, ~1e-6 relative per op, a few dozen ops deep).
"""
from __future__ import annotations

import warnings

import pytest
import torch

import serengeti
from serengeti.models.checkpoint import CheckpointError, load_model
from serengeti.models.hyena import FAMILY, HyenaConfig, HyenaLM
from serengeti.nn.attention import Attention
from serengeti.nn.hyena import HyenaOperator

ATOL = 1e-4


def _tiny(seed: int = 0, **overrides) -> HyenaLM:
    torch.manual_seed(seed)
    model = HyenaLM(HyenaConfig.tiny(**overrides)).eval()
    # safari's init (N(0, 0.02) filter MLPs) makes near-constant filters; give the filters and
    # the short convs some structure so decoding bugs show.
    with torch.no_grad():
        for _, m in model.hyena_layers():
            for layer in m.filter_fn.implicit_filter:
                if isinstance(layer, torch.nn.Linear):
                    layer.weight.normal_(0.0, 0.5)
            m.filter_fn.bias.normal_()
    return model


def _decode(model, ids: torch.Tensor, prompt: int, style=None) -> torch.Tensor:
    """Logits (B, L - prompt + 1, V): the prefill's last position, then one step per token."""
    logits, cache = model.prefill(ids[:, :prompt], prefill_style=style)
    out = [logits]
    for t in range(prompt, ids.shape[1]):
        out.append(model.step(ids[:, t], cache))
    assert cache.position == ids.shape[1]
    return torch.stack(out, dim=1)


@pytest.fixture(scope="module")
def model() -> HyenaLM:
    return _tiny(attn_layer_idx=[1], attn_cfg={"num_heads": 4, "rotary_emb_dim": 4}, n_layer=3, l_max=160)


@pytest.mark.parametrize("prompt", [1, 2, 3, 127])
def test_prefill_step_equals_forward(model, prompt):
    torch.manual_seed(prompt)
    ids = torch.randint(0, 64, (2, prompt + 6))
    with torch.no_grad():
        want = model(ids)[:, prompt - 1:]
    torch.testing.assert_close(_decode(model, ids, prompt), want, rtol=0, atol=ATOL)


def test_long_prompt_up_to_l_max_then_clear_error(model):
    ids = torch.randint(0, 64, (1, 160))
    with torch.no_grad():
        want = model(ids)[:, 149:]
    torch.testing.assert_close(_decode(model, ids, 150), want, rtol=0, atol=ATOL)
    _, cache = model.prefill(ids)
    with pytest.raises(ValueError, match=r"l_max=160.*distill"):
        model.step(ids[:, 0], cache)
    with pytest.raises(ValueError, match="l_max"):
        model(torch.randint(0, 64, (1, 161)))


def test_batch_invariance(model):
    ids = torch.randint(0, 64, (3, 24))
    with torch.no_grad():
        full = model(ids)
        alone = model(ids[1:2])
    torch.testing.assert_close(full[1:2], alone, rtol=0, atol=1e-5)
    dec = _decode(model, ids, 10)
    torch.testing.assert_close(dec[1:2], _decode(model, ids[1:2], 10), rtol=0, atol=1e-5)


def test_causality(model):
    ids = torch.randint(0, 64, (1, 30))
    other = ids.clone()
    other[0, 17] = (ids[0, 17] + 1) % 64
    with torch.no_grad():
        a, b = model(ids), model(other)
    torch.testing.assert_close(a[:, :17], b[:, :17], rtol=0, atol=0)
    assert (a[:, 17] - b[:, 17]).abs().max() > 1e-4


def test_distilled_model_decodes_past_l_max():
    m = _tiny(l_max=64)
    reports = m.distill(8, use_in_forward=True)
    assert sorted(reports) == [0, 1]
    for r in reports.values():
        assert r.rel_error.shape == (1, 32) and 0 <= r.max_rel_error < 1
    assert m.prefill_styles == ("fft", "scan")
    ids = torch.randint(0, 64, (2, 90))                  # past l_max = 64
    with torch.no_grad():
        want = m(ids)[:, 29:]
    for style in ("fft", "scan"):
        torch.testing.assert_close(_decode(m, ids, 30, style), want, rtol=0, atol=ATOL)
    # the exact forward is still available and differs by the fit error only
    m.clear_distillation()
    with pytest.raises(ValueError, match="l_max"):
        m(ids)


def test_greedy_generation_past_l_max_on_a_distilled_model():
    m = _tiny(l_max=32)
    m.distill(4, use_in_forward=True)
    prompt = torch.randint(0, 64, (2, 30))
    out = m.generate(prompt, max_new_tokens=8, temperature=0.0)
    assert out.shape == (2, 38) and torch.equal(out[:, :30], prompt)
    with torch.no_grad():
        logits = m(out)                                  # the distilled forward, 38 > l_max = 32
    torch.testing.assert_close(out[:, 30:], logits[:, 29:37].argmax(-1), rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------------

def test_published_config_and_meta_build():
    cfg = HyenaConfig.published("hyena-small-150b")
    assert (cfg.d_model, cfg.n_layer, cfg.d_inner, cfg.padded_vocab_size, cfg.sample_vocab_size) == \
        (864, 18, 1728, 50264, 50257)
    assert (cfg.layer.l_max, cfg.layer.emb_dim, cfg.layer.filter_order, cfg.layer.order) == (2048, 33, 64, 2)
    assert cfg.layer.modulate is False and cfg.attn_layer_idx == ()
    with torch.device("meta"):
        m = FAMILY.build(cfg, torch.bfloat16, torch.device("meta"))
    sd = m.state_dict()
    p = "backbone.layers.5.mixer."
    assert tuple(sd[p + "in_proj.weight"].shape) == (3 * 864, 864)
    assert tuple(sd[p + "short_filter.weight"].shape) == (3 * 864, 1, 3)
    assert tuple(sd[p + "filter_fn.pos_emb.z"].shape) == (1, 2048, 33)
    assert tuple(sd[p + "filter_fn.implicit_filter.6.weight"].shape) == (864, 64)
    assert tuple(sd["backbone.embeddings.word_embeddings.weight"].shape) == (50264, 864)
    assert sd[p + "filter_fn.implicit_filter.0.weight"].dtype == torch.float32
    assert sd[p + "in_proj.weight"].dtype == torch.bfloat16
    assert m.sample_vocab_size == 50257


def test_from_dict_nesting_unknown_keys_and_missing_fields():
    section = {"_name_": "lm", "d_model": 32, "n_layer": 2, "d_inner": 64, "vocab_size": 50, "embed_dropout": 0.1,
               "pad_vocab_size_multiple": 8,
               "layer": {"_name_": "hyena", "l_max": 64, "emb_dim": 5, "filter_order": 16, "local_order": 3,
                         "modulate": True, "w": 14, "fused_fft_conv": True, "lr": 6e-4}}
    a = HyenaConfig.from_dict(section)
    assert HyenaConfig.from_dict({"model": section}) == a            # experiment yml
    assert HyenaConfig.from_dict({"model_config": section}) == a     # eval yml
    assert a.padded_vocab_size == 56 and a.layer.w == 14.0 and a.layer.modulate is True
    assert HyenaConfig.from_dict(a.to_dict()) == a
    with pytest.raises(ValueError, match="n_layer"):
        HyenaConfig.from_dict({"d_model": 8, "vocab_size": 10, "layer": {"l_max": 8}})
    with pytest.raises(ValueError, match="layer.l_max"):
        HyenaConfig.from_dict({"d_model": 8, "n_layer": 1, "vocab_size": 10, "layer": {"order": 2}})
    with pytest.raises(ValueError, match="layer.num_heads"):
        HyenaConfig.from_dict({**section, "layer": {**section["layer"], "num_heads": 2}})
    with pytest.raises(ValueError, match="attn_cfg.num_heads"):
        HyenaConfig.from_dict({**section, "attn_layer_idx": [1]})


# ----------------------------------------------------------------------------------------------
# safari checkpoints
# ----------------------------------------------------------------------------------------------

def _safari_state_dict(d=16, n_layer=2, d_inner=48, vocab=40, l_max=48, emb=5, width=8, attn=()):
    """A state dict with exactly the keys MODELS.md lists for safari's Hyena LM (random values)."""
    g = torch.Generator().manual_seed(7)

    def r(*shape, scale=0.3):
        return torch.randn(*shape, generator=g) * scale

    sd = {"backbone.embeddings.word_embeddings.weight": r(vocab, d),
          "backbone.ln_f.weight": 1 + r(d, scale=0.1), "backbone.ln_f.bias": r(d, scale=0.1)}
    for i in range(n_layer):
        p = f"backbone.layers.{i}."
        for n in ("norm1", "norm2"):
            sd[p + n + ".weight"], sd[p + n + ".bias"] = 1 + r(d, scale=0.1), r(d, scale=0.1)
        sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"] = r(d_inner, d), r(d_inner)
        sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"] = r(d, d_inner), r(d)
        m = p + "mixer."
        if i in attn:
            sd[m + "Wqkv.weight"], sd[m + "Wqkv.bias"] = r(3 * d, d), r(3 * d)
            sd[m + "out_proj.weight"], sd[m + "out_proj.bias"] = r(d, d), r(d)
            continue
        sd[m + "in_proj.weight"], sd[m + "in_proj.bias"] = r(3 * d, d), r(3 * d)
        sd[m + "out_proj.weight"], sd[m + "out_proj.bias"] = r(d, d), r(d)
        sd[m + "short_filter.weight"], sd[m + "short_filter.bias"] = r(3 * d, 1, 3), r(3 * d)
        f = m + "filter_fn."
        sd[f + "bias"] = r(d)
        sd[f + "pos_emb.z"] = r(1, l_max, emb, scale=1.0)
        sd[f + "pos_emb.t"] = torch.linspace(0, 1, l_max)[None, :, None]
        sd[f + "implicit_filter.0.weight"], sd[f + "implicit_filter.0.bias"] = r(width, emb, scale=1.0), r(width)
        freq = 1 + r(1, width, scale=0.2)
        for j in (1, 3, 5):
            sd[f + f"implicit_filter.{j}.freq"] = freq.clone()
        for j in (2, 4):
            sd[f + f"implicit_filter.{j}.weight"] = r(width, width, scale=1.0)
            sd[f + f"implicit_filter.{j}.bias"] = r(width)
        sd[f + "implicit_filter.6.weight"] = r(d, width, scale=1.0)
        sd[f + "modulation.deltas"] = -r(1, 1, d, scale=1.0).abs() - 1
    return sd


def test_safari_checkpoint_loads_key_for_key(tmp_path):
    sd = _safari_state_dict()
    torch.save(sd, tmp_path / "model.pt")
    model = load_model(tmp_path / "model.pt")
    assert isinstance(model, HyenaLM) and not model.training
    cfg = model.config
    assert (cfg.d_model, cfg.n_layer, cfg.d_inner, cfg.padded_vocab_size) == (16, 2, 48, 40)
    assert (cfg.layer.l_max, cfg.layer.emb_dim, cfg.layer.filter_order, cfg.layer.order) == (48, 5, 8, 2)
    assert cfg.layer.modulate is False                     # the eval config's default
    got = model.state_dict()
    for k, v in sd.items():
        assert torch.equal(got[k], v), k
    assert model.lm_head.weight is model.backbone.embeddings.word_embeddings.weight
    ids = torch.randint(0, 40, (2, 20))
    with torch.no_grad():
        want = model(ids)[:, 9:]
    torch.testing.assert_close(_decode(model, ids, 10), want, rtol=0, atol=ATOL)


def test_lightning_checkpoint_with_yml_config_sets_modulate(tmp_path):
    sd = _safari_state_dict(attn=(1,))
    wrapped = {"pytorch-lightning_version": "1.8.6", "epoch": 1,
               "state_dict": {"model." + k: v for k, v in sd.items()}}
    torch.save(wrapped, tmp_path / "last.ckpt")
    yml = tmp_path / "config.yml"
    yml.write_text("model:\n  _name_: lm\n  d_model: 16\n  n_layer: 2\n  d_inner: '${eval: 3*${.d_model}}'\n"
                   "  vocab_size: 37\n  pad_vocab_size_multiple: 8\n  attn_layer_idx: [1]\n"
                   "  attn_cfg:\n    num_heads: 2\n  layer:\n    _name_: hyena\n    l_max: ${dataset.max_length}\n"
                   "    emb_dim: 5\n    filter_order: 8\n    modulate: True\n    w: 14\n")
    model = load_model(tmp_path / "last.ckpt", config=yml, trust_checkpoint=True)
    assert model.config.vocab_size == 37 and model.sample_vocab_size == 37 and model.vocab_size == 40
    assert model.config.layer.modulate is True and model.config.layer.l_max == 48
    assert isinstance(model.blocks[1].mixer, Attention) and isinstance(model.blocks[0].mixer, HyenaOperator)
    assert model.blocks[0].mixer.filter_fn.modulation.modulate is True
    plain = load_model(tmp_path / "last.ckpt", config={"attn_cfg": {"num_heads": 2}}, trust_checkpoint=True)
    assert plain.blocks[0].mixer.filter_fn.modulation.modulate is False
    ids = torch.randint(0, 37, (1, 16))
    with torch.no_grad():
        a, b = model(ids), plain(ids)
    assert (a - b).abs().max() > 1e-3                    # the flag changes the filter
    torch.testing.assert_close(_decode(model, ids, 5), a[:, 4:], rtol=0, atol=ATOL)


def test_checkpoint_dtype_policy_and_errors(tmp_path):
    sd = _safari_state_dict()
    torch.save(sd, tmp_path / "model.pt")
    model = load_model(tmp_path / "model.pt", dtype=torch.bfloat16)
    for name, t in model.state_dict().items():
        want = torch.float32 if ".mixer.filter_fn." in name else torch.bfloat16
        assert t.dtype == want, name
    with torch.no_grad():
        assert model(torch.randint(0, 40, (1, 12))).dtype == torch.bfloat16
    broken = dict(sd)
    del broken["backbone.layers.1.mixer.filter_fn.implicit_filter.3.freq"]
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="implicit_filter.3.freq"):
        load_model(tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="d_model"):
        load_model(tmp_path / "model.pt", config={"d_model": 32})


def test_family_hooks():
    sd = _safari_state_dict()
    assert FAMILY.arch == "hyena" and FAMILY.detect(list(sd)) and FAMILY.detect(["model." + k for k in sd])
    assert not FAMILY.detect(["backbone.layers.0.mixer.q_proj.weight", "blocks.0.filter.poles"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        norm = FAMILY.normalize({"model." + k: v for k, v in sd.items()} | {"optimizer_junk": torch.zeros(1)})
    assert set(norm) == set(sd)
    with pytest.raises(ValueError, match="backbone"):
        FAMILY.normalize({"encoder.layers.0.mixer.filter_fn.bias": torch.zeros(1)})
    assert FAMILY.keep_float32("backbone.layers.0.mixer.filter_fn.pos_emb.z")
    assert not FAMILY.keep_float32("backbone.layers.0.mixer.in_proj.weight")
    cfg = HyenaConfig.tiny(attn_layer_idx=[1], attn_cfg={"num_heads": 2, "rotary_emb_dim": 8})
    opt = FAMILY.optional_keys(cfg)
    assert opt["lm_head.weight"]() is None
    inv = opt["backbone.layers.1.mixer.rotary_emb.inv_freq"]()
    torch.testing.assert_close(inv, 1.0 / 10000.0 ** (torch.arange(0, 8, 2).float() / 8))
    assert serengeti.models.checkpoint.detect_arch(list(sd)) == "hyena"
