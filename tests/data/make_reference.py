"""Write the reference runs: per-tick metrics and a ledger digest of fixed runs.

A regression snapshot of the current rules, not an oracle: it says nothing about
whether the rules are right, only that a change of code that was not meant to
change the model did not. ``tests/test_reference.py`` checks that the current
code reproduces it. The first snapshot was made from the numpy formulation of the
mechanisms (commit da8618d) before they were compiled with numba, which showed the
kernels compute the same rules with the same random draws; the kernels have been
held to it since, and it is made again whenever the rules change on purpose.

Two files: ``reference_runs.parquet`` at the defaults (one public purse), and
``reference_runs_unlimited.parquet`` with ``budget_neutral = false``, the treasury
covering rescues and top-ups without limit (docs/ODD.md, 7.10).
Regenerate them only for an intended change of the model (and say why in
docs/ODD.md):

    .venv/bin/python tests/data/make_reference.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kctsim.results import run_model

TECHNOLOGIES = ("key_generic", "cutting_edge", "major_strategic")
REGIMES = ("spiral", "jungle", "main_layout", "dislocated", "path_dependent", "misallocated")
TICKS = 60
SEED = 11
PATH = Path(__file__).with_name("reference_runs.parquet")
UNLIMITED_PATH = Path(__file__).with_name("reference_runs_unlimited.parquet")
UNLIMITED = {"budget_neutral": False}


def reference_frame(**overrides: Any) -> pd.DataFrame:
    """Metrics of every type x preset run, one row per tick, with the ledger's
    total amount and number of transfers per tick alongside."""
    frames = []
    for tech in TECHNOLOGIES:
        for regime in REGIMES:
            r = run_model(tech, regime, horizon=TICKS, seed=SEED, **overrides)
            ledger = r.ledger.groupby("tick")["amount"].agg(["sum", "size"])
            m = r.metrics.set_index("tick")
            m["ledger_amount"] = ledger["sum"].reindex(m.index, fill_value=0.0)
            m["ledger_rows"] = ledger["size"].reindex(m.index, fill_value=0).astype(float)
            m = m.reset_index().melt(id_vars="tick", var_name="metric", value_name="value")
            m.insert(0, "regime", regime)
            m.insert(0, "technology", tech)
            frames.append(m)
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    for path, overrides in ((PATH, {}), (UNLIMITED_PATH, UNLIMITED)):
        frame = reference_frame(**overrides)
        frame.to_parquet(path, index=False)
        print(f"{path}: {len(frame)} values, {path.stat().st_size / 1024:.0f} KiB")
