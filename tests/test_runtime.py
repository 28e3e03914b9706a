"""Backend selection and status (serengeti._runtime): which GPUs the cuda backend accepts.

No GPU here, so torch.cuda's device queries are replaced by monkeypatch; backend_for only reads a
tensor's ``device``, so a stand-in object carries a CUDA device.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import serengeti
from serengeti import _runtime


def _fake_gpus(monkeypatch: pytest.MonkeyPatch, capabilities: list[tuple[int, int]]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(capabilities))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=None: capabilities[i or 0])
    monkeypatch.setattr(_runtime._C, "has_cuda_kernels", True, raising=False)


def test_pre_ampere_gpu_is_refused_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpus(monkeypatch, [(8, 6), (7, 5)])
    assert _runtime.backend_for(SimpleNamespace(device=torch.device("cuda", 0))) == "cuda"
    with pytest.raises(RuntimeError, match=r"sm_80 or newer; cuda:1 is sm_75"):
        _runtime.backend_for(SimpleNamespace(device=torch.device("cuda", 1)))


def test_device_without_index_means_the_current_one(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpus(monkeypatch, [(7, 0)])
    with pytest.raises(RuntimeError, match=r"cuda is sm_70"):
        _runtime.backend_for(SimpleNamespace(device=torch.device("cuda")))


def test_status_names_the_gpus_found_when_none_is_recent_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpus(monkeypatch, [(7, 0), (7, 5)])
    assert serengeti.backend_status()["cuda"] == "no GPU of compute capability sm_80 or newer (found sm_70, sm_75)"
    assert "cuda" not in serengeti.available_backends()
    _fake_gpus(monkeypatch, [(7, 5), (9, 0)])
    assert serengeti.backend_status()["cuda"] == "available"


def test_cpu_tensors_follow_use_backend() -> None:
    t = torch.zeros(1)
    assert _runtime.backend_for(t) == "cpu"
    if serengeti.backend_status()["emu"] == "available":
        with serengeti.use_backend("emu"):
            assert _runtime.backend_for(t) == "emu"
        assert _runtime.backend_for(t) == "cpu"
