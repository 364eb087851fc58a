"""The model reproduces the pinned reference runs (tests/data/make_reference.py).

The reference is a regression snapshot of the current rules, not an oracle:
every per-tick metric and the ledger's per-tick totals must agree with it to
rounding until an intended change of the model regenerates it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_reference import PATH, REGIMES, TECHNOLOGIES, reference_frame  # noqa: E402


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(PATH), reference_frame()


def test_reference_covers_every_type_and_preset(frames):
    pinned, _ = frames
    pairs = set(zip(pinned.technology, pinned.regime, strict=True))
    assert pairs == {(t, r) for t in TECHNOLOGIES for r in REGIMES}


def test_model_reproduces_reference_runs(frames):
    pinned, current = frames
    assert len(current) == len(pinned)
    key = ["technology", "regime", "metric", "tick"]
    merged = pinned.merge(current, on=key, how="outer", suffixes=("_pinned", "_now"))
    assert merged.value_now.notna().sum() == pinned.value.notna().sum()
    same = np.isclose(merged.value_pinned, merged.value_now, rtol=1e-9, atol=1e-12, equal_nan=True)
    first = merged[~same].sort_values("tick").head(5)
    assert same.all(), f"differs from the reference, first at:\n{first.to_string()}"
