"""StripedHyena blocks under torch.compile (forward traced whole, no graph breaks)."""
from __future__ import annotations

import torch

from serengeti.models.striped_hyena import StripedHyenaConfig, StripedHyenaLM


def test_blocks_trace_whole_under_torch_compile():
    """Hyena and attention blocks compile with fullgraph=True (aot_eager: dynamo tracing plus the
    ops' fake implementations) and give the eager outputs."""
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny shapes
    try:
        torch.manual_seed(0)
        model = StripedHyenaLM(StripedHyenaConfig.tiny(num_layers=2, attn_layer_idxs=(1,))).eval()
        h = torch.randn(2, 33, model.config.hidden_size)
        with torch.no_grad():
            for block in model.blocks:
                compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
                torch.testing.assert_close(compiled(h), block(h), atol=1e-6, rtol=1e-6)
                torch.testing.assert_close(compiled(h[:, :17]), block(h[:, :17]), atol=1e-6, rtol=1e-6)
    finally:
        torch.set_num_threads(old_threads)
