"""A large checkpoint loads without a second copy in memory: safetensors shards are memory-mapped and
tensors whose dtype already matches are assigned as they are (the 7B case, scaled down)."""
import json
import subprocess
import sys
import textwrap

import torch
from safetensors.torch import save_file

from serengeti.models.striped_hyena import FAMILY, StripedHyenaConfig


def test_bf16_hf_directory_loads_without_copying(tmp_path):
    config = StripedHyenaConfig.tiny(hidden_size=512, num_layers=4, vocab_size=32000, inner_mlp_size=1408,
                                     num_attention_heads=8, proj_groups=2)
    model = FAMILY.build(config, torch.bfloat16, torch.device("cpu"))
    sd = {"backbone." + k: v.contiguous() for k, v in model.state_dict().items()}
    names = sorted(sd)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: sd[k] for k in keys}, str(tmp_path / shard))
        weight_map.update({k: shard for k in keys})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    size = sum((tmp_path / s).stat().st_size for s in shards)
    del model, sd
    script = textwrap.dedent(f"""
        import resource, torch
        import serengeti
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        model = serengeti.load_model({str(tmp_path)!r}, dtype=torch.bfloat16)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        n = sum(p.numel() * p.element_size() for p in model.parameters())
        print(after - before, n)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    grown, param_bytes = (int(v) for v in out.stdout.split())
    assert param_bytes > 0.9 * size  # the model really holds the checkpoint's tensors
    assert grown < 0.25 * size, f"resident memory grew by {grown / 2**20:.0f} MiB loading {size / 2**20:.0f} MiB"
