"""The breakthrough hazard is honest (docs/ODD.md, section 7.6).

h(t) is the model's own probability that the breakthrough happens in tick t,
given the state. Then N - sum of h over the ticks at risk is a martingale, so
over R independent replicates the realised number of breakthroughs N equals
the expected number sum(h) within sampling error:

    |N - sum h| <= 2.576 * sqrt(sum h (1 - h))      (99% interval)

The settings below are chosen so that a fair share of runs break through in
10 ticks (roughly 40-70%), for each technology type (foreign frontier and
blockade; no frontier with turbulence and a rival; a chain of stages).
Restricting the sum to ticks selected by a predictable rule (a window of
ticks) keeps the identity, which checks that h is honest early and late in a
run and not only on average.

The interval uses sum h(1-h), the variance of the breakthrough draws; the
imitation part of h is a Monte Carlo estimate (``hazard_samples`` draws from a
stream of its own), unbiased but adding a little variance that the interval
does not count.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from kctsim.model import KCTModel

Z99 = 2.576
Z_WINDOWS = 3.0  # three windows of ticks: a wider interval for each
REPLICATES = 200
FIRST_SEED = 20_240_000  # a block of seeds used by no other test
HORIZON = 10
SETTINGS = {
    # technology: (regime, cost_scale)
    "key_generic": ("spiral", 40.0),
    "cutting_edge": ("jungle", 20.0),
    "major_strategic": ("main_layout", 30.0),
}
COLUMNS = ("tick", "at_risk", "hazard", "p_breakthrough", "breakthrough", "breakthrough_tick")


def one_run(job: tuple[str, int]) -> dict[str, np.ndarray]:
    technology, seed = job
    regime, cost_scale = SETTINGS[technology]
    model = KCTModel(technology, regime, horizon=HORIZON, rng=seed, cost_scale=cost_scale)
    while model.running:
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    return {c: frame[c].to_numpy(dtype=float) for c in COLUMNS}


@pytest.fixture(scope="module")
def replicates() -> dict[str, list[dict[str, np.ndarray]]]:
    jobs = [(t, FIRST_SEED + i) for t in SETTINGS for i in range(REPLICATES)]
    methods = multiprocessing.get_all_start_methods()
    # forkserver: the test process may run threads (fork would warn of deadlocks).
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    processes = min(2, os.cpu_count() or 1)
    with context.Pool(processes) as pool:
        runs = pool.map(one_run, jobs, chunksize=10)
    out: dict[str, list[dict[str, np.ndarray]]] = {t: [] for t in SETTINGS}
    for (technology, _), run in zip(jobs, runs, strict=True):
        out[technology].append(run)
    return out


def at_risk_hazards(runs, with_tick: bool = False) -> tuple[np.ndarray, ...]:
    """Hazard and event indicator (and tick) of every tick at risk, over all runs."""
    h, event, tick = [], [], []
    for run in runs:
        risk = run["at_risk"] == 1
        h.append(run["hazard"][risk])
        event.append((run["breakthrough_tick"][risk] == run["tick"][risk]).astype(float))
        tick.append(run["tick"][risk])
    out = (np.concatenate(h), np.concatenate(event))
    return (*out, np.concatenate(tick)) if with_tick else out


@pytest.mark.parametrize("technology", list(SETTINGS))
def test_settings_give_an_informative_share_of_breakthroughs(replicates, technology):
    share = np.mean([run["breakthrough"][-1] for run in replicates[technology]])
    assert 0.1 <= share <= 0.9, (
        f"{technology}: {share:.0%} of runs broke through; recalibrate SETTINGS so the "
        "hazard test keeps its power"
    )


@pytest.mark.parametrize("technology", list(SETTINGS))
def test_realised_breakthroughs_equal_the_summed_hazard(replicates, technology):
    runs = replicates[technology]
    realised = sum(run["breakthrough"][-1] for run in runs)
    h, event = at_risk_hazards(runs)
    assert event.sum() == realised  # one event per run that broke through
    expected = h.sum()
    sd = np.sqrt((h * (1 - h)).sum())
    z = (realised - expected) / sd
    assert abs(realised - expected) <= Z99 * sd, (
        f"{technology}: {realised:.0f} breakthroughs in {len(runs)} runs, "
        f"sum of hazard {expected:.1f} (sd {sd:.1f}, z = {z:.2f})"
    )


@pytest.mark.parametrize(("first", "last"), [(1, 3), (4, 6), (7, HORIZON)])
def test_hazard_is_honest_early_and_late(replicates, first, last):
    # Pooled over the technology types, restricted to a window of ticks (a
    # predictable selection, so the identity holds in each window). Windows of
    # the hazard's own value would not do: its imitation part is a Monte Carlo
    # estimate, and selecting on an estimate's noise biases the comparison.
    runs = [run for runs in replicates.values() for run in runs]
    h, event, tick = at_risk_hazards(runs, with_tick=True)
    pick = (tick >= first) & (tick <= last)
    expected, realised = h[pick].sum(), event[pick].sum()
    sd = np.sqrt((h[pick] * (1 - h[pick])).sum())
    assert realised >= 10, f"too few breakthroughs in ticks {first}-{last} to judge"
    assert abs(realised - expected) <= Z_WINDOWS * sd, (
        f"ticks {first}-{last}: {realised:.0f} breakthroughs vs sum of hazard {expected:.1f} "
        f"(sd {sd:.1f}, z = {(realised - expected) / sd:.2f})"
    )


@pytest.mark.parametrize("technology", list(SETTINGS))
def test_at_risk_hazard_and_breakthrough_follow_each_other(replicates, technology):
    for run in replicates[technology]:
        tick, risk, h = run["tick"], run["at_risk"] == 1, run["hazard"]
        broke = run["breakthrough"] == 1
        assert ((h >= 0) & (h <= 1)).all()
        assert (h[~risk] == 0).all(), "hazard must be 0 when not at risk"
        assert not risk[0], "tick 0 is the initial state, not at risk"
        if broke.any():
            bt = run["breakthrough_tick"][-1]
            assert bt == tick[np.argmax(broke)]
            np.testing.assert_array_equal(risk, (tick >= 1) & (tick <= bt))
            np.testing.assert_array_equal(broke, tick >= bt)
        else:
            np.testing.assert_array_equal(risk, tick >= 1)
            assert np.isnan(run["breakthrough_tick"]).all()


@pytest.mark.parametrize("technology", list(SETTINGS))
def test_p_breakthrough_is_one_minus_survival_then_one(replicates, technology):
    for run in replicates[technology]:
        p, h = run["p_breakthrough"], run["hazard"]
        risk, broke = run["at_risk"] == 1, run["breakthrough"] == 1
        assert (np.diff(p) >= -1e-12).all(), "p_breakthrough must not decrease"
        survival = np.cumprod(np.where(risk, 1 - h, 1.0))
        before = ~broke
        np.testing.assert_allclose(p[before], 1 - survival[before], rtol=1e-12, atol=1e-12)
        assert (p[broke] == 1.0).all()
        assert p[0] == 0.0
