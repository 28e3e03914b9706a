"""fit_modal: recovery of exactly modal filters, convergence on Hyena implicit filters, the reported
numbers (recomputed here in float64 with serengeti.reference), stability and argument checks.

Tolerances: an exactly modal filter is stored in complex64 after the fit, so its reconstruction
is good to ~1e-7 relative (float32 rounding of R, p and of modal_kernel's powers); we ask 1e-5.
"""
from __future__ import annotations

import math

import pytest
import torch

from serengeti import reference
from serengeti.nn.distill import ModalFit, fit_modal
from serengeti.nn.hyena import HyenaFilter


def _random_modal(D: int, S: int, seed: int, real_poles: int = 0):
    g = torch.Generator().manual_seed(seed)
    radius = 0.75 + 0.23 * torch.rand(D, S, generator=g, dtype=torch.float64)
    angle = 0.2 + 2.8 * torch.rand(D, S, generator=g, dtype=torch.float64)
    angle[:, :real_poles] = 0.0
    p = torch.polar(radius, angle)
    R = torch.complex(torch.randn(D, S, generator=g, dtype=torch.float64),
                      torch.randn(D, S, generator=g, dtype=torch.float64))
    return R, p


def _rel_errors(h: torch.Tensor, fit: ModalFit) -> torch.Tensor:
    """||h - Re sum R p^t|| / ||h|| per channel, in float64 from the reference kernel."""
    hm = reference.modal_kernel(fit.residues, fit.poles, h.shape[1])
    return (h.double() - hm).norm(dim=1) / h.double().norm(dim=1)


def test_exactly_modal_filter_is_recovered():
    D, S, L = 6, 4, 200
    R, p = _random_modal(D, S, seed=1)
    h = reference.modal_kernel(R, p, L)                           # (D, L) float64, S damped oscillations
    fit = fit_modal(h, S)
    assert fit.residues.shape == (D, S) and fit.residues.dtype == torch.complex64
    assert fit.poles.shape == (D, S) and fit.poles.dtype == torch.complex64
    assert fit.rel_error.shape == (D,) and fit.rel_error.dtype == torch.float32
    assert float(_rel_errors(h, fit).max()) < 1e-5
    # the poles themselves are found (each true pole, up to conjugation, within 1e-5)
    for c in range(D):
        for n in range(S):
            dist = torch.minimum((fit.poles[c].to(torch.complex128) - p[c, n]).abs(),
                                 (fit.poles[c].to(torch.complex128) - p[c, n].conj()).abs())
            assert float(dist.min()) < 1e-5, (c, n)


def test_real_poles_and_spare_modes():
    """Two real decays + one oscillation fitted with S = 5 modes: exact, extra modes are zero."""
    D, S, L = 4, 3, 120
    R, p = _random_modal(D, S, seed=2, real_poles=2)
    h = reference.modal_kernel(R, p, L)
    fit = fit_modal(h, 5)
    assert float(_rel_errors(h, fit).max()) < 1e-5
    # numerical rank 4 (two real exponentials + one pair): at least one mode per channel is unused
    assert bool(((fit.residues == 0) & (fit.poles == 0)).any(dim=1).all())


def test_error_decreases_with_modes_on_a_hyena_filter():
    torch.manual_seed(0)
    f = HyenaFilter(8, 128, emb_dim=5, filter_order=16, w=14.0, modulate=True)   # hyena-small's w
    h = f.filter(128).detach()
    errors = [float(fit_modal(h, S).rel_error.mean()) for S in (2, 4, 8, 16)]
    assert all(b < 0.75 * a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.2


def test_smooth_hyena_filter_is_fitted_to_float32_precision():
    torch.manual_seed(0)
    f = HyenaFilter(8, 128, emb_dim=5, filter_order=16, w=1.0, modulate=True)
    h = f.filter(128).detach()
    assert float(fit_modal(h, 8).rel_error.max()) < 1e-4


def test_reported_errors_are_the_real_errors():
    torch.manual_seed(3)
    f = HyenaFilter(5, 96, emb_dim=3, filter_order=8, w=5.0, modulate=True)
    h = f.filter(96).detach()
    fit = fit_modal(h, 3)
    want = _rel_errors(h, fit)
    torch.testing.assert_close(fit.rel_error.double(), want, rtol=1e-4, atol=1e-7)
    assert math.isclose(fit.max_rel_error, float(want.max()), rel_tol=1e-4)
    assert float(want.max()) > 1e-3   # a genuinely approximate fit, so the check has teeth


def test_poles_are_kept_inside_max_radius():
    t = torch.arange(64, dtype=torch.float64)
    h = torch.stack([1.02 ** t, (0.99 ** t) * torch.cos(0.3 * t), torch.ones(64, dtype=torch.float64)])
    fit = fit_modal(h, 2, max_radius=0.999)
    assert float(fit.poles.abs().max()) <= 0.999 + 1e-6
    assert torch.isfinite(fit.residues.real).all() and torch.isfinite(fit.rel_error).all()
    # the decaying oscillation is inside the disc and still fitted exactly
    assert float(_rel_errors(h, fit)[1]) < 1e-5


def test_zero_channel():
    h = torch.zeros(2, 32)
    h[1] = 0.9 ** torch.arange(32.0)
    fit = fit_modal(h, 2)
    assert float(fit.rel_error[0]) == 0.0 and bool((fit.residues[0] == 0).all())
    assert float(fit.rel_error[1]) < 1e-5


def test_argument_checks():
    h = torch.randn(3, 32)
    with pytest.raises(ValueError, match="num_modes"):
        fit_modal(h, 9)                      # needs L >= 4 S
    with pytest.raises(ValueError, match="num_modes"):
        fit_modal(h, 0)
    with pytest.raises(ValueError, match="pencil"):
        fit_modal(h, 2, pencil=3)
    with pytest.raises(ValueError, match="max_radius"):
        fit_modal(h, 2, max_radius=1.5)
    with pytest.raises(ValueError, match="h"):
        fit_modal(torch.randn(32), 2)
    with pytest.raises(ValueError, match="h"):
        fit_modal(torch.randn(3, 32, dtype=torch.complex64), 2)
    with pytest.raises(TypeError, match="h"):
        fit_modal([1.0, 2.0], 1)
