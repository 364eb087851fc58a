"""Shared fixtures for the kctsim test suite (fixtures only, no tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kctsim.model import KCTModel, compile_kernels


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels() -> None:
    """Compile numba's kernels once, in this process, before any test starts workers
    (on a fresh checkout each worker would otherwise compile them itself)."""
    compile_kernels()


def _run_to_end(
    technology: str = "key_generic",
    regime: Any = "spiral",
    horizon: int = 10,
    seed: Any = 0,
    **overrides: Any,
) -> KCTModel:
    model = KCTModel(technology=technology, regime=regime, horizon=horizon, rng=seed, **overrides)
    while model.running:
        model.step()
    return model


@pytest.fixture(scope="session")
def run_to_end() -> Callable[..., KCTModel]:
    """Build a KCTModel and step it until ``running`` turns False; return the model."""
    return _run_to_end
