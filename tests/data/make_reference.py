"""Write ``reference_runs.parquet``: per-tick metrics and a ledger digest of fixed runs.

A regression snapshot of the current rules, not an oracle: ``tests/test_reference.py``
checks that the code still reproduces it, so an unintended change of any metric or
money flow shows. It says nothing about whether the rules are right. Regenerate it
with every intended change of the model, and say in docs/ODD.md what changed and
why (last: the government's direction as its estimate of the target,
``imitation_cost`` 0.65, equal ``rnd_efficiency``):

    .venv/bin/python tests/data/make_reference.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kctsim.results import run_model

TECHNOLOGIES = ("key_generic", "cutting_edge", "major_strategic")
REGIMES = ("spiral", "jungle", "main_layout", "dislocated", "path_dependent", "misallocated")
TICKS = 60
SEED = 11
PATH = Path(__file__).with_name("reference_runs.parquet")


def reference_frame() -> pd.DataFrame:
    """Metrics of every type x preset run, one row per tick, with the ledger's
    total amount and number of transfers per tick alongside."""
    frames = []
    for tech in TECHNOLOGIES:
        for regime in REGIMES:
            r = run_model(tech, regime, horizon=TICKS, seed=SEED)
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
    frame = reference_frame()
    frame.to_parquet(PATH, index=False)
    print(f"{PATH}: {len(frame)} values, {PATH.stat().st_size / 1024:.0f} KiB")
