"""The causal mechanisms of docs/ODD.md section 4 emerge from agents' decisions.

Each test changes only the levers that define a mechanism, keeps everything
else (regime, technology, seeds) the same, and compares replicates paired by
seed (common random numbers).
"""

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from scipy import stats

from kctsim.results import run_model


def _final_metrics(args) -> dict[str, float]:
    technology, regime, seed, overrides = args
    metrics = run_model(technology, regime, seed=seed, **overrides).metrics
    return {
        "contribution": metrics.mean_contribution.iloc[-1],
        "contribution_gap": metrics.contribution_gap.iloc[-1],
        "free_riding": metrics.free_riding_share.iloc[-1],
        "diversity": metrics.diversity.iloc[-1],
        "lock_in": metrics.lock_in.mean(),  # share locked in, averaged over the run
        "misallocation": metrics.misallocation_index.mean(),
        "blockage": metrics.chain_blockage.iloc[-1],
    }


def _paired(technology, regime, seeds, a: dict, b: dict) -> tuple[dict, dict]:
    """Run both lever settings on the same seeds; return metric arrays per setting."""
    jobs = [(technology, regime, s, a) for s in seeds] + [(technology, regime, s, b) for s in seeds]
    with ProcessPoolExecutor(2) as pool:
        rows = list(pool.map(_final_metrics, jobs))
    n = len(seeds)
    keys = rows[0].keys()
    first = {k: np.array([r[k] for r in rows[:n]]) for k in keys}
    second = {k: np.array([r[k] for r in rows[n:]]) for k in keys}
    return first, second


@pytest.mark.xfail(
    strict=True,
    reason="free-riding no longer emerges measurably (docs/ODD.md, known issue U): with "
    "imitation at 0.65 of the innovation's cost, equal R&D efficiency, one public purse "
    "and earned breakthroughs, 200 paired replicates give a contribution gap larger by "
    "0.028 (se 0.027, p 0.31) under leaking; strict, so a change that brings it back shows",
)
def test_leaking_results_lowers_contribution():
    """Free-riding (docs/ODD.md, section 4): where results leak to everyone (public
    leaks and open links), imitators keep up for less, contributions r fall and the
    capital-weighted contribution falls further below its start (a larger gap).

    Measured under subject dislocation (the cause regime of P1) on the cutting-edge
    type, which has no foreign frontier to copy, so that domestic spillovers are
    what leaks.
    """
    leaky, tight = _paired(
        "cutting_edge",
        "dislocated",
        range(48),
        {"spillover": 1.0, "ip_protection": 0.0, "info_sharing": 1.0},
        {"spillover": 1.0, "ip_protection": 1.0, "info_sharing": 0.0},
    )
    gap_leaky, gap_tight = leaky["contribution_gap"], tight["contribution_gap"]
    assert gap_leaky.mean() > gap_tight.mean()
    assert stats.ttest_rel(gap_leaky, gap_tight).pvalue < 0.05
    assert leaky["contribution"].mean() < tight["contribution"].mean()
    assert leaky["free_riding"].mean() > tight["free_riding"].mean()


def test_imitation_only_local_search_lowers_diversity_and_locks_in():
    """Path dependence (Levinthal 1997): imitating first and searching only locally
    makes designs converge and leaves agents stuck on local optima below the target."""
    path, open_search = _paired(
        "cutting_edge",
        "jungle",
        range(100),  # lock-in rises by about 0.02 (se 0.006 over 200 replicates)
        {"imitation_bias": 0.95, "risk_tolerance": 0.0},
        {},
    )
    assert path["diversity"].mean() < open_search["diversity"].mean()
    assert stats.ttest_rel(path["diversity"], open_search["diversity"]).pvalue < 0.05
    assert path["lock_in"].mean() > open_search["lock_in"].mean()
    assert stats.ttest_rel(path["lock_in"], open_search["lock_in"]).pvalue < 0.05


def test_fixed_front_loaded_split_raises_misallocation_and_blockage():
    """Resource misallocation: a stage split fixed in advance and spent early departs
    from what the chain's stages need, and starves the bottleneck stage."""
    fixed, following = _paired(
        "major_strategic",
        "main_layout",
        range(6),
        {"stage_weights": [0.1, 0.3, 0.6], "bottleneck_following": 0.0, "front_loading": 0.8},
        {},
    )
    assert (fixed["misallocation"] > following["misallocation"]).all()
    assert fixed["blockage"].mean() > following["blockage"].mean()
