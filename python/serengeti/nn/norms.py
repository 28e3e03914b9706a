"""Normalisation layers used by the model families (math in float32, output in the input dtype)."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class RMSNorm(nn.Module):
    """StripedHyena's RMSNorm: ``y = scale * x * rsqrt(mean(x^2, -1) + eps)``.

    The parameter is named ``scale`` (the checkpoint key). The mean square is taken in float32 (float64
    for float64 x) so bf16 activations do not lose the normaliser; the result is cast back to x's dtype.
    """

    def __init__(self, d: int, eps: float = 1e-5, *, device=None, dtype=None) -> None:
        super().__init__()
        self.eps = float(eps)
        self.scale = nn.Parameter(torch.ones(d, device=device, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        work = torch.promote_types(x.dtype, torch.float32)  # float32, or float64 for float64 x
        xf = x.to(work)
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.scale.to(work) * y).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.scale.shape[0]}, eps={self.eps}"


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm (weight, bias) computed in float32 for half-precision inputs."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype in (torch.float16, torch.bfloat16):
            w = None if self.weight is None else self.weight.float()
            b = None if self.bias is None else self.bias.float()
            return nn.functional.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)
        return super().forward(x)
