"""The models on the CUDA kernels: every family's parallel forward, prefill and decoding steps run
through the emulator (the CUDA sources of fftconv, short_conv and the modal ops executed on the
host) and agree with the CPU backend. This is how "the models work on CUDA" is tested without a GPU."""
import importlib

import pytest
import torch

import serengeti

FAMILIES = {
    "h3": ("serengeti.models.h3", "H3Config"),
    "hyena": ("serengeti.models.hyena", "HyenaConfig"),
    "striped_hyena": ("serengeti.models.striped_hyena", "StripedHyenaConfig"),
}

pytestmark = pytest.mark.skipif(
    not all("emu" in serengeti.available_backends(op) for op in ("fftconv", "short_conv", "modal")),
    reason="this build has no emulator for every op family")


def tiny(arch):
    module_name, config_name = FAMILIES[arch]
    module = importlib.import_module(module_name)
    torch.manual_seed(0)
    return module.FAMILY.build(getattr(module, config_name).tiny(), torch.float32, torch.device("cpu")).eval()


def rel_rms(a, b):
    return ((a.double() - b.double()).pow(2).mean() / b.double().pow(2).mean()).sqrt().item()


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_emulated_kernels_match_cpu(arch):
    model = tiny(arch)
    ids = torch.randint(0, model.sample_vocab_size, (2, 21), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model(ids)
        _, cache = model.prefill(ids[:, :17])
        want_steps = [model.step(ids[:, t], cache) for t in range(17, 21)]
        with serengeti.use_backend("emu"):
            got = model(ids)
            _, cache = model.prefill(ids[:, :17])
            got_steps = [model.step(ids[:, t], cache) for t in range(17, 21)]
    # The tensor-core FFT works with 16-bit DFT operands: a relative-RMS bound, not float32 rounding.
    assert rel_rms(got, want) < 1e-2
    for g, w in zip(got_steps, want_steps):
        assert rel_rms(g, w) < 1e-2
