"""H3 (Hungry Hungry Hippos): the shift-SSM / diagonal-SSM sequence mixer, with decoding.

Math (head_dim 1, the released checkpoints; u (B, L, d) after the block's LayerNorm)::

    q, k, v = W_q u + b_q,  W_k u + b_k,  W_v u + b_v
    k~      = K_shift (*) k + ssm_k_D * k            shift SSM: a causal FIR of N taps (N = d_state)
    kv      = k~ * v
    y       = K_diag (*) kv + D * kv                 diagonal SSM (S4D, bilinear)
    out     = W_o (q * y) + b_o

    K_shift[c, m] = sum_n B[c, n] C[0, c, n+m]   (m < N; zero after)
    K_diag[h, l]  = 2 Re sum_n C'[h, n] dA[h, n]^l,  dA = (1 + dt A/2)/(1 - dt A/2),
                    C' = B C dt/(1 - dt A/2),  dt = exp(log_dt),  A = -exp(inv_A_real) + i A_imag

(*) is causal convolution. The SSM math runs in float32 / complex64 (float64 / complex128 for
float64 activations) whatever the activation dtype; y is cast back before ``output_linear``.

Kernels used: ``shift_ssm_kernel`` + ``short_conv`` for the shift SSM (the skip ``ssm_k_D`` is
folded into the lag-0 tap), ``s4d_kernel`` + ``fftconv`` (skip D, gate q fused as postgate) for
the diagonal SSM; prefill state via ``short_conv(return_final_state)`` and ``modal_state``, or
``modal_scan`` (style "scan"); decoding via ``short_conv_step`` and a complex64 state update.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from serengeti.nn.base import LayerCache, SequenceMixer, check_sequence_input, check_step_input
from serengeti.ops import (fftconv, modal_kernel, modal_scan, modal_state, s4d_discretize, shift_ssm_kernel,
                           short_conv, short_conv_step)
from serengeti.ops.short_conv import MAX_TAPS

MEASURES = ("diag-lin", "diag-inv")
MODES = ("diag",)


def _ssm_dtype(act: torch.dtype) -> torch.dtype:
    """Real dtype of the SSM math for activations of dtype ``act``: float64 for float64, else float32."""
    return torch.float64 if act == torch.float64 else torch.float32


def _positive_int(x: object, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        raise ValueError(f"{name}: expected a positive int, got {x!r}")
    return x


class ShiftSSMKernel(nn.Module):
    """H3's shift SSM parameters (checkpoint names ``B`` (C, N) and ``C`` (1, C, N), real).

    State x (N,) per channel: ``x <- shift_right(x) + B u_t``, ``y_t = sum_n C[n] x[n]``, which is
    the N-tap FIR ``K_shift[m] = sum_n B[n] C[n+m]``. Init: B = e_1 (so x is a delay line) and C
    uniform in +-1/sqrt(N) (torch.nn.Conv1d's init, as upstream).
    """

    def __init__(self, channels: int, N: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.B = nn.Parameter(torch.empty(channels, N, device=device, dtype=dtype))
        self.C = nn.Parameter(torch.empty(1, channels, N, device=device, dtype=dtype))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        self.B.zero_()
        self.B[:, 0] = 1.0
        bound = 1.0 / math.sqrt(self.B.shape[1])
        nn.init.uniform_(self.C, -bound, bound)

    def filter(self, dtype: torch.dtype) -> Tensor:
        """K_shift (C, N) in ``dtype``."""
        return shift_ssm_kernel(self.B.to(dtype), self.C.to(dtype))


class DiagSSMKernel(nn.Module):
    """H3's diagonal SSM (S4D) parameters, as the checkpoints store them.

    ``log_dt`` (H,), ``inv_A_real`` (H, N/2), ``A_imag`` (H, N/2), ``B`` (H, N/2, 2) and
    ``C`` (1, H, N/2, 2) (complex numbers as (real, imag) pairs); N/2 modes per channel (the
    conjugate half is implied by the ``2 Re``). Init S4D-Lin: A = -1/2 + i pi n, B = 1,
    C ~ complex normal, log dt ~ U[log dt_min, log dt_max]; "diag-inv" uses
    A_imag = N/pi (N/(2n+1) - 1) (S4D-Inv).
    """

    def __init__(self, H: int, N: int, *, measure: str = "diag-lin", dt_min: float = 1e-3,
                 dt_max: float = 1e-1, device=None, dtype=None) -> None:
        super().__init__()
        M = N // 2
        self.N = N
        self.measure = measure
        self.dt_min, self.dt_max = float(dt_min), float(dt_max)
        self.log_dt = nn.Parameter(torch.empty(H, device=device, dtype=dtype))
        self.inv_A_real = nn.Parameter(torch.empty(H, M, device=device, dtype=dtype))
        self.A_imag = nn.Parameter(torch.empty(H, M, device=device, dtype=dtype))
        self.B = nn.Parameter(torch.empty(H, M, 2, device=device, dtype=dtype))
        self.C = nn.Parameter(torch.empty(1, H, M, 2, device=device, dtype=dtype))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        lo, hi = math.log(self.dt_min), math.log(self.dt_max)
        nn.init.uniform_(self.log_dt, lo, hi)
        self.inv_A_real.fill_(math.log(0.5))
        n = torch.arange(self.A_imag.shape[1], device=self.A_imag.device, dtype=self.A_imag.dtype)
        if self.measure == "diag-lin":
            imag = math.pi * n
        else:  # diag-inv
            imag = self.N / math.pi * (self.N / (2 * n + 1) - 1)
        self.A_imag.copy_(imag.expand_as(self.A_imag))
        self.B[..., 0] = 1.0
        self.B[..., 1] = 0.0
        # complex normal (each part N(0, 1/2)) times B = 1.
        nn.init.normal_(self.C, 0.0, math.sqrt(0.5))

    def discretize(self, dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
        """(dA, R = 2 C') (H, N/2) complex for real ``dtype`` float32 / float64."""
        dA, _, Cp = s4d_discretize(self.log_dt.to(dtype), self.inv_A_real.to(dtype), self.A_imag.to(dtype),
                                   self.B.to(dtype), self.C.to(dtype))
        return dA, 2 * Cp

    def filter(self, L: int, dtype: torch.dtype) -> Tensor:
        """K_diag (H, L) in ``dtype``: ``modal_kernel(R, dA, L)`` (what ``s4d_kernel`` computes)."""
        dA, R = self.discretize(dtype)
        return modal_kernel(R, dA, L)


class _KernelWrapper(nn.Module):
    """Holds an SSM as ``.kernel`` so the parameter names match the checkpoints
    (``ssm_k_kernel.kernel.B``, ``kernel.kernel.log_dt``: upstream's SSKernel wrapper)."""

    def __init__(self, kernel: nn.Module) -> None:
        super().__init__()
        self.kernel = kernel


@dataclasses.dataclass
class H3Cache(LayerCache):
    """Decoding state of one H3 layer (fixed size, no growth with position).

    Attributes:
        shift_state: (B, d, N-1) the last N-1 inputs k of the shift SSM (short_conv_step's state),
            SSM dtype (float32, or float64 for float64 activations).
        ssm_state: (B * head_dim^2, H, N/2) complex, the diagonal SSM state s' with
            ``s' <- dA s' + kv_t`` (upstream's state is s = dB s').
        shift_weight: (d, N) the fused shift FIR taps (``K_shift`` with ``ssm_k_D`` added to the
            lag-0 tap, reversed for short_conv), computed once at prefill.
        poles, residues: (H, N/2) complex dA and R = 2 C', computed once at prefill.
        skip: (H,) D in the SSM dtype.
    """

    shift_state: Tensor
    ssm_state: Tensor
    shift_weight: Tensor
    poles: Tensor
    residues: Tensor
    skip: Tensor


class H3(SequenceMixer):
    """The H3 layer: ``out = W_o (q * SSM_diag(SSM_shift(k) * v))`` (see the module docstring).

    Args:
        d_model: width d.
        d_state: state size N (default 64): the shift SSM has N taps, the diagonal SSM N/2 complex
            modes per channel. Even, at most 128 (short_conv's tap limit).
        head_dim: 1 (the released models) or a divisor of d; H = d / head_dim SSM channels.
        mode, measure: upstream's ``ssm_cfg`` names: mode "diag" (S4D) and measure "diag-lin"
            (S4D-Lin, default) or "diag-inv" (S4D-Inv); they only affect initialisation.
        dt_min, dt_max: range of the initial step sizes.
        device, dtype: of the projections; the SSM parameters (``ssm_k_kernel.*``,
            ``kernel.kernel.*``, ``D``, ``ssm_k_D``) are float32 (float64 when dtype is float64).

    Parameters (checkpoint names): ``q_proj``, ``k_proj``, ``v_proj``, ``output_linear`` (Linear
    d -> d with bias); ``ssm_k_kernel.kernel.B`` (d, N), ``ssm_k_kernel.kernel.C`` (1, d, N),
    ``ssm_k_D`` (d,); ``kernel.kernel.{log_dt (H,), inv_A_real (H, N/2), A_imag (H, N/2),
    B (H, N/2, 2), C (1, H, N/2, 2)}``; ``D`` (H,).

    Multi-head form (head_dim P > 1), as upstream's H3 computes it: input channel c = h*P + i
    (head h < H, i < P). The shift SSM and ssm_k_D act on all d channels independently (upstream
    builds them over d_model, so their shapes stay (d, N) and (d,)). Then per head h::

        kv[b, i, j, h, t] = k~[b, h*P + i, t] * v[b, h*P + j, t]          (P x P outer product)
        z[b, i, j, h, :]  = K_diag[h] (*) kv[b, i, j, h, :] + D[h] kv[b, i, j, h, :]
        y[b, j*H + h, t]  = sum_i q[b, h*P + i, t] * z[b, i, j, h, t]

    i.e. the diagonal SSM (H channels) is shared by the P^2 entries of a head, and the output
    channel order is (j, h) with j outer, exactly upstream's ``'b d h l -> b (d h) l'`` (output_linear
    absorbs the permutation; matching it keeps checkpoints trained upstream loadable).

    Prefill styles: "fft" (default: the forward path, plus the states from short_conv's final
    state and modal_state) and "scan" (the diagonal SSM by modal_scan, which also returns the
    state). ``step`` uses short_conv_step and a torch complex64 update of the (B, ..., N/2) state
    (``s.mul_(dA).add_(kv)`` and ``Re sum R s``: ~60 us a step at d 768 on this CPU, against
    ~310 us for modal_scan on a length-1 sequence, whose custom-op dispatch dominates).
    """

    prefill_styles = ("fft", "scan")

    def __init__(self, d_model: int, *, d_state: int = 64, head_dim: int = 1, mode: str = "diag",
                 measure: str = "diag-lin", dt_min: float = 1e-3, dt_max: float = 1e-1,
                 device=None, dtype=None) -> None:
        super().__init__()
        d_model = _positive_int(d_model, "d_model")
        d_state = _positive_int(d_state, "d_state")
        head_dim = _positive_int(head_dim, "head_dim")
        if d_model % head_dim != 0:
            raise ValueError(f"head_dim: expected a divisor of d_model = {d_model}, got {head_dim}")
        if d_state % 2 != 0 or d_state > MAX_TAPS:
            raise ValueError(f"d_state: expected an even int in [2, {MAX_TAPS}] (the shift SSM has d_state taps, "
                             f"the diagonal SSM d_state/2 modes), got {d_state}")
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {list(MODES)} (H3's S4D kernel), got {mode!r}")
        if measure not in MEASURES:
            raise ValueError(f"measure: expected one of {list(MEASURES)}, got {measure!r}")
        if not (isinstance(dt_min, (int, float)) and isinstance(dt_max, (int, float)) and 0 < dt_min <= dt_max):
            raise ValueError(f"dt_min, dt_max: expected 0 < dt_min <= dt_max, got {dt_min!r}, {dt_max!r}")
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
            raise TypeError(f"dtype: expected a floating torch.dtype or None, got {dtype!r}")
        self.d_model, self.d_state, self.head_dim = d_model, d_state, head_dim
        self.H = d_model // head_dim
        self.mode, self.measure = mode, measure
        ssm_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        lin = dict(device=device, dtype=dtype)
        ssm = dict(device=device, dtype=ssm_dtype)
        self.q_proj = nn.Linear(d_model, d_model, **lin)
        self.k_proj = nn.Linear(d_model, d_model, **lin)
        self.v_proj = nn.Linear(d_model, d_model, **lin)
        self.ssm_k_kernel = _KernelWrapper(ShiftSSMKernel(d_model, d_state, **ssm))
        self.ssm_k_D = nn.Parameter(torch.empty(d_model, **ssm))
        self.kernel = _KernelWrapper(DiagSSMKernel(self.H, d_state, measure=measure, dt_min=dt_min,
                                                   dt_max=dt_max, **ssm))
        self.D = nn.Parameter(torch.empty(self.H, **ssm))
        self.output_linear = nn.Linear(d_model, d_model, **lin)
        with torch.no_grad():
            nn.init.normal_(self.ssm_k_D)
            nn.init.normal_(self.D)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_state={self.d_state}, head_dim={self.head_dim}, measure={self.measure!r}"

    # -- pieces shared by the paths -------------------------------------------------------------

    def _shift_weight(self, sdt: torch.dtype) -> Tensor:
        """short_conv weight (d, N): K_shift with ssm_k_D added to the lag-0 tap, reversed."""
        taps = self.ssm_k_kernel.kernel.filter(sdt)
        lag0 = taps[:, :1] + self.ssm_k_D.to(sdt)[:, None]
        return torch.cat([lag0, taps[:, 1:]], dim=1).flip(-1)

    def _qkv(self, x: Tensor, sdt: torch.dtype) -> Tuple[Tensor, Tensor, Tensor]:
        """Projections (B, L, d) -> three (B, d, L) views in the SSM dtype."""
        return tuple(p(x).to(sdt).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))

    def _outer(self, kt: Tensor, v: Tensor) -> Tensor:
        """kv for the diagonal SSM: (B, d, L) for head_dim 1, else (B*P*P, H, L) with batch index
        (b, i, j) (contiguous, so the SSM runs on a free view)."""
        P = self.head_dim
        if P == 1:
            return kt * v
        B, _, L = kt.shape
        k5 = kt.reshape(B, self.H, P, L).permute(0, 2, 1, 3)[:, :, None]   # (B, i, 1, H, L)
        v5 = v.reshape(B, self.H, P, L).permute(0, 2, 1, 3)[:, None]       # (B, 1, j, H, L)
        return (k5 * v5).reshape(B * P * P, self.H, L)

    def _contract_q(self, z: Tensor, q: Tensor) -> Tensor:
        """Multi-head readout: z (B*P*P, H, L), q (B, d, L) -> y (B, d, L), channel j*H + h."""
        P = self.head_dim
        B, _, L = q.shape
        q5 = q.reshape(B, self.H, P, L).permute(0, 2, 1, 3)[:, :, None]    # (B, i, 1, H, L)
        y = (q5 * z.reshape(B, P, P, self.H, L)).sum(1)                    # (B, j, H, L)
        return y.reshape(B, self.d_model, L)

    def _finish(self, y: Tensor, act: torch.dtype) -> Tensor:
        """y (B, d, L) SSM dtype -> output_linear((B, L, d) in the activation dtype)."""
        return self.output_linear(y.transpose(1, 2).to(act))

    # -- the three ways to run ------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, d) -> (B, L, d)."""
        return self._run(check_sequence_input(x, self.d_model), "fft", need_state=False)[0]

    def _prefill(self, x: Tensor, style: str) -> Tuple[Tensor, H3Cache]:
        check_sequence_input(x, self.d_model)
        y, cache = self._run(x, style, need_state=True)
        return y, cache

    def _run(self, x: Tensor, style: str, need_state: bool) -> Tuple[Tensor, Optional[H3Cache]]:
        act = x.dtype
        sdt = _ssm_dtype(act)
        L = x.shape[1]
        q, k, v = self._qkv(x, sdt)
        weight = self._shift_weight(sdt)
        if need_state:
            kt, shift_state = short_conv(k, weight, return_final_state=True)
        else:
            kt, shift_state = short_conv(k, weight), None
        kv = self._outer(kt, v)
        diag = self.kernel.kernel
        dA, R = diag.discretize(sdt)
        D = self.D.to(sdt)
        ssm_state = None
        if style == "scan":
            if need_state:
                z, ssm_state = modal_scan(kv, R, dA, D, return_final_state=True)
            else:
                z = modal_scan(kv, R, dA, D)
            y = z * q if self.head_dim == 1 else self._contract_q(z, q)
        else:
            K = modal_kernel(R, dA, L)        # = s4d_kernel(..., L), reusing the discretisation
            if self.head_dim == 1:
                y = fftconv(kv, K, D, postgate=q)
            else:
                y = self._contract_q(fftconv(kv, K, D), q)
            if need_state:
                ssm_state = modal_state(kv, dA)
        out = self._finish(y, act)
        if not need_state:
            return out, None
        cache = H3Cache(shift_state=shift_state.contiguous(), ssm_state=ssm_state.contiguous(),
                        shift_weight=weight.detach().contiguous(), poles=dA.detach(),
                        residues=R.detach(), skip=D.detach())
        return out, cache

    def step(self, x_t: Tensor, cache: H3Cache) -> Tensor:
        """One token: x_t (B, d) -> (B, d); ``cache`` (from ``prefill``) is updated in place.

        ``k~ = short_conv_step(k)``; ``kv = k~ * v``; ``s' <- dA s' + kv``;
        ``z = Re sum_n R_n s'_n + D kv``; ``y = q * z`` (head_dim 1) or the head contraction.
        """
        check_step_input(x_t, self.d_model)
        if not isinstance(cache, H3Cache):
            raise TypeError(f"cache: expected the H3Cache returned by H3.prefill, got {type(cache).__name__}")
        act = x_t.dtype
        sdt = cache.shift_state.dtype
        if _ssm_dtype(act) != sdt or cache.shift_state.shape[0] != x_t.shape[0]:
            raise ValueError(f"x_t: expected batch {cache.shift_state.shape[0]} and a dtype whose SSM dtype is "
                             f"{sdt} (the prefill's), got shape {tuple(x_t.shape)} and {act}")
        q, k, v = (p(x_t).to(sdt) for p in (self.q_proj, self.k_proj, self.v_proj))
        kt = short_conv_step(k, cache.shift_state, cache.shift_weight)
        P = self.head_dim
        if P == 1:
            kv = kt * v                                                  # (B, d)
        else:
            Bsz = kt.shape[0]
            kv = (kt.view(Bsz, self.H, P).transpose(1, 2)[:, :, None]
                  * v.view(Bsz, self.H, P).transpose(1, 2)[:, None]).reshape(Bsz * P * P, self.H)
        s = cache.ssm_state
        s.mul_(cache.poles).add_(kv[..., None])
        z = (s * cache.residues).real.sum(-1) + cache.skip * kv
        if P == 1:
            y = q * z
        else:
            Bsz = q.shape[0]
            q4 = q.view(Bsz, self.H, P).transpose(1, 2)[:, :, None]      # (B, i, 1, H)
            y = (q4 * z.view(Bsz, P, P, self.H)).sum(1).reshape(Bsz, self.d_model)
        return self.output_linear(y.to(act))
