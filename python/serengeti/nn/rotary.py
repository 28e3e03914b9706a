"""Rotary position embedding, GPT-NeoX "rotate-half" layout.

For a head vector x (head_dim,) at position t and rotary width r (even, <= head_dim), with
``inv_freq[i] = base^(-2i / r)`` (i < r/2) and ``theta_i = t * inv_freq[i]``:

    x1 = x[:r/2], x2 = x[r/2:r]
    out[:r/2]  = x1 * cos(theta) - x2 * sin(theta)
    out[r/2:r] = x2 * cos(theta) + x1 * sin(theta)
    out[r:]    = x[r:]                       (dims past the rotary width are left alone)

The angles, cos/sin and the rotation are computed in float32 and the result is cast back to x's
dtype. ``inv_freq`` is a persistent float32 buffer because it is a checkpoint key (H3's
``mixer.rotary_emb.inv_freq``, StripedHyena's ``inner_mha_cls.rotary_emb.inv_freq``). If a module
cast (``model.to(torch.bfloat16)``) or a loader left it in a lower precision, ``apply`` recomputes
it in float32 from (dim, base), as flash-attn's RotaryEmbedding does: bf16 frequencies would move
the angles of long positions by whole radians.
"""
from __future__ import annotations

import math
from typing import Union

import torch
from torch import Tensor, nn


def _check_rotary_args(dim: object, base: object) -> None:
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f"dim: expected an even int >= 2 (the rotary width), got {dim!r}")
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not math.isfinite(base) or base <= 1:
        raise ValueError(f"base: expected a finite number > 1, got {base!r}")


def rotary_inv_freq(dim: int, base: float = 10000.0, *, device=None) -> Tensor:
    """The rotary frequencies ``1 / base^(arange(0, dim, 2) / dim)``: float32 tensor (dim/2,).

    This is the value of the ``rotary_emb.inv_freq`` checkpoint key; loaders use it when a
    checkpoint omits the key.
    """
    _check_rotary_args(dim, base)
    exponents = torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim
    return 1.0 / (float(base) ** exponents)


class RotaryEmbedding(nn.Module):
    """NeoX rotary embedding over the first ``dim`` dims of each head (see the module docstring).

    Args:
        dim: rotary width r (even); applies to inputs whose last dim (head_dim) is >= r.
        base: the frequency base (10000 for H3, 500000 for StripedHyena).
        device: where the ``inv_freq`` buffer lives (it is float32 whatever the model dtype).
    """

    inv_freq: Tensor

    def __init__(self, dim: int, base: float = 10000.0, *, device=None) -> None:
        super().__init__()
        _check_rotary_args(dim, base)
        self.dim = dim
        self.base = float(base)
        self.register_buffer("inv_freq", rotary_inv_freq(dim, self.base, device=device), persistent=True)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, base={self.base:g}"

    def _float32_inv_freq(self) -> Tensor:
        if self.inv_freq.dtype == torch.float32:
            return self.inv_freq
        return rotary_inv_freq(self.dim, self.base, device=self.inv_freq.device)

    def cos_sin(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """cos and sin of ``positions[:, None] * inv_freq[None, :]``: two float32 (L, dim/2)."""
        pos = positions.to(device=self.inv_freq.device, dtype=torch.float32)
        freqs = pos[:, None] * self._float32_inv_freq()[None, :]
        return torch.cos(freqs), torch.sin(freqs)

    def apply(self, x, positions: Union[Tensor, int] = 0):  # type: ignore[override]
        """``rotate(x, positions)`` for a tensor x.

        nn.Module.apply(fn) (recursive initialisation, ``model.apply(init_fn)``) calls
        ``child.apply(fn)`` on every submodule, so a callable non-tensor argument is passed on to
        nn.Module.apply to keep that working.
        """
        if not isinstance(x, Tensor) and callable(x):
            return super().apply(x)
        return self.rotate(x, positions)

    def rotate(self, x: Tensor, positions: Union[Tensor, int] = 0) -> Tensor:
        """Rotate x (..., L, head_dim), e.g. q or k as (B, heads, L, head_dim).

        ``positions`` is either an int64 tensor (L,) of absolute positions or an int offset
        (positions ``offset .. offset + L - 1``). Returns a tensor of x's shape and dtype.
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"x: expected a torch.Tensor (..., L, head_dim), got {type(x).__name__}")
        if x.dim() < 2 or x.shape[-1] < self.dim:
            raise ValueError(f"x: expected shape (..., L, head_dim) with head_dim >= {self.dim}, got {tuple(x.shape)}")
        L = x.shape[-2]
        if isinstance(positions, Tensor):
            if positions.dim() != 1 or positions.shape[0] != L:
                raise ValueError(f"positions: expected a 1-D tensor of length {L} (x.shape[-2]), "
                                 f"got {tuple(positions.shape)}")
            if positions.dtype.is_floating_point or positions.dtype.is_complex or positions.dtype == torch.bool:
                raise ValueError(f"positions: expected an integer tensor, got {positions.dtype}")
            pos = positions
        elif isinstance(positions, int) and not isinstance(positions, bool):
            if positions < 0:
                raise ValueError(f"positions: expected an offset >= 0, got {positions}")
            pos = torch.arange(positions, positions + L, device=self.inv_freq.device, dtype=torch.float32)
        else:
            raise TypeError(f"positions: expected an int offset or an int64 tensor (L,), "
                            f"got {type(positions).__name__}")
        cos, sin = self.cos_sin(pos)
        cos = cos.to(x.device)
        sin = sin.to(x.device)
        half = self.dim // 2
        x1 = x[..., :half].float()
        x2 = x[..., half:self.dim].float()
        rotated = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).to(x.dtype)
        if self.dim == x.shape[-1]:
            return rotated
        return torch.cat((rotated, x[..., self.dim:]), dim=-1)
