"""Distillation of long filters into modal (pole / residue) form, for O(1)-per-token decoding.

A long filter h (D, L) (a Hyena implicit filter, a long-conv kernel) is approximated per channel by

    h[c, t] ~= Re sum_{n<S} R[c, n] p[c, n]^t        (t < L; the convention of ``modal_kernel``)

with complex poles |p| <= max_radius < 1 (so the recurrence s <- p s + w is stable and the
distilled filter is defined at every t, also past L) and complex residues. One complex mode
represents one damped oscillation A r^t cos(theta t + phi) (R = A e^{i phi}, p = r e^{i theta});
a real pole (theta = 0) uses a mode too.

Method (:func:`fit_modal`), per channel, vectorised over channels with batched linear algebra in
float64:

1. Matrix pencil (Hua & Sarkar 1990). The Hankel matrix Y[i, j] = h[i + j]
   ((L - P) x (P + 1), pencil parameter P) of a sum of M exponentials z_m^t has rank M and its row
   space is spanned by the vectors (z_m^j)_j. With V the top-M right singular vectors,
   ``V[1:] = V[:-1] T^{-1} diag(z) T``, so the z_m are the eigenvalues of ``pinv(V[:-1]) V[1:]``.
   We take M = min(2S, numerical rank of Y): a real filter's exponentials come in conjugate pairs
   and one Re-mode covers a pair; singular values below ``rtol`` times the largest are rounding
   noise, whose "poles" would be spurious. The SVD truncation is the least-squares denoising step.
2. Stability: poles outside the disc of radius ``max_radius`` are moved radially onto it.
3. Selection of S modes out of the 2S exponentials: a conjugate pair is one mode (its member with
   Im z > 0), a real pole is one mode; each candidate is scored by its share of the signal
   (|c_m| * ||z_m^t||, c from a complex least-squares fit, doubled for a pair) and the S best kept.
   (2c + r = M with c pairs and r real poles; when there are fewer than S candidates the
   remaining modes are R = p = 0.)
4. Residues: the real least-squares fit of h by the S modes in exactly the Re-sum convention,
   ``h[t] = sum_n a_n Re(p_n^t) - b_n Im(p_n^t)``, R = a + i b (the SVD-based solver handles real
   poles, where the Im column vanishes).

The fit runs on the CPU in float64 (a one-time cost: ~40 s per hyena-small layer, d 864, L 2048,
S 16, on one core); the results are returned on h's device.

The reported error is recomputed from the returned complex64 values with ``modal_kernel`` (the
kernel the distilled layers use): ``rel_error[c] = ||h[c] - modal_kernel(R, p, L)[c]|| / ||h[c]||``
(0 for an all-zero channel fitted exactly).
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import torch
from torch import Tensor

from serengeti.ops import modal_kernel

DEFAULT_MAX_RADIUS = 1.0 - 1e-4


@dataclasses.dataclass(frozen=True)
class ModalFit:
    """Result of :func:`fit_modal` for a filter h (D, L).

    Attributes:
        residues: (D, S) complex64 R.
        poles: (D, S) complex64 p, |p| <= max_radius.
        rel_error: (D,) float32, ``||h - modal_kernel(R, p, L)|| / ||h||`` per channel.
    """

    residues: Tensor
    poles: Tensor
    rel_error: Tensor

    @property
    def max_rel_error(self) -> float:
        """The largest per-channel relative error."""
        return float(self.rel_error.max())


@dataclasses.dataclass(frozen=True)
class DistillReport:
    """What a layer's ``distill`` did.

    Attributes:
        num_modes: S, modes per channel.
        rel_error: relative L2 fit error per filter channel (layer-specific leading shape, e.g.
            (order - 1, d) for a Hyena operator), float32.
        max_rel_error: its maximum.
        length: number of filter taps fitted.
    """

    num_modes: int
    rel_error: Tensor
    max_rel_error: float
    length: int


def _check_positive_int(x: object, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        raise ValueError(f"{name}: expected a positive int, got {x!r}")
    return x


def _powers(z: Tensor, L: int) -> Tensor:
    """z (D, M) complex -> (D, L, M) with [c, t, m] = z[c, m]^t, by cumulative products (exact
    at z = 0, unlike exp(t log z))."""
    D, M = z.shape
    ones = torch.ones((D, 1, M), dtype=z.dtype, device=z.device)
    if L == 1:
        return ones
    steps = z[:, None, :].expand(D, L - 1, M)
    return torch.cat([ones, torch.cumprod(steps, dim=1)], dim=1)


def _pencil_poles(h: Tensor, M: int, P: int, rtol: float) -> Tuple[Tensor, Tensor]:
    """The exponentials of h (D, L) float64 by the matrix pencil with parameter P.

    Returns (z (D, M) complex128, valid (D, M) bool): channel c has m_c = min(M, numerical rank of
    its Hankel matrix) valid exponentials (singular values below rtol * the largest are noise: a
    pencil of larger rank would return spurious poles fitted to rounding).
    """
    D, L = h.shape
    idx = torch.arange(L - P, device=h.device)[:, None] + torch.arange(P + 1, device=h.device)[None, :]
    Y = h[:, idx]                                                 # (D, L-P, P+1) Hankel
    # SVD of the tall Y through its QR factor: Y = Q R, so Y's right singular vectors are R's
    # (cheaper than the SVD of Y, and unlike the Gram matrix Y^T Y it does not square the
    # condition number).
    Rf = torch.linalg.qr(Y, mode="r").R                           # (D, P+1, P+1)
    _, sv, Vh = torch.linalg.svd(Rf)
    rank = (sv > rtol * sv[:, :1]).sum(dim=1).clamp(min=1, max=M)  # (D,)
    z = torch.zeros((D, M), dtype=torch.complex128, device=h.device)
    valid = torch.zeros((D, M), dtype=torch.bool, device=h.device)
    for m in torch.unique(rank).tolist():                         # batch the channels of equal rank
        rows = (rank == m).nonzero()[:, 0]
        V = Vh[rows, :m, :].mT                                    # (n, P+1, m)
        A = torch.linalg.pinv(V[:, :-1, :]) @ V[:, 1:, :]         # (n, m, m), real
        z[rows, :m] = torch.linalg.eigvals(A)                     # conjugate pairs / real values
        valid[rows, :m] = True
    return z, valid


def fit_modal(h: Tensor, num_modes: int, *, pencil: Optional[int] = None,
              max_radius: float = DEFAULT_MAX_RADIUS, rtol: float = 1e-6) -> ModalFit:
    """Fit ``h[c, t] ~= Re sum_n R[c, n] p[c, n]^t`` with S = ``num_modes`` modes per channel.

    See the module docstring for the method (matrix pencil for the poles, real least squares for
    the residues, float64 on the CPU, batched over channels).

    Args:
        h: (D, L) real filter (any floating dtype), L >= 4 * num_modes.
        num_modes: S >= 1.
        pencil: the pencil parameter P (columns of the Hankel matrix minus one),
            2S <= P <= L - 2S. Default ``min(L // 2, max(8S, 128))``: larger P averages more noise
            out of non-modal filters, at O(D * L * P^2) cost.
        max_radius: poles are kept in the disc |p| <= max_radius (0 < max_radius <= 1).
        rtol: singular values of the Hankel matrix below ``rtol`` times the largest count as noise
            (1e-6: float32 filters carry ~1e-7 relative rounding); a channel of numerical rank
            m < 2S gets m exponentials, and modes left over have R = p = 0.

    Returns:
        :class:`ModalFit` (residues, poles (D, S) complex64; rel_error (D,) float32).
    """
    if not isinstance(h, Tensor):
        raise TypeError(f"h: expected a torch.Tensor (D, L), got {type(h).__name__}")
    if h.dim() != 2 or not h.dtype.is_floating_point:
        raise ValueError(f"h: expected a real floating tensor of shape (D, L), got {h.dtype} of shape {tuple(h.shape)}")
    S = _check_positive_int(num_modes, "num_modes")
    D, L = h.shape
    M = 2 * S
    if D < 1 or L < 2 * M:
        raise ValueError(f"num_modes: the matrix pencil needs L >= 4 * num_modes taps; got num_modes={S} "
                         f"for h of shape {tuple(h.shape)}")
    if pencil is None:
        P = min(L // 2, max(4 * M, 128))
    else:
        P = _check_positive_int(pencil, "pencil")
        if not M <= P <= L - M:
            raise ValueError(f"pencil: expected {M} <= pencil <= {L - M} (2S <= P <= L - 2S), got {P}")
    if (isinstance(max_radius, bool) or not isinstance(max_radius, (int, float))
            or not 0.0 < float(max_radius) <= 1.0):
        raise ValueError(f"max_radius: expected a number in (0, 1], got {max_radius!r}")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0.0 <= float(rtol) < 1.0:
        raise ValueError(f"rtol: expected a number in [0, 1), got {rtol!r}")

    # On the CPU: the SVD-based least-squares driver (gelsd, robust to the rank-deficient columns
    # of real poles) exists only there, and a one-time distillation does not need a GPU.
    h64 = h.detach().to(device="cpu", dtype=torch.float64)
    with torch.no_grad():
        z, valid = _pencil_poles(h64, M, P, float(rtol))                   # (D, M)
        r = z.abs()
        z = torch.where(r > max_radius, z * (max_radius / r.clamp_min(1e-300)), z)

        # Score each exponential by its share of h (complex least squares over all of them).
        Z = _powers(z, L) * valid[:, None, :]                              # (D, L, M), invalid: 0
        c = torch.linalg.lstsq(Z, h64.to(Z.dtype)[..., None], driver="gelsd").solution[..., 0]  # (D, M)
        score = c.abs() * torch.linalg.vector_norm(Z, dim=1)
        score = torch.where(z.imag > 0, 2 * score, score)
        # A pair counts once (its Im > 0 member); invalid slots come last, as zero modes.
        score = torch.where(z.imag < 0, torch.full_like(score, -1.0), score)
        score = torch.where(valid, score, torch.full_like(score, -2.0))
        keep = torch.topk(score, S, dim=1).indices
        used = torch.gather(score, 1, keep) >= 0                           # (D, S)
        p = torch.where(used, torch.gather(z, 1, keep), torch.zeros((), dtype=z.dtype))

        # Residues in the Re-sum convention: h[t] = sum_n a_n Re(p_n^t) - b_n Im(p_n^t).
        Pw = _powers(p, L) * used[:, None, :]                              # (D, L, S), unused: 0
        G = torch.cat([Pw.real, -Pw.imag], dim=2)                          # (D, L, 2S)
        ab = torch.linalg.lstsq(G, h64[..., None], driver="gelsd").solution[..., 0]  # (D, 2S)
        R = torch.complex(ab[:, :S], ab[:, S:]) * used                     # min-norm: 0 when unused

        residues = R.to(torch.complex64)
        poles = p.to(torch.complex64)
        fitted = modal_kernel(residues, poles, L).to(torch.float64)
        err = torch.linalg.vector_norm(h64 - fitted, dim=1)
        ref = torch.linalg.vector_norm(h64, dim=1)
        rel = torch.where(ref > 0, err / ref.clamp_min(1e-300),
                          torch.where(err > 0, torch.full_like(err, float("inf")), torch.zeros_like(err)))
    dev = h.device
    return ModalFit(residues=residues.to(dev), poles=poles.to(dev), rel_error=rel.to(device=dev, dtype=torch.float32))
