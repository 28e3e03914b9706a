"""pytest configuration shared by the whole suite.

- Makes ``python/`` importable when serengeti is not installed (running from a source checkout).
- Registers the ``slow`` marker (long sequences; CI runs them, ``-m "not slow"`` skips them).
- Provides the ``backend`` fixture: any test that takes ``backend`` runs once per entry of
  ``serengeti.available_backends(BACKEND_OP)`` (the op family the test module names), inside
  ``serengeti.use_backend(backend)``.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from typing import Iterator

import pytest

_TESTS = os.path.dirname(os.path.abspath(__file__))
_PYTHON = os.path.join(os.path.dirname(_TESTS), "python")

if "serengeti" not in sys.modules and importlib.util.find_spec("serengeti") is None and os.path.isdir(_PYTHON):
    sys.path.insert(0, _PYTHON)
if _TESTS not in sys.path:  # so test modules can `import helpers`
    sys.path.insert(0, _TESTS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: long-running test (very long sequences); CI runs it, deselect with -m 'not slow'"
    )


def available_backends(op: str | None) -> list[str]:
    """Backends to parametrise op tests over: those available here that implement ``op``."""
    import serengeti

    return list(serengeti.available_backends(op))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test module names its op family in BACKEND_OP (e.g. "fftconv"); tests then run on every
    # available backend implementing it.
    if "backend" in metafunc.fixturenames:
        op = getattr(metafunc.module, "BACKEND_OP", None)
        metafunc.parametrize("backend", available_backends(op), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The backend name; the test body runs inside ``serengeti.use_backend(name)``."""
    import serengeti

    with serengeti.use_backend(request.param):
        yield request.param
