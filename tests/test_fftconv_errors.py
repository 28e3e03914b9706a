"""Every validation error of fftconv / fft_filter / fft_size: the exception type, and a message
that names the offending argument (as a whole word: "k" does not match inside "k_f")."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

import serengeti

BACKEND_OP = "fftconv"  # the op family whose backends the `backend` fixture runs

B, H, L, LK = 2, 3, 10, 6
F32, F64 = torch.float32, torch.float64


def _u(dtype: torch.dtype = F32, shape: tuple = (B, H, L)) -> torch.Tensor:
    return torch.randn(shape).to(dtype)


def _k(dtype: torch.dtype = F32, shape: tuple = (H, LK)) -> torch.Tensor:
    return torch.randn(shape).to(dtype)


def _D(dtype: torch.dtype = F32, shape: tuple = (H,)) -> torch.Tensor:
    return torch.randn(shape).to(dtype)


def _k_f(L_: int = L, H_: int = H, dtype: torch.dtype = F32) -> torch.Tensor:
    return serengeti.fft_filter(torch.randn(H_, LK, dtype=dtype), L_)


def _meta(x: torch.Tensor) -> torch.Tensor:
    """The same tensor on the 'meta' device: a device different from u's on any machine."""
    return torch.empty(x.shape, dtype=x.dtype, device="meta")


def fc(*args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: serengeti.fftconv(*args, **kwargs)


# (id, thunk, exception type(s), argument name the message must contain)
CASES: list[tuple[str, Callable[[], Callable[[], Any]], Any, str]] = [
    # non-tensors
    ("u-not-tensor", lambda: fc([[[1.0]]], _k(shape=(1, 1))), TypeError, "u"),
    ("k-not-tensor", lambda: fc(_u(), [[1.0] * LK] * H), TypeError, "k"),
    ("D-not-tensor", lambda: fc(_u(), _k(), [1.0] * H), TypeError, "D"),
    ("pregate-not-tensor", lambda: fc(_u(), _k(), None, 2.0), TypeError, "pregate"),
    ("postgate-not-tensor", lambda: fc(_u(), _k(), None, None, 2.0), TypeError, "postgate"),
    ("k_f-not-tensor", lambda: fc(_u(), k_f=[1.0, 2.0]), TypeError, "k_f"),
    # wrong ndim
    ("u-2d", lambda: fc(_u(shape=(H, L)), _k()), ValueError, "u"),
    ("u-4d", lambda: fc(_u(shape=(1, B, H, L)), _k()), ValueError, "u"),
    ("k-1d", lambda: fc(_u(), _k(shape=(LK,))), ValueError, "k"),
    ("k-3d", lambda: fc(_u(), _k(shape=(1, H, LK))), ValueError, "k"),
    ("D-2d", lambda: fc(_u(), _k(), _D(shape=(H, 1))), ValueError, "D"),
    ("D-0d", lambda: fc(_u(), _k(), _D(shape=())), ValueError, "D"),
    ("pregate-2d", lambda: fc(_u(), _k(), None, _u(shape=(H, L))), ValueError, "pregate"),
    ("postgate-4d", lambda: fc(_u(), _k(), None, None, _u(shape=(1, B, H, L))), ValueError, "postgate"),
    ("k_f-1d", lambda: fc(_u(), k_f=torch.randn(8)), ValueError, "k_f"),
    # H mismatch
    ("k-H", lambda: fc(_u(), _k(shape=(H + 1, LK))), ValueError, "k"),
    ("D-H", lambda: fc(_u(), _k(), _D(shape=(H + 1,))), ValueError, "D"),
    # k_f packs channels in groups, so use an H far from u's
    ("k_f-H", lambda: fc(_u(), k_f=_k_f(H_=H + 20)), ValueError, "k_f"),
    # gate shape mismatch in B, H or L
    ("pregate-B", lambda: fc(_u(), _k(), None, _u(shape=(B + 1, H, L))), ValueError, "pregate"),
    ("pregate-H", lambda: fc(_u(), _k(), None, _u(shape=(B, H + 1, L))), ValueError, "pregate"),
    ("pregate-L", lambda: fc(_u(), _k(), None, _u(shape=(B, H, L - 1))), ValueError, "pregate"),
    ("postgate-B", lambda: fc(_u(), _k(), None, None, _u(shape=(1, H, L))), ValueError, "postgate"),
    ("postgate-H", lambda: fc(_u(), _k(), None, None, _u(shape=(B, 1, L))), ValueError, "postgate"),
    ("postgate-L", lambda: fc(_u(), _k(), None, None, _u(shape=(B, H, L + 1))), ValueError, "postgate"),
    # gate dtype differs from u
    ("pregate-dtype", lambda: fc(_u(), _k(), None, _u(torch.float16)), ValueError, "pregate"),
    ("postgate-dtype", lambda: fc(_u(torch.bfloat16), _k(), None, None, _u(torch.float16)), ValueError, "postgate"),
    ("pregate-f64-with-f32", lambda: fc(_u(), _k(), None, _u(F64)), ValueError, "pregate"),
    # exactly one of k and k_f
    ("k-and-k_f", lambda: fc(_u(), _k(), k_f=_k_f()), ValueError, "k_f"),
    ("neither-k-nor-k_f", lambda: fc(_u()), ValueError, "k_f"),
    # parameter dtypes
    ("k-f64-with-f32-u", lambda: fc(_u(), _k(F64)), ValueError, "k"),
    ("k-f16-with-f16-u", lambda: fc(_u(torch.float16), _k(torch.float16)), ValueError, "k"),
    ("k-bf16-with-bf16-u", lambda: fc(_u(torch.bfloat16), _k(torch.bfloat16)), ValueError, "k"),
    ("k-f32-with-f64-u", lambda: fc(_u(F64), _k(F32)), ValueError, "k"),
    ("D-f64-with-f32-u", lambda: fc(_u(), _k(), _D(F64)), ValueError, "D"),
    ("D-f32-with-f64-u", lambda: fc(_u(F64), _k(F64), _D(F32)), ValueError, "D"),
    ("D-f16-with-f16-u", lambda: fc(_u(torch.float16), _k(), _D(torch.float16)), ValueError, "D"),
    ("k_f-f64-with-f32-u", lambda: fc(_u(), k_f=_k_f(dtype=F64)), ValueError, "k_f"),
    ("k_f-f32-with-f64-u", lambda: fc(_u(F64), k_f=_k_f()), ValueError, "k_f"),
    # activation dtype
    ("u-int", lambda: fc(torch.ones(B, H, L, dtype=torch.int32), _k()), ValueError, "u"),
    ("u-int64", lambda: fc(torch.ones(B, H, L, dtype=torch.int64), _k()), ValueError, "u"),
    ("u-bool", lambda: fc(torch.ones(B, H, L, dtype=torch.bool), _k()), ValueError, "u"),
    ("u-complex", lambda: fc(torch.ones(B, H, L, dtype=torch.complex64), _k()), ValueError, "u"),
    ("k-int", lambda: fc(_u(), torch.ones(H, LK, dtype=torch.int32)), ValueError, "k"),
    # k_f built for another sequence length
    ("k_f-other-L", lambda: fc(_u(), k_f=_k_f(L_=8 * L)), ValueError, "k_f"),
    ("k_f-other-L-shorter", lambda: fc(_u(shape=(B, H, 1000)), k_f=_k_f(L_=10)), ValueError, "k_f"),
    # devices
    ("k-device", lambda: fc(_u(), _meta(_k())), ValueError, "k"),
    ("D-device", lambda: fc(_u(), _k(), _meta(_D())), ValueError, "D"),
    ("pregate-device", lambda: fc(_u(), _k(), None, _meta(_u())), ValueError, "pregate"),
    ("postgate-device", lambda: fc(_u(), _k(), None, None, _meta(_u())), ValueError, "postgate"),
    ("k_f-device", lambda: fc(_u(), k_f=_meta(_k_f())), ValueError, "k_f"),
    # empty
    ("L-zero", lambda: fc(_u(shape=(B, H, 0)), _k()), ValueError, r"(u|L)"),
    ("Lk-zero", lambda: fc(_u(), _k(shape=(H, 0))), ValueError, "k"),
    # bidirectional must be a bool
    ("bidirectional-int", lambda: fc(_u(), _k(), bidirectional=1), (ValueError, TypeError), "bidirectional"),
    ("bidirectional-str", lambda: fc(_u(), _k(), bidirectional="yes"), (ValueError, TypeError), "bidirectional"),
    ("bidirectional-tensor", lambda: fc(_u(), _k(), bidirectional=torch.tensor(True)),
     (ValueError, TypeError), "bidirectional"),
    # fft_filter
    ("fft_filter-L-zero", lambda: (lambda: serengeti.fft_filter(_k(), 0)), ValueError, "L"),
    ("fft_filter-L-negative", lambda: (lambda: serengeti.fft_filter(_k(), -3)), ValueError, "L"),
    ("fft_filter-k-1d", lambda: (lambda: serengeti.fft_filter(_k(shape=(LK,)), L)), ValueError, "k"),
    ("fft_filter-k-3d", lambda: (lambda: serengeti.fft_filter(_k(shape=(1, H, LK)), L)), ValueError, "k"),
    ("fft_filter-k-empty", lambda: (lambda: serengeti.fft_filter(_k(shape=(H, 0)), L)), ValueError, "k"),
    ("fft_filter-k-not-tensor", lambda: (lambda: serengeti.fft_filter([[1.0]], L)), TypeError, "k"),
    ("fft_filter-k-int", lambda: (lambda: serengeti.fft_filter(torch.ones(H, LK, dtype=torch.int32), L)),
     ValueError, "k"),
    ("fft_filter-bidirectional-int", lambda: (lambda: serengeti.fft_filter(_k(), L, bidirectional=0)),
     (ValueError, TypeError), "bidirectional"),
    # fft_size
    ("fft_size-zero", lambda: (lambda: serengeti.fft_size(0)), ValueError, "L"),
    ("fft_size-negative", lambda: (lambda: serengeti.fft_size(-1)), ValueError, "L"),
]


@pytest.mark.parametrize("make,exc,name", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_error(make: Callable[[], Callable[[], Any]], exc: Any, name: str) -> None:
    thunk = make()  # building the arguments must itself succeed
    with pytest.raises(exc, match=rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])"):
        thunk()


def test_valid_baseline_calls_succeed() -> None:
    """Sanity for the table above: the un-broken versions of the arguments are accepted."""
    serengeti.fftconv(_u(), _k(), _D(), _u(), _u())
    serengeti.fftconv(_u(), k_f=_k_f(), bidirectional=True)
    serengeti.fftconv(_u(F64), _k(F64), _D(F64), _u(F64), _u(F64))
    serengeti.fftconv(_u(torch.float16), _k(), _D(), _u(torch.float16), _u(torch.float16))
    serengeti.fftconv(_u(torch.bfloat16), _k(), _D())
    serengeti.fft_filter(_k(), 1)


def test_errors_do_not_leave_state_behind() -> None:
    """A rejected call must not break the next valid one (e.g. a half-initialised workspace)."""
    with pytest.raises(ValueError):
        serengeti.fftconv(_u(), _k(shape=(H + 1, LK)))
    u, k = _u(), _k()
    y1 = serengeti.fftconv(u, k)
    with pytest.raises(ValueError):
        serengeti.fftconv(u, k, None, _u(shape=(B, H, L + 1)))
    assert torch.equal(serengeti.fftconv(u, k), y1)


def test_use_backend_rejects_unknown_name() -> None:
    with pytest.raises(ValueError):
        with serengeti.use_backend("no-such-backend"):
            pass


def test_set_num_threads_roundtrip() -> None:
    old = serengeti.get_num_threads()
    assert isinstance(old, int) and old >= 1
    try:
        serengeti.set_num_threads(1)
        assert serengeti.get_num_threads() == 1
        serengeti.set_num_threads(2)
        assert serengeti.get_num_threads() == 2
    finally:
        serengeti.set_num_threads(old)
