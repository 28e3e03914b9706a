"""StripedHyena config and checkpoint family: the standalone (.bin) and HF (sharded safetensors,
'backbone.' prefix) formats round-trip through serengeti.load_model, with or without a config."""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from safetensors.torch import save_file

import serengeti
from helpers import one_thread
from serengeti.models.checkpoint import CheckpointError, load_model
from serengeti.models.striped_hyena import (FAMILY, PUBLISHED, StripedHyenaConfig, StripedHyenaLM,
                                            config_from_dict, transformer_like)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny shapes: one thread each for torch and the kernels (the test machine's cores are shared)."""
    with one_thread(kernels=True):
        yield


def _model(seed: int = 0, **overrides) -> StripedHyenaLM:
    torch.manual_seed(seed)
    cfg = StripedHyenaConfig.tiny(rotary_emb_base=5000.0, **overrides)
    model = StripedHyenaLM(cfg).eval()
    with torch.no_grad():  # norm scales away from 1 so a swapped norm would show
        for name, p in model.named_parameters():
            if name.endswith("scale"):
                p.add_(0.3 * torch.randn_like(p))
    return model


def _ids(vocab: int) -> torch.Tensor:
    return torch.randint(0, vocab, (2, 24), generator=torch.Generator().manual_seed(1))


def _yml_text(cfg: StripedHyenaConfig) -> str:
    """A config in the published yml's style: comments, unknown keys, hyena_layer_idxs one too long."""
    fields = cfg.to_dict()
    fields["hyena_layer_idxs"] = fields["hyena_layer_idxs"] + [cfg.num_layers]
    fields.update(model_name="tiny-sh", use_flash_attn=True, tokenizer_type="HFAutoTokenizer")
    return "# StripedHyena test config\n" + yaml.safe_dump(fields)


def _assert_same_model(loaded, model, ids, dtype=torch.float32):
    assert isinstance(loaded, StripedHyenaLM)
    assert loaded.config == model.config
    want = model.state_dict()
    got = loaded.state_dict()
    assert sorted(got) == sorted(want)
    for k in want:
        keep = k.endswith(("filter.poles", "filter.residues", "rotary_emb.inv_freq"))
        assert got[k].dtype == (torch.float32 if keep else dtype), k
        torch.testing.assert_close(got[k].float(), want[k].float().to(got[k].dtype).float(), atol=0, rtol=0)
    if dtype == torch.float32:
        with torch.no_grad():
            torch.testing.assert_close(loaded(ids), model(ids), atol=0, rtol=0)


# ----------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------

def test_published_configs():
    for name in ("stripedhyena-hessian-7b", "stripedhyena-nous-7b"):
        cfg = StripedHyenaConfig.published(name)
        assert (cfg.hidden_size, cfg.num_layers, cfg.vocab_size, cfg.inner_mlp_size) == (4096, 32, 32000, 14336)
        assert (cfg.num_attention_heads, cfg.num_kv_heads, cfg.head_dim, cfg.state_size) == (32, 8, 128, 2)
        assert cfg.attn_layer_idxs == tuple(range(1, 32, 2)) and cfg.hyena_layer_idxs == tuple(range(0, 32, 2))
        assert cfg.rotary_emb_base == 500000 and cfg.eps == 1e-5 and not cfg.tie_embeddings
    with pytest.raises(ValueError, match="name"):
        StripedHyenaConfig.published("stripedhyena-13b")


def test_config_from_dict_and_to_dict():
    cfg = StripedHyenaConfig.tiny()
    assert StripedHyenaConfig.from_dict(cfg.to_dict()) == cfg
    assert StripedHyenaConfig.from_dict(yaml.safe_load(_yml_text(cfg))) == cfg  # unknown keys ignored
    # the 7B yml lists hyena layer 32 of 32; HF's config.json carries transformers' default
    # tie_word_embeddings=true beside tie_embeddings=false: the latter is the model's
    d = dict(PUBLISHED["stripedhyena-hessian-7b"], hyena_layer_idxs=list(range(0, 33, 2)), tie_word_embeddings=True)
    assert StripedHyenaConfig.from_dict(d) == StripedHyenaConfig.published("stripedhyena-hessian-7b")
    assert StripedHyenaConfig.from_dict(d).tie_embeddings is False
    # reference default MLP width: 8d/3 rounded up to inner_size_multiple_of
    assert StripedHyenaConfig(hidden_size=96, num_layers=1, vocab_size=8, num_attention_heads=4).inner_mlp_size == 256
    with pytest.raises(ValueError, match=r"num_attention_heads"):
        StripedHyenaConfig.from_dict({"hidden_size": 32, "num_layers": 2, "vocab_size": 10})
    with pytest.raises(ValueError, match="proj_groups"):
        StripedHyenaConfig.tiny(proj_groups=3)
    with pytest.raises(ValueError, match="attn_layer_idxs"):
        StripedHyenaConfig.tiny(attn_layer_idxs=(1, 4))
    with pytest.raises(ValueError, match="hyena_layer_idxs"):
        StripedHyenaConfig.tiny(attn_layer_idxs=(1,), hyena_layer_idxs=(0, 1, 2, 3))
    with pytest.raises(ValueError, match="neither"):
        StripedHyenaConfig.tiny(attn_layer_idxs=(1,), hyena_layer_idxs=(0, 2))
    with pytest.raises(ValueError, match="hyena_filter_groups"):
        StripedHyenaConfig.tiny(hyena_filter_groups=4)
    with pytest.raises(ValueError, match="prefill_style"):
        StripedHyenaConfig.tiny(prefill_style="chunked")


def test_transformer_like():
    cfg = transformer_like(StripedHyenaConfig.published("stripedhyena-hessian-7b"))
    assert cfg.attn_layer_idxs == tuple(range(32)) and cfg.hyena_layer_idxs == ()
    assert cfg.hidden_size == 4096 and cfg.num_kv_heads == 8
    with torch.device("meta"):
        model = FAMILY.build(cfg, torch.bfloat16, torch.device("meta"))
    assert not any(k.endswith("filter.poles") for k in model.state_dict())


def test_7b_builds_on_meta_with_the_published_keys():
    cfg = StripedHyenaConfig.published("stripedhyena-hessian-7b")
    with torch.device("meta"):
        model = FAMILY.build(cfg, torch.bfloat16, torch.device("meta"))
    sd = model.state_dict()
    assert sd["blocks.0.filter.poles"].shape == (4096, 2, 1, 2) and sd["blocks.0.filter.poles"].dtype == torch.float32
    assert sd["blocks.0.filter.residues"].dtype == torch.float32
    assert sd["blocks.0.filter.short_filter_weight"].shape == (3 * 4096, 1, 3)
    assert sd["blocks.0.filter.D"].dtype == torch.bfloat16
    assert sd["blocks.1.inner_mha_cls.Wqkv.weight"].shape == (4096 + 2 * 1024, 4096)
    assert "blocks.1.inner_mha_cls.Wqkv.bias" not in sd and "blocks.1.inner_mha_cls.out_proj.bias" not in sd
    assert sd["blocks.1.inner_mha_cls.rotary_emb.inv_freq"].shape == (64,)
    assert sd["unembed.weight"].shape == (32000, 4096) and sd["norm.scale"].dtype == torch.bfloat16
    assert 7.5e9 < model.num_parameters() < 7.8e9
    # everything about the 7B follows from its keys and shapes alone
    assert config_from_dict(None, sd) == cfg


def test_detect_and_normalize():
    keys = ["embedding_layer.weight", "blocks.0.filter.poles", "norm.scale"]
    assert FAMILY.detect(keys) and FAMILY.detect(["backbone." + k for k in keys])
    assert not FAMILY.detect(["backbone.embeddings.word_embeddings.weight", "backbone.layers.0.mixer.D"])
    t = torch.zeros(1)
    assert FAMILY.normalize({"backbone.norm.scale": t, "unembed.weight": t}) == {"norm.scale": t, "unembed.weight": t}
    with pytest.raises(ValueError, match="norm.scale"):
        FAMILY.normalize({"backbone.norm.scale": t, "norm.scale": t})
    assert FAMILY.keep_float32("blocks.4.filter.poles") and FAMILY.keep_float32("blocks.4.filter.residues")
    assert not FAMILY.keep_float32("blocks.4.filter.D")
    # 16-bit rotary frequencies are dropped (recomputed in float32 from the base), float32 ones kept
    inv = torch.ones(4)
    got = FAMILY.normalize({"blocks.1.inner_mha_cls.rotary_emb.inv_freq": inv.bfloat16(),
                            "blocks.3.inner_mha_cls.rotary_emb.inv_freq": inv})
    assert list(got) == ["blocks.3.inner_mha_cls.rotary_emb.inv_freq"]


# ----------------------------------------------------------------------------------------------
# Checkpoints through serengeti.load_model
# ----------------------------------------------------------------------------------------------

def test_standalone_checkpoint_without_config(tmp_path):
    """A plain state dict with MODELS.md's keys: every field follows from keys and shapes (heads
    from the rotary width, kv heads from Wqkv, the base from the float32 inv_freq)."""
    model = _model()
    path = tmp_path / "pytorch-model.bin"
    torch.save(model.state_dict(), path)
    loaded = serengeti.load_model(path)
    _assert_same_model(loaded, model, _ids(model.vocab_size))


def test_standalone_checkpoint_with_yml_beside_it(tmp_path):
    model = _model(column_split_hyena=False, short_filter_bias=False, state_size=3)
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("inv_freq")}  # optional
    torch.save(sd, tmp_path / "pytorch-model.bin")
    (tmp_path / "config.yml").write_text(_yml_text(model.config))
    loaded = serengeti.load_model(tmp_path / "pytorch-model.bin")
    _assert_same_model(loaded, model, _ids(model.vocab_size))
    # and given explicitly, as a path or a mapping, without the file beside it
    (tmp_path / "config.yml").rename(tmp_path / "sh.yml")
    _assert_same_model(load_model(tmp_path / "pytorch-model.bin", config=tmp_path / "sh.yml"), model,
                       _ids(model.vocab_size))
    _assert_same_model(load_model(tmp_path / "pytorch-model.bin", config=model.config.to_dict()), model,
                       _ids(model.vocab_size))


def _write_hf(directory, model: StripedHyenaLM, shards: int = 3) -> None:
    sd = {"backbone." + k: v.contiguous() for k, v in model.state_dict().items()}
    names = sorted(sd)
    weight_map = {}
    for s in range(shards):
        shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = names[s::shards]
        save_file({k: sd[k] for k in part}, str(directory / shard), metadata={"format": "pt"})
        weight_map.update({k: shard for k in part})
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    config = dict(model.config.to_dict(), model_type="stripedhyena", architectures=["StripedHyenaModelForCausalLM"],
                  torch_dtype="float32", use_cache=True)
    config["tie_word_embeddings"] = True  # transformers' default, written by the published config.json too
    (directory / "config.json").write_text(json.dumps(config))


def test_hf_directory_roundtrip(tmp_path):
    model = _model(seed=3)
    _write_hf(tmp_path, model)
    ids = _ids(model.vocab_size)
    _assert_same_model(load_model(tmp_path), model, ids)
    bf16 = load_model(tmp_path, dtype=torch.bfloat16)
    _assert_same_model(bf16, model, ids, dtype=torch.bfloat16)
    with torch.no_grad():
        want, got = model(ids), bf16(ids)
    assert ((got.double() - want.double()).norm() / want.double().norm()).item() < 0.05


def test_tied_embeddings_checkpoint(tmp_path):
    model = _model(seed=4, tie_embeddings=True)
    sd = {k: v for k, v in model.state_dict().items() if k != "unembed.weight"}
    torch.save(sd, tmp_path / "pytorch-model.bin")
    loaded = load_model(tmp_path / "pytorch-model.bin")
    assert loaded.config.tie_embeddings and loaded.unembed.weight is loaded.embedding_layer.weight
    _assert_same_model(loaded, model, _ids(model.vocab_size))


def test_checkpoint_errors(tmp_path):
    model = _model(seed=5)
    sd = model.state_dict()
    broken = {k: v for k, v in sd.items() if k != "blocks.0.filter.D"}
    broken["blocks.0.filter.extra"] = torch.zeros(1)
    broken["blocks.2.filter.poles"] = torch.zeros(32, 3, 1, 2)
    torch.save(broken, tmp_path / "broken.bin")
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path / "broken.bin", config=model.config.to_dict())
    msg = str(err.value)
    assert "blocks.0.filter.D" in msg and "blocks.0.filter.extra" in msg and "blocks.2.filter.poles" in msg
    # a config that disagrees with the shapes names the field
    torch.save(sd, tmp_path / "ok.bin")
    with pytest.raises(ValueError, match="hidden_size"):
        load_model(tmp_path / "ok.bin", config=dict(model.config.to_dict(), hidden_size=64))
    # no config, d != 4096 and nothing in the checkpoint tells the heads: named
    no_attn = _model(seed=6, attn_layer_idxs=())
    torch.save(no_attn.state_dict(), tmp_path / "hyena_only.bin")
    with pytest.raises(ValueError, match="num_attention_heads"):
        load_model(tmp_path / "hyena_only.bin")
    cfg = {"num_attention_heads": 4, "proj_groups": 2, "rotary_emb_base": 5000.0}  # unused without attention
    _assert_same_model(load_model(tmp_path / "hyena_only.bin", config=cfg), no_attn, _ids(no_attn.vocab_size))
