"""Verdicts, mechanism evidence, fit matrix and robustness on synthetic runs tables
whose truth is known by construction."""

import numpy as np
import pandas as pd
import pytest

from kctsim.analysis import robustness as rob
from kctsim.analysis import stats as st
from kctsim.analysis.propositions import (
    CONTINGENCY,
    VERDICT_COLUMNS,
    VERDICTS,
    evaluate,
    fit_matrix,
    load_propositions,
    mechanism_table,
    primary,
    required_replicates,
    times,
)
from kctsim.analysis.suite import difference_curves
from kctsim.config import regime_names, technology_names

HORIZON = 40


def synthetic_runs(
    hazard: dict[tuple[str, str], float],
    replicates: int = 60,
    seed: int = 0,
    metrics: dict[tuple[str, str], dict[str, float]] | None = None,
    point: int = 0,
    paired: bool = True,
) -> pd.DataFrame:
    """A runs table: every type x preset; breakthrough ticks geometric with the given
    per-tick hazard (default 0.05), censored at the horizon. Replicate i of every
    regime on a type draws from one uniform (common random numbers), so regimes
    with equal hazards give equal ticks (``paired=False``: independent draws)."""
    rng = np.random.default_rng(seed)
    rows = []
    for tech in technology_names():
        uniforms = rng.random(replicates)
        for regime in regime_names():
            if not paired:
                uniforms = rng.random(replicates)
            h = hazard.get((tech, regime), 0.05)
            extra = (metrics or {}).get((tech, regime), {})
            for r in range(replicates):
                t = float(np.ceil(np.log1p(-uniforms[r]) / np.log1p(-h))) if h > 0 else np.inf
                broke = t <= HORIZON
                row = {
                    "run_id": len(rows),
                    "technology": tech,
                    "regime": regime,
                    "point": point,
                    "replicate": r,
                    "status": "ok",
                    "horizon": HORIZON,
                    "broke_through": broke,
                    "breakthrough_tick": t if broke else np.nan,
                }
                for name in ("crowding_out", "free_riding_share", "diversity", "lock_in"):
                    row[name] = extra.get(name, 0.3) + rng.normal(0, 0.05)
                for name in ("misallocation_index", "chain_blockage"):
                    row[name] = extra.get(name, 0.1) + rng.normal(0, 0.05)
                rows.append(row)
    return pd.DataFrame(rows)


def primary_rows(runs: pd.DataFrame) -> pd.DataFrame:
    return primary(evaluate(runs)).set_index("proposition")


def test_one_row_per_proposition_and_tau_with_the_stated_columns():
    table = evaluate(synthetic_runs({}))
    assert tuple(table.columns[: len(VERDICT_COLUMNS)]) == VERDICT_COLUMNS
    keys = ["P1", "P2", "P3", "P4", "P5", "P6", CONTINGENCY]
    # Horizon 40: the primary tau 20 and the secondary 40 (80 is beyond the runs).
    assert table["proposition"].tolist() == keys * 2
    assert table["tau"].tolist() == [20] * 7 + [40] * 7
    assert table["delta"].tolist() == [1.0] * 7 + [2.0] * 7
    assert set(table["verdict"]) <= set(VERDICTS)
    assert len(load_propositions()) == 6


def test_a_proposition_built_to_hold_is_supported():
    runs = synthetic_runs({("key_generic", "spiral"): 0.25, ("key_generic", "dislocated"): 0.03})
    row = primary_rows(runs).loc["P1"]
    assert row["verdict"] == "supported"
    assert row["effect"] > 0 and row["ci_low"] > 0 and row["p_adjusted"] < 0.05
    truth = (1 - 0.97**20) / 0.03 - (1 - 0.75**20) / 0.25  # RMST(20) of geometric ticks
    assert row["ci_low"] < truth < row["ci_high"]


def test_identical_regimes_are_practically_equivalent():
    # Equal hazards and common random numbers: every paired difference is 0.
    runs = synthetic_runs({("key_generic", r): 0.05 for r in regime_names()}, seed=3)
    row = primary_rows(runs).loc["P1"]
    assert row["verdict"] == "equivalent"
    assert -row["delta"] < row["ci_low"] <= row["ci_high"] < row["delta"]


def test_a_small_difference_with_few_replicates_is_inconclusive():
    runs = synthetic_runs(
        {("key_generic", "spiral"): 0.06, ("key_generic", "dislocated"): 0.05},
        replicates=30,
        paired=False,
    )
    row = primary_rows(runs).loc["P1"]
    assert row["verdict"] == "inconclusive"
    assert row["ci_low"] <= 0 <= row["ci_high"] and row["ci_high"] - row["ci_low"] > 2


def test_a_proposition_built_backwards_is_contradicted():
    runs = synthetic_runs(
        {("cutting_edge", "jungle"): 0.02, ("cutting_edge", "path_dependent"): 0.3}, seed=1
    )
    row = primary_rows(runs).loc["P2"]
    assert row["verdict"] == "contradicted"
    assert row["ci_high"] < 0


def test_the_matched_mode_must_beat_every_other_mode():
    # Main layout beats spiral but only ties jungle on major strategic: not supported.
    runs = synthetic_runs(
        {
            ("major_strategic", "main_layout"): 0.2,
            ("major_strategic", "spiral"): 0.02,
            ("major_strategic", "jungle"): 0.2,
        },
        seed=5,
    )
    row = primary_rows(runs).loc["P6"]
    assert row["effect"] == 0 and row["verdict"] == "equivalent"


def test_the_intervals_are_adjusted_for_the_family():
    runs = synthetic_runs({("key_generic", "spiral"): 0.07})
    row = evaluate(runs).iloc[0]
    est = st.smallest_mean_interval(
        [
            st.restricted_times(times(runs, "key_generic", ("dislocated",))[0], 20)
            - st.restricted_times(times(runs, "key_generic", ("spiral",))[0], 20)
        ],
        0.05 / 7,  # six propositions and the contingency test
    )
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((est.low, est.high))
    assert row["p_adjusted"] == pytest.approx(min(1.0, 7 * row["p_value"]))


def test_common_random_numbers_pairs_are_kept_when_a_run_failed():
    runs = synthetic_runs({})
    failed = runs.index[(runs["technology"] == "key_generic") & (runs["regime"] == "dislocated")][0]
    runs.loc[failed, "status"] = "failed"
    row = primary_rows(runs)
    assert row.loc["P1", "replicates"] == 59  # the failed run's replicate dropped from the pair
    assert row.loc["P2", "replicates"] == 60


def test_the_contingency_test_finds_modes_that_fit_their_own_type():
    fits = {
        ("key_generic", "spiral"): 0.2,
        ("cutting_edge", "jungle"): 0.2,
        ("major_strategic", "main_layout"): 0.2,
    }
    assert primary_rows(synthetic_runs(fits)).loc[CONTINGENCY, "verdict"] == "supported"
    # Spiral fastest everywhere: a main effect of the mode, no fit to the type.
    no_fit = {(t, "spiral"): 0.2 for t in technology_names()}
    row = primary_rows(synthetic_runs(no_fit, replicates=200)).loc[CONTINGENCY]
    assert row["verdict"] != "supported" and row["ci_low"] < 0


def test_the_planned_replicates_make_every_primary_interval_decisive():
    hazards = {("key_generic", "spiral"): 0.08, ("cutting_edge", "jungle"): 0.06}
    plan = required_replicates(synthetic_runs(hazards, replicates=60, seed=7))
    assert not plan["capped"] and plan["replicates"] == plan["needed"] > 60
    table = primary_rows(synthetic_runs(hazards, replicates=plan["replicates"], seed=8))
    assert (table["half_width"] <= table["delta"] / 2).all()
    assert set(table["verdict"]) <= {"supported", "contradicted", "equivalent"}


def test_mechanism_evidence_follows_the_built_in_differences():
    metrics = {
        ("key_generic", "dislocated"): {"crowding_out": 0.6, "free_riding_share": 0.1},
        ("cutting_edge", "path_dependent"): {"diversity": 0.1, "lock_in": 0.7},
    }
    table = mechanism_table(synthetic_runs({}, metrics=metrics)).set_index(
        ["proposition", "metric"]
    )
    assert table.loc[("P1", "crowding_out"), "evidence"] == "agrees"
    assert table.loc[("P1", "free_riding_share"), "evidence"] == "against"  # 0.1 < 0.3
    assert table.loc[("P2", "diversity"), "evidence"] == "agrees"
    assert table.loc[("P2", "lock_in"), "evidence"] == "agrees"
    assert table.loc[("P3", "chain_blockage"), "evidence"] == "unclear"


def test_fit_matrix_is_three_types_by_three_modes_with_the_diagonal_marked():
    fit = fit_matrix(synthetic_runs({("cutting_edge", "jungle"): 0.0}))
    assert len(fit) == 9
    assert set(fit["regime"]) == {"spiral", "jungle", "main_layout"}
    matched = fit[fit["matched"]].set_index("technology")["regime"].to_dict()
    assert matched == {
        "key_generic": "spiral",
        "cutting_edge": "jungle",
        "major_strategic": "main_layout",
    }
    cell = fit.set_index(["technology", "regime"]).loc[("cutting_edge", "jungle")]
    assert cell["p_breakthrough"] == 0 and cell["rmst"] == HORIZON


def test_robustness_shares_and_drivers_find_the_parameter_that_flips_a_verdict():
    # Eight worlds; in each, spiral's hazard on key generic rises with a factor `x`:
    # below x = 0.5 spiral is slower than dislocated, above it faster.
    frames = []
    for point, x in enumerate(np.linspace(0, 1, 8)):
        h = 0.02 + 0.3 * x
        world = synthetic_runs(
            {("key_generic", "spiral"): h, ("key_generic", "dislocated"): 0.11},
            replicates=30,
            seed=point,
            point=point,
        )
        world["factor.x"] = x
        world["factor.noise"] = np.random.default_rng(point).random()
        frames.append(world)
    runs = pd.concat(frames, ignore_index=True)
    runs["run_id"] = range(len(runs))
    worlds = rob.world_effects(runs)
    p1 = worlds[worlds["proposition"] == "P1"].sort_values("x")
    assert p1["effect"].iloc[0] < 0 < p1["effect"].iloc[-1]
    verdicts = pd.DataFrame({"proposition": ["P1"], "verdict": ["supported"], "role": ["primary"]})
    share = rob.robustness_shares(worlds[worlds["proposition"] == "P1"], verdicts)["P1"]
    assert 0.25 <= share <= 0.75
    drivers = rob.drivers(worlds, ["x", "noise"])
    top = drivers[(drivers["proposition"] == "P1") & (drivers["rank"] == 1)].iloc[0]
    assert top["factor"] == "x" and top["rho"] > 0.8


@pytest.mark.parametrize(
    "verdict_name, effect, low, high, expected",
    [
        ("supported", 1.0, -1.0, 3.0, True),
        ("supported", -1.0, -3.0, 1.0, False),
        ("contradicted", -1.0, -3.0, 1.0, True),
        ("equivalent", 0.5, -3.0, 4.0, True),
        ("equivalent", 1.5, 1.2, 1.8, False),
        ("inconclusive", 1.0, -1.0, 3.0, True),
        ("inconclusive", 2.0, 1.0, 3.0, False),
    ],
)
def test_what_holding_means_for_each_verdict(verdict_name, effect, low, high, expected):
    assert rob.holds(verdict_name, effect, low, high, delta=1.0) is expected


def test_one_difference_curve_per_proposition_and_rival_whose_area_is_the_effect():
    runs = synthetic_runs({("key_generic", "spiral"): 0.2, ("key_generic", "dislocated"): 0.03})
    curves = difference_curves(runs, load_propositions())
    pairs = curves.groupby(["proposition", "worse"]).size()
    assert len(pairs) == 9 and set(pairs) == {HORIZON + 1}  # P1-P3 one rival, P4-P6 two
    p1 = curves[curves["proposition"] == "P1"]
    effect = primary_rows(runs).loc["P1", "effect"]
    assert p1["difference"].to_numpy()[:20].sum() == pytest.approx(effect)
    assert (p1["low"] <= p1["difference"]).all() and (p1["difference"] <= p1["high"]).all()
