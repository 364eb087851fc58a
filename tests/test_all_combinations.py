"""Every technology type runs under every regime preset with sane metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kctsim.config import load_technology, regime_names, technology_names
from kctsim.results import run_model

HORIZON = 20
COMBINATIONS = [(t, g) for t in technology_names() for g in regime_names()]
NAN_UNTIL_EVENT = ("breakthrough_tick", "lead")
COUNTS = ("n_leader_firm", "n_sme", "n_state_org", "n_university", "n_scientist", "n_user")
EVENTS = ("exits", "entries", "startups")
SHARES = (
    "hazard",
    "p_breakthrough",
    "best_fitness",
    "mean_fitness",
    "spillover_share",
    "free_riding_share",
    "misallocation_index",
    "diversity",
    "lock_in",
    "imitation_share",
    "density",
    "clustering",
    "centralisation",
    "adoption_share",
)


def test_there_are_eighteen_combinations():
    assert len(COMBINATIONS) == 3 * 6


@pytest.mark.parametrize(("technology", "regime"), COMBINATIONS)
def test_every_combination_runs_with_finite_sane_metrics(technology, regime):
    res = run_model(technology, regime, horizon=HORIZON, seed=4)
    m = res.metrics
    assert m["tick"].tolist() == list(range(HORIZON + 1))
    assert len(res.ledger) > 0
    assert len(res.summary) == 1

    numeric = m.drop(columns=list(NAN_UNTIL_EVENT)).select_dtypes("number")
    assert numeric.shape[1] == m.shape[1] - len(NAN_UNTIL_EVENT), "non-numeric metric columns"
    bad = [c for c in numeric.columns if not np.isfinite(numeric[c].to_numpy(float)).all()]
    assert not bad, f"non-finite values in {bad}"

    # NaN exactly until the event that defines them.
    broke = m["breakthrough"] == 1
    assert m["breakthrough_tick"].isna().equals(~broke)
    if broke.any():
        first = int(m.loc[broke, "tick"].iloc[0])
        assert (m.loc[broke, "breakthrough_tick"] == first).all()
        assert broke.loc[m["tick"] >= first].all(), "breakthrough is absorbing"
    # lead: NaN without a foreign rival in the technology (nobody to lead or
    # follow) and until one side arrives; then 1 if the domestic system was first.
    decided = broke | (m["rival_reached"] == 1)
    if load_technology(technology).rival_hazard == 0:
        assert (m["rival_reached"] == 0).all()
        assert m["lead"].isna().all()
    else:
        assert m["lead"].isna().equals(~decided)
        assert m.loc[decided, "lead"].isin([0.0, 1.0]).all()

    for col in (*COUNTS, *EVENTS):
        assert (m[col] >= 0).all(), col
        assert (m[col] == m[col].round()).all(), col
    for col in SHARES:
        assert m[col].between(0.0, 1.0).all(), f"{col} outside [0, 1]"
    assert (m["mean_fitness"] <= m["best_fitness"] + 1e-12).all()
    assert (m["gov_money"] >= 0).all() and (m["private_rnd"] >= 0).all()
    stage_funding = m.filter(regex=r"^stage_funding_\d+$")
    stage_need = m.filter(regex=r"^stage_need_\d+$")
    progress = m.filter(regex=r"^stage_progress_\d+$")
    assert stage_funding.shape[1] == stage_need.shape[1] == progress.shape[1] >= 1
    np.testing.assert_allclose(stage_funding.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(stage_need.sum(axis=1), 1.0, atol=1e-9)
    assert ((progress >= 0) & (progress <= 1)).all().all()
    assert m["chain_blockage"].is_monotonic_increasing

    ledger = res.ledger
    assert isinstance(ledger, pd.DataFrame)
    assert (ledger["amount"] > 0).all()
    assert ledger["tick"].between(0, HORIZON).all()
