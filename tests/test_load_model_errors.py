"""load_model's errors on bad checkpoints, for every family: one clear CheckpointError naming what
is wrong (missing, unexpected and misshaped keys together; a foreign prefix; a corrupt file; keys of
no known architecture), never a silent partial load."""
import importlib

import pytest
import torch

from serengeti.models.checkpoint import CheckpointError, load_model

FAMILIES = {
    "h3": ("serengeti.models.h3", "H3Config"),
    "hyena": ("serengeti.models.hyena", "HyenaConfig"),
    "striped_hyena": ("serengeti.models.striped_hyena", "StripedHyenaConfig"),
}


def tiny(arch):
    module_name, config_name = FAMILIES[arch]
    module = importlib.import_module(module_name)
    torch.manual_seed(0)
    config = getattr(module, config_name).tiny()
    return module.FAMILY.build(config, torch.float32, torch.device("cpu")), config.to_dict()


def _mlp_output_matrix(sd):
    """The last block's MLP output weight: a shape no config field is inferred from."""
    return [k for k in sd if k.endswith(("mlp.fc2.weight", "mlp.l3.weight"))][-1]


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_roundtrip_then_every_defect_reported_together(arch, tmp_path):
    model, config = tiny(arch)
    sd = model.state_dict()
    torch.save(sd, tmp_path / "ok.pt")
    loaded = load_model(tmp_path / "ok.pt", config=config)
    ids = torch.randint(0, model.sample_vocab_size, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids), model(ids))

    broken = dict(sd)
    names = sorted(broken)
    missing = names[len(names) // 2]
    misshaped = _mlp_output_matrix(sd)
    assert missing != misshaped
    del broken[missing]
    broken[misshaped] = torch.zeros(sd[misshaped].shape[0] + 1, sd[misshaped].shape[1])
    broken["surplus.weight"] = torch.zeros(3)
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path / "broken.pt", arch=arch, config=config)
    msg = str(info.value)
    assert f"missing: {missing}" in msg
    assert "unexpected: surplus.weight" in msg
    assert f"misshaped: {misshaped} (checkpoint" in msg


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_foreign_prefix_is_named(arch, tmp_path):
    # A DDP-wrapped model's state dict ('module.' prefix): refused with the prefix named, instead of
    # the silent nothing-loaded of a strict=False loader.
    model, config = tiny(arch)
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, tmp_path / "ddp.pt")
    for given_arch in (arch, None):
        with pytest.raises((CheckpointError, ValueError)) as info:
            load_model(tmp_path / "ddp.pt", arch=given_arch, config=config)
        assert "prefix 'module.'" in str(info.value)


def test_corrupt_file(tmp_path):
    model, config = tiny("striped_hyena")
    path = tmp_path / "pytorch-model.bin"
    torch.save(model.state_dict(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="pytorch-model.bin"):
        load_model(path, config=config)


def test_unknown_architecture(tmp_path):
    torch.save({"encoder.layer.0.weight": torch.zeros(2, 2)}, tmp_path / "bert.pt")
    with pytest.raises(CheckpointError, match="arch="):
        load_model(tmp_path / "bert.pt")
    with pytest.raises(ValueError, match="arch"):
        load_model(tmp_path / "bert.pt", arch="mamba")


@pytest.mark.parametrize("bad", [{"dtype": "int8"}, {"dtype": torch.int32}, {"trust_checkpoint": "yes"}])
def test_bad_arguments_are_named(tmp_path, bad):
    model, config = tiny("h3")
    torch.save(model.state_dict(), tmp_path / "model.pt")
    name = next(iter(bad))
    with pytest.raises((ValueError, TypeError), match=name):
        load_model(tmp_path / "model.pt", config=config, **bad)


def test_the_users_state_dict_is_not_modified(tmp_path):
    # load_model reads files; a dict passed as config must come back unchanged too.
    model, config = tiny("hyena")
    torch.save(model.state_dict(), tmp_path / "model.pt")
    before = repr(config)
    load_model(tmp_path / "model.pt", config=config)
    assert repr(config) == before
