"""Mesa's own batch runner drives KCTModel (MESA_NOTES.md: users will try it)."""

from __future__ import annotations

import pandas as pd
import pytest
from mesa.batchrunner import batch_run

from kctsim import KCTModel
from kctsim.metrics import RUN_METRICS

MAX_STEPS = 5


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    results = batch_run(
        KCTModel,
        parameters={"technology": "key_generic", "regime": "spiral", "n_users": 50},
        rng=[1, 2],
        max_steps=MAX_STEPS,
        number_processes=1,
        data_collection_period=1,
        display_progress=False,
    )
    assert isinstance(results, list) and results
    return pd.DataFrame(results)


def test_batch_run_returns_one_row_per_seed_and_step_with_our_metrics(rows):
    assert sorted(rows["rng"].unique()) == [1, 2]
    assert len(rows) == 2 * (MAX_STEPS + 1)  # ticks 0 (initial state) .. MAX_STEPS
    for _, run in rows.groupby("RunId"):
        assert run["Step"].tolist() == list(range(MAX_STEPS + 1))
        assert run["tick"].tolist() == list(range(MAX_STEPS + 1))
    missing = [m for m in RUN_METRICS if m not in rows.columns]
    assert not missing, f"metrics missing from batch_run rows: {missing}"
    assert (rows["technology"] == "key_generic").all()
    assert (rows["regime"] == "spiral").all()


def test_batch_run_seeds_give_different_runs(rows):
    by_seed = {seed: run.set_index("Step") for seed, run in rows.groupby("rng")}
    metric_columns = [m for m in RUN_METRICS if m != "tick"]
    a = by_seed[1][metric_columns]
    b = by_seed[2][metric_columns]
    assert not a.equals(b)


def test_batch_run_reproduces_a_direct_run(rows):
    model = KCTModel(technology="key_generic", regime="spiral", n_users=50, rng=2)
    for _ in range(MAX_STEPS):
        model.step()
    direct = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    batch = rows[rows["rng"] == 2].reset_index(drop=True)[list(direct.columns)]
    pd.testing.assert_frame_equal(direct, batch, check_dtype=False)
