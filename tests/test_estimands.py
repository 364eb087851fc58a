"""The estimands and intervals of the verdicts, on synthetic data whose answer is known.

Breakthrough ticks are geometric with per-tick hazard h (T in 1, 2, ...), so
P(T <= t) = 1 - (1 - h)^t and RMST(tau) = E[min(T, tau)] = (1 - (1 - h)^tau) / h
are exact oracles; coverage is checked over a few hundred simulated datasets.
"""

import numpy as np
import pytest
from scipy import stats

from kctsim.analysis import stats as st
from kctsim.analysis.propositions import Plan, load_plan

ALPHA = 0.05


def rmst_geometric(h: float, tau: int) -> float:
    return (1 - (1 - h) ** tau) / h


def geometric_ticks(rng, h, size, horizon):
    """Geometric ticks, NaN where the run has not broken through by the horizon."""
    t = rng.geometric(h, size=size).astype(float)
    return np.where(t <= horizon, t, np.nan)


def test_restricted_times_cap_at_tau_and_count_no_breakthrough_as_tau():
    got = st.restricted_times([3.0, 25.0, np.nan, 20.0], 20)
    assert got.tolist() == [3.0, 20.0, 20.0, 20.0]


def test_rmst_difference_is_the_area_between_the_kaplan_meier_curves():
    rng = np.random.default_rng(1)
    better, worse = geometric_ticks(rng, 0.08, 300, 80), geometric_ticks(rng, 0.04, 300, 80)
    tau = 20
    effect = (st.restricted_times(worse, tau) - st.restricted_times(better, tau)).mean()

    def area(ticks):  # sum over t < tau of the KM survival S(t), scipy's estimate
        cdf = stats.ecdf(st.censored(ticks, 80)).cdf
        return float(np.sum(1 - cdf.evaluate(np.arange(tau))))

    assert effect == pytest.approx(area(worse) - area(better), abs=1e-9)


def test_rmst_agrees_with_lifelines():
    lifelines = pytest.importorskip("lifelines")  # pins pandas < 3: a test oracle, not a dep
    from lifelines.utils import restricted_mean_survival_time

    rng = np.random.default_rng(2)
    ticks = geometric_ticks(rng, 0.05, 200, 80)
    for tau in (20, 40, 80):
        km = lifelines.KaplanMeierFitter().fit(
            np.where(np.isfinite(ticks), ticks, 80.0), np.isfinite(ticks)
        )
        expected = restricted_mean_survival_time(km, t=tau)
        assert st.restricted_times(ticks, tau).mean() == pytest.approx(expected, abs=1e-9)


def test_one_comparison_is_scipys_paired_t_interval():
    rng = np.random.default_rng(3)
    better, worse = rng.normal(10, 4, 50), rng.normal(11, 4, 50)
    est = st.smallest_mean_interval([worse - better], ALPHA)
    ref = stats.ttest_rel(worse, better)
    ci = ref.confidence_interval(1 - ALPHA)
    assert (est.low, est.high) == pytest.approx((ci.low, ci.high))
    assert est.p_value == pytest.approx(ref.pvalue)
    assert est.effect == pytest.approx((worse - better).mean())


def _paired_rmst_differences(rng, h_better, h_worse, n, tau, datasets):
    """(datasets, n) paired differences of min(T, tau), sharing part of the noise."""
    u = rng.random((datasets, n))  # common random numbers: one uniform drives both
    better = np.ceil(np.log1p(-u) / np.log1p(-h_better))
    worse = np.ceil(np.log1p(-u) / np.log1p(-h_worse))
    return np.minimum(worse, tau) - np.minimum(better, tau)


def test_the_paired_interval_covers_the_true_rmst_difference_at_its_level():
    rng = np.random.default_rng(4)
    tau = 20
    truth = rmst_geometric(0.05, tau) - rmst_geometric(0.1, tau)
    d = _paired_rmst_differences(rng, 0.1, 0.05, 60, tau, 400)
    ests = [st.smallest_mean_interval([row], ALPHA) for row in d]
    coverage = np.mean([e.low <= truth <= e.high for e in ests])
    assert 0.91 <= coverage <= 0.985  # nominal 0.95; 400 datasets: SE 0.011


@pytest.mark.parametrize("h_rivals", [(0.05, 0.05), (0.05, 0.02)], ids=["tied", "apart"])
def test_the_smallest_of_two_differences_is_covered_at_least_at_its_level(h_rivals):
    rng = np.random.default_rng(5)
    tau, n = 20, 60
    truth = min(rmst_geometric(h, tau) for h in h_rivals) - rmst_geometric(0.1, tau)
    rows = [_paired_rmst_differences(rng, 0.1, h, n, tau, 300) for h in h_rivals]
    covered = [
        (e := st.smallest_mean_interval([rows[0][i], rows[1][i]], ALPHA)).low <= truth <= e.high
        for i in range(300)
    ]
    assert np.mean(covered) >= 0.92  # at least 0.95 by construction


def test_the_interval_excludes_zero_exactly_when_p_is_below_alpha():
    rng = np.random.default_rng(6)
    for _ in range(200):
        k = int(rng.integers(1, 4))
        x = rng.normal(rng.normal(0, 0.4, (k, 1)), 1.0, (k, 25))
        e = st.smallest_mean_interval(x, ALPHA)
        assert (e.low > 0 or e.high < 0) == (e.p_value < ALPHA)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.2, 3.0, "supported"),
        (-3.0, -0.2, "contradicted"),
        (-0.6, 0.8, "equivalent"),
        (-0.6, 1.2, "inconclusive"),
        (-1.0, 0.5, "inconclusive"),  # touching -delta is not inside
    ],
)
def test_four_outcomes_against_the_smallest_effect_of_interest(low, high, expected):
    assert st.four_way_verdict(low, high, delta=1.0) == expected


def test_equivalence_is_statsmodels_two_one_sided_tests():
    weightstats = pytest.importorskip("statsmodels.stats.weightstats")
    rng = np.random.default_rng(7)
    delta, agreed = 1.0, 0
    for _ in range(100):
        better = rng.normal(10, 2, 80)
        worse = better + rng.normal(rng.normal(0, 0.5), 1.5, 80)
        e = st.smallest_mean_interval([worse - better], ALPHA)
        if not e.low <= 0 <= e.high:
            continue  # supported or contradicted come first
        # The 1 - alpha two-sided interval inside the margins = both one-sided
        # tests rejecting at alpha / 2.
        p_tost = weightstats.ttost_paired(worse, better, -delta, delta)[0]
        equivalent = st.four_way_verdict(e.low, e.high, delta) == "equivalent"
        assert equivalent == (p_tost < ALPHA / 2)
        agreed += equivalent
    assert 10 < agreed < 60  # both outcomes were exercised


def test_bonferroni_multiplies_by_the_family_size_and_caps_at_one():
    assert st.bonferroni([0.01, 0.2, 0.5]).tolist() == pytest.approx([0.03, 0.6, 1.0])


TYPES = ["key_generic", "cutting_edge", "major_strategic"]
OWN = {"spiral": "key_generic", "jungle": "cutting_edge", "main_layout": "major_strategic"}


@pytest.mark.parametrize("g", [0.0, 2.5, -1.0])
def test_the_contingency_contrast_recovers_the_matched_cells_advantage(g):
    rng = np.random.default_rng(8)
    w = st.interaction_weights(OWN, TYPES)
    # RMST additive in type and mode, each matched cell g quarters sooner.
    rmst = rng.normal(30, 5, (3, 1)) + rng.normal(0, 5, (1, 3)) - g * np.eye(3)
    assert (w * rmst).sum() == pytest.approx(g)


def test_the_contingency_contrast_ignores_type_and_mode_main_effects():
    w = st.interaction_weights(OWN, TYPES)
    assert w.sum(axis=0) == pytest.approx(0.0)
    assert w.sum(axis=1) == pytest.approx(0.0)


def test_the_difference_curve_integrates_to_the_rmst_difference():
    rng = np.random.default_rng(9)
    better, worse = geometric_ticks(rng, 0.1, 200, 40), geometric_ticks(rng, 0.05, 200, 40)
    curve = st.difference_band(better, worse, 40, rng)
    for tau in (10, 20, 40):
        area = curve["difference"].to_numpy()[:tau].sum()
        rmst = (st.restricted_times(worse, tau) - st.restricted_times(better, tau)).mean()
        assert area == pytest.approx(rmst)


def test_the_simultaneous_band_covers_the_whole_true_curve_at_its_level():
    rng = np.random.default_rng(10)
    horizon, n, hb, hw = 30, 120, 0.08, 0.04
    t = np.arange(horizon + 1)
    truth = (1 - (1 - hb) ** t) - (1 - (1 - hw) ** t)
    covered = []
    for _ in range(200):
        u = rng.random(n)  # paired: one uniform drives both regimes
        better = np.ceil(np.log1p(-u) / np.log1p(-hb))
        worse = np.ceil(np.log1p(-rng.random(n)) / np.log1p(-hw))
        better[better > horizon] = np.nan
        worse[worse > horizon] = np.nan
        band = st.difference_band(better, worse, horizon, rng, n_resamples=400)
        covered.append(np.all((band["low"] <= truth + 1e-12) & (truth - 1e-12 <= band["high"])))
    assert 0.90 <= np.mean(covered) <= 0.99  # nominal 0.95 for the whole curve at once
    assert band.attrs["critical"] > stats.norm.ppf(0.975)  # wider than pointwise


def test_replicates_for_width_is_the_smallest_n_meeting_the_width():
    sd, half, alpha = 6.0, 0.5, ALPHA / 7
    n = st.replicates_for_width(sd, half, alpha / 2, alpha / 2)

    def scipy_half_width(size):  # a sample with SD exactly sd, through scipy's interval
        z = stats.norm.ppf((np.arange(size) + 0.5) / size)
        x = (z - z.mean()) / z.std(ddof=1) * sd
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(1 - alpha)
        return (ci.high - ci.low) / 2

    assert scipy_half_width(n) <= half < scipy_half_width(n - 1)


def test_planning_from_a_pilot_meets_the_width_with_the_stated_probability():
    rng = np.random.default_rng(11)
    sd, half, alpha, pilot = 5.0, 1.0, ALPHA, 40
    met = []
    for _ in range(300):
        s = rng.normal(0, sd, pilot).std(ddof=1)
        n = st.replicates_for_width(s, half, alpha / 2, alpha / 2, pilot=pilot, sd_confidence=0.8)
        final = rng.normal(0, sd, n)
        e = st.smallest_mean_interval([final], alpha)
        met.append(e.half_width <= half)
    assert np.mean(met) >= 0.72  # about 0.8 by design; about 0.5 without the bound


def test_the_shipped_estimands_are_rmst_at_20_40_80_with_delta_five_percent_of_tau():
    plan = load_plan()
    assert plan.primary == 20 and plan.taus == (20, 40, 80)
    assert plan.deltas == tuple(0.05 * t for t in plan.taus)
    assert plan.alpha == 0.05 and plan.pilot == 200 and plan.max_replicates == 2500


def test_runs_shorter_than_a_tau_measure_only_what_they_can():
    plan = Plan(taus=(40, 20, 80), primary=20, deltas=(2.0, 1.0, 4.0))
    assert plan.estimands(50) == [(40, 2.0, "secondary"), (20, 1.0, "primary")]
    assert plan.primary_estimand(50) == (20, 1.0)
    # Shorter than the primary tau (a tiny test suite): the horizon stands in for it.
    assert plan.estimands(8) == [(8, 0.4, "primary (horizon)")]
