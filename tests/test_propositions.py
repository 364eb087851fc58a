"""Verdicts, mechanism evidence, fit matrix and robustness on synthetic runs tables
whose truth is known by construction."""

import numpy as np
import pandas as pd
import pytest

from kctsim.analysis import robustness as rob
from kctsim.analysis.propositions import (
    evaluate,
    fit_matrix,
    load_propositions,
    mechanism_table,
    verdict,
)
from kctsim.config import regime_names, technology_names

HORIZON = 40


def synthetic_runs(
    hazard: dict[tuple[str, str], float],
    replicates: int = 60,
    seed: int = 0,
    metrics: dict[tuple[str, str], dict[str, float]] | None = None,
    point: int = 0,
) -> pd.DataFrame:
    """A runs table: every type x preset; breakthrough ticks geometric with the given
    per-tick hazard (default 0.05), censored at the horizon."""
    rng = np.random.default_rng(seed)
    rows = []
    for tech in technology_names():
        for regime in regime_names():
            h = hazard.get((tech, regime), 0.05)
            extra = (metrics or {}).get((tech, regime), {})
            for r in range(replicates):
                t = float(rng.geometric(h)) if h > 0 else np.inf
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


def test_the_verdict_table_has_exactly_the_six_propositions():
    table = evaluate(synthetic_runs({}))
    assert table["proposition"].tolist() == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert set(table["verdict"]) <= {"supported", "not supported", "contradicted"}
    assert len(load_propositions()) == 6


def test_a_proposition_built_to_hold_is_supported():
    runs = synthetic_runs({("key_generic", "spiral"): 0.25, ("key_generic", "dislocated"): 0.03})
    row = evaluate(runs).set_index("proposition").loc["P1"]
    assert row["verdict"] == "supported"
    assert row["effect"] > 0 and row["ci_low"] > 0 and row["p_holm"] < 0.05


def test_a_proposition_built_to_fail_is_not_supported():
    # Identical regimes on key generic: no difference to find.
    runs = synthetic_runs({("key_generic", r): 0.05 for r in regime_names()}, seed=3)
    row = evaluate(runs).set_index("proposition").loc["P1"]
    assert row["verdict"] == "not supported"
    assert row["ci_low"] <= 0 <= row["ci_high"]


def test_a_proposition_built_backwards_is_contradicted():
    runs = synthetic_runs(
        {("cutting_edge", "jungle"): 0.02, ("cutting_edge", "path_dependent"): 0.3}, seed=1
    )
    row = evaluate(runs).set_index("proposition").loc["P2"]
    assert row["verdict"] == "contradicted"
    assert row["ci_high"] < 0


def test_the_matched_mode_must_beat_every_other_mode():
    # Main layout beats spiral but not jungle on major strategic: P6 cannot be supported.
    runs = synthetic_runs(
        {
            ("major_strategic", "main_layout"): 0.2,
            ("major_strategic", "spiral"): 0.02,
            ("major_strategic", "jungle"): 0.2,
        },
        seed=5,
    )
    row = evaluate(runs).set_index("proposition").loc["P6"]
    assert row["verdict"] == "not supported"
    assert row["ci_low"] < 0 < row["ci_high"] or abs(row["effect"]) < 2


def test_verdict_rule_boundaries():
    assert verdict(0.01, 0.5, 2.0) == "supported"
    assert verdict(0.01, -2.0, -0.5) == "contradicted"
    assert verdict(0.2, 0.5, 2.0) == "not supported"
    assert verdict(0.01, -0.5, 2.0) == "not supported"


def test_common_random_numbers_pairs_are_kept_when_a_run_failed():
    runs = synthetic_runs({})
    failed = runs.index[(runs["technology"] == "key_generic") & (runs["regime"] == "dislocated")][0]
    runs.loc[failed, "status"] = "failed"
    row = evaluate(runs).set_index("proposition")
    assert row.loc["P1", "n_pairs"] == 59  # the failed run's replicate dropped from the pair
    assert row.loc["P2", "n_pairs"] == 60


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
    verdicts = pd.DataFrame({"proposition": ["P1"], "verdict": ["supported"]})
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
        ("not supported", 1.0, -1.0, 3.0, True),
        ("not supported", 2.0, 1.0, 3.0, False),
    ],
)
def test_what_holding_means_for_each_verdict(verdict_name, effect, low, high, expected):
    assert rob.holds(verdict_name, effect, low, high) is expected
