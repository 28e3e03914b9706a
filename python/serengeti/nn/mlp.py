"""The two MLPs of the model families."""
from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F


class GeluMLP(nn.Module):
    """H3 / safari MLP: ``fc2(gelu_tanh(fc1 x))``, d -> hidden -> d, with biases."""

    def __init__(self, d: int, hidden: int, *, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, hidden, bias=bias, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden, d, bias=bias, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class GatedMLP(nn.Module):
    """StripedHyena MLP: ``l3(silu(l1 x) * l2 x)``, d -> hidden -> d, no biases."""

    def __init__(self, d: int, hidden: int, *, bias: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        self.l1 = nn.Linear(d, hidden, bias=bias, device=device, dtype=dtype)
        self.l2 = nn.Linear(d, hidden, bias=bias, device=device, dtype=dtype)
        self.l3 = nn.Linear(hidden, d, bias=bias, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.l3(F.silu(self.l1(x)) * self.l2(x))
