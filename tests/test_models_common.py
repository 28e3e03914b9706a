"""What every model family must do beyond its own math: train (gradients through our ops), run under
torch.compile, wrap in DDP and FSDP (plain nn.Modules), follow the requested dtype, and reject bad
token ids by name."""
import importlib
import os
import socket

import pytest
import torch
import torch.distributed as dist

FAMILIES = {
    "h3": ("serengeti.models.h3", "H3Config"),
    "hyena": ("serengeti.models.hyena", "HyenaConfig"),
    "striped_hyena": ("serengeti.models.striped_hyena", "StripedHyenaConfig"),
}


def tiny_model(arch: str, dtype=torch.float32):
    module_name, config_name = FAMILIES[arch]
    module = importlib.import_module(module_name)
    torch.manual_seed(0)
    config = getattr(module, config_name).tiny()
    return module.FAMILY.build(config, dtype, torch.device("cpu"))


def batch(model, B=2, L=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.sample_vocab_size, (B, L), generator=g)


def lm_loss(model, ids):
    logits = model(ids[:, :-1])
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


@pytest.fixture
def process_group():
    """A one-process gloo group (DDP/FSDP on a CPU)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_training_steps_reduce_the_loss(arch):
    model = tiny_model(arch).train()
    ids = batch(model)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = lm_loss(model, ids)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without a gradient: {no_grad}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad}"
    assert losses[-1] < losses[0] - 0.05, losses


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_compiled_forward_matches_eager(arch):
    model = tiny_model(arch).eval()
    ids = batch(model)
    with torch.no_grad():
        eager = model(ids)
        compiled = torch.compile(model, fullgraph=True)(ids)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_ddp_matches_plain_module(arch, process_group):
    model = tiny_model(arch).train()
    ids = batch(model)
    reference = tiny_model(arch).train()
    lm_loss(reference, ids).backward()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    lm_loss(ddp, ids).backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        if q.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_fsdp_training_step(arch, process_group):
    from torch.distributed.fsdp import fully_shard
    model = tiny_model(arch).train()
    ids = batch(model)
    reference = tiny_model(arch).train()
    want = lm_loss(reference, ids)
    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
    loss = lm_loss(model, ids)
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_bfloat16_build_follows_dtype_policy(arch):
    module = importlib.import_module(FAMILIES[arch][0])
    model = tiny_model(arch, torch.bfloat16)
    for name, p in model.named_parameters():
        want = torch.float32 if module.FAMILY.keep_float32(name) else torch.bfloat16
        assert p.dtype == want, (name, p.dtype)
    reference = tiny_model(arch, torch.float32)
    model.load_state_dict(reference.state_dict())  # same weights, rounded to bf16 where bf16
    ids = batch(model)
    with torch.no_grad():
        got = model(ids).float()
        ref = reference(ids)
    # bf16 activations (8 mantissa bits) over a few layers: a relative RMS bound, not elementwise.
    rel = ((got - ref).pow(2).mean() / ref.pow(2).mean()).sqrt().item()
    assert rel < 0.1, rel


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_bad_token_ids_are_named(arch):
    model = tiny_model(arch)
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.tensor([[0, model.vocab_size]]))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros(3, dtype=torch.long))
    _, cache = model.prefill(torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="token_ids"):
        model.step(torch.tensor([-1]), cache)
    with pytest.raises(ValueError, match="prefill_style"):
        model.prefill(torch.zeros(1, 2, dtype=torch.long), prefill_style="telepathy")
