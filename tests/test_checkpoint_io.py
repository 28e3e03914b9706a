"""The checkpoint reader and the completeness check (format-independent parts of the loader)."""
import json
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file

from serengeti.models.checkpoint import (CheckpointError, check_state_dict, read_config, read_state_dict)


def _tensors():
    g = torch.Generator().manual_seed(0)
    return {
        "a.weight": torch.randn(3, 5, generator=g),
        "a.bias": torch.randn(5, generator=g).to(torch.bfloat16),
        "b.poles": torch.randn(4, 2, 1, 2, generator=g).double(),
        "c.count": torch.arange(7, dtype=torch.int64),
        "d.half": torch.randn(9, generator=g).half(),
    }


def _assert_same(got, want):
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        assert torch.equal(got[k], v), k


def test_safetensors_file_roundtrip(tmp_path):
    want = _tensors()
    save_file(want, str(tmp_path / "w.safetensors"), metadata={"format": "pt"})
    _assert_same(read_state_dict(tmp_path / "w.safetensors"), want)


def test_safetensors_tensors_are_views_of_one_file_map(tmp_path):
    # Zero-copy: every tensor of a file shares one (memory-mapped) storage.
    save_file(_tensors(), str(tmp_path / "w.safetensors"))
    got = read_state_dict(tmp_path / "w.safetensors")
    storages = {t.untyped_storage().data_ptr() for t in got.values()}
    assert len(storages) == 1


def test_sharded_safetensors_directory(tmp_path):
    want = _tensors()
    names = sorted(want)
    shards = {"model-00001-of-00002.safetensors": names[:2], "model-00002-of-00002.safetensors": names[2:]}
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: want[k] for k in keys}, str(tmp_path / shard))
        weight_map.update({k: shard for k in keys})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    _assert_same(read_state_dict(tmp_path), want)


def test_sharded_directory_with_missing_shard(tmp_path):
    save_file({"x": torch.zeros(2)}, str(tmp_path / "s1.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "s1.safetensors", "y": "s2.safetensors"}}))
    with pytest.raises(CheckpointError, match="s2.safetensors"):
        read_state_dict(tmp_path)


def test_index_listing_a_tensor_its_shard_lacks(tmp_path):
    save_file({"x": torch.zeros(2)}, str(tmp_path / "s1.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "s1.safetensors", "y": "s1.safetensors"}}))
    with pytest.raises(CheckpointError, match="not in their shard: y"):
        read_state_dict(tmp_path)


@pytest.mark.parametrize("damage", ["truncate_header", "garbage_json", "truncate_data", "empty"])
def test_corrupt_safetensors(tmp_path, damage):
    path = tmp_path / "w.safetensors"
    save_file(_tensors(), str(path))
    data = path.read_bytes()
    if damage == "truncate_header":
        data = data[:20]
    elif damage == "garbage_json":
        data = data[:8] + b"{" * (len(data) - 8)
    elif damage == "truncate_data":
        data = data[:-16]
    else:
        data = b""
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match="w.safetensors"):
        read_state_dict(path)


def test_torch_file_plain_and_lightning(tmp_path):
    want = _tensors()
    torch.save(want, tmp_path / "model.pt")
    _assert_same(read_state_dict(tmp_path / "model.pt"), want)
    wrapped = {"pytorch-lightning_version": "1.6.0", "epoch": 3, "state_dict": {"model." + k: v for k, v in want.items()}}
    torch.save(wrapped, tmp_path / "last.ckpt")
    got = read_state_dict(tmp_path / "last.ckpt")
    _assert_same(got, {"model." + k: v for k, v in want.items()})


def test_corrupt_torch_file(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(_tensors(), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.pt"):
        read_state_dict(path)


def test_untrusted_pickle_needs_opt_in(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "hparams": _Opaque()}, path)
    with pytest.raises(CheckpointError, match="trust_checkpoint=True"):
        read_state_dict(path)
    assert torch.equal(read_state_dict(path, trust_checkpoint=True)["w"], torch.ones(2))


class _Opaque:
    """A Python object torch.load(weights_only=True) refuses to unpickle."""


def test_missing_path_and_directory_without_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        read_state_dict(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        read_state_dict(tmp_path)
    torch.save({"w": torch.ones(1)}, tmp_path / "a.pt")
    torch.save({"w": torch.ones(1)}, tmp_path / "b.bin")
    with pytest.raises(CheckpointError, match="several checkpoint files"):
        read_state_dict(tmp_path)


def test_read_config_sources(tmp_path):
    ck = tmp_path / "model.pt"
    ck.write_bytes(b"")
    assert read_config(None, ck) is None
    assert read_config({"d_model": 8}, ck) == {"d_model": 8}
    (tmp_path / "config.yml").write_text("hidden_size: 16\nnum_layers: 2\n")
    assert read_config(None, ck) == {"hidden_size": 16, "num_layers": 2}
    (tmp_path / "config.json").write_text('{"hidden_size": 32}')
    assert read_config(None, ck) == {"hidden_size": 32}  # config.json is preferred
    assert read_config(tmp_path / "config.yml", ck)["hidden_size"] == 16
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="config"):
        read_config(tmp_path / "bad.json", ck)
    (tmp_path / "list.yml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        read_config(tmp_path / "list.yml", ck)
    with pytest.raises(FileNotFoundError, match="config"):
        read_config(tmp_path / "absent.json", ck)
    with pytest.raises(TypeError, match="config"):
        read_config(3, ck)


def test_completeness_errors_are_reported_together():
    expected = {"a.weight": (3, 4), "a.bias": (4,), "b.weight": (2, 2), "opt.inv_freq": (4,)}
    sd = {"a.weight": torch.zeros(3, 5), "b.weight": torch.zeros(2, 2), "extra.x": torch.zeros(1)}
    with pytest.raises(CheckpointError) as info:
        check_state_dict(expected, sd, {"opt.inv_freq": None}, "checkpoint X")
    msg = str(info.value)
    assert "1 missing: a.bias" in msg
    assert "1 unexpected: extra.x" in msg
    assert "1 misshaped: a.weight (checkpoint (3, 5), model (3, 4))" in msg
    assert "opt.inv_freq" not in msg
    check_state_dict(expected, {"a.weight": torch.zeros(3, 4), "a.bias": torch.zeros(4),
                                "b.weight": torch.zeros(2, 2)}, {"opt.inv_freq": None}, "checkpoint X")


def test_completeness_names_a_wrong_prefix():
    expected = {"blocks.0.w": (2,), "blocks.1.w": (2,), "norm.scale": (2,)}
    sd = {"model.backbone." + k: torch.zeros(2) for k in expected}
    with pytest.raises(CheckpointError, match="carry the prefix 'model.backbone.'"):
        check_state_dict(expected, sd, {}, "checkpoint X")


def test_safetensors_load_does_not_copy_the_file(tmp_path):
    # A 256 MB file read through the loader's reader must not add its size to the resident memory.
    path = tmp_path / "big.safetensors"
    save_file({f"w{i}": torch.zeros(16, 1024, 1024) for i in range(4)}, str(path))
    script = textwrap.dedent(f"""
        import resource, torch
        from serengeti.models.checkpoint import read_state_dict
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sd = read_state_dict({str(path)!r})
        sd = {{k: v.to(torch.float32) for k, v in sd.items()}}  # same dtype: no copy
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    grown = int(out.stdout.strip())
    assert grown < 64 * 2**20, f"resident memory grew by {grown / 2**20:.0f} MiB for a 256 MiB file"


def test_read_config_tolerates_omegaconf_interpolations(tmp_path):
    # safari's experiment configs hold OmegaConf expressions plain YAML cannot parse.
    (tmp_path / "exp.yml").write_text("model:\n  d_model: 864\n  d_inner: ${eval: 2*${.d_model}}  # MLP width\n"
                                      "  n_layer: 18\n")
    got = read_config(tmp_path / "exp.yml", tmp_path / "model.pt")
    assert got == {"model": {"d_model": 864, "d_inner": "${eval: 2*${.d_model}}", "n_layer": 18}}
