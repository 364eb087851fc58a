"""The statistics of the propositions against known values and scipy."""

import numpy as np
import pytest
from scipy import stats

from kctsim.analysis import stats as st

NAN = np.nan


def test_breakthrough_curve_is_kaplan_meier_by_hand():
    # 8 runs, horizon 10: events at 2, 2, 5, 7, 9; three censored at the horizon.
    ticks = [2, 2, 5, 7, 9, NAN, NAN, NAN]
    curve = st.breakthrough_curve(ticks, horizon=10).set_index("tick")
    # Kaplan-Meier by hand: S drops by d/n at each event time.
    s, expected = 1.0, {}
    at_risk = 8
    for t in range(11):
        d = sum(1 for x in ticks if x == t)
        s *= 1 - d / at_risk
        at_risk -= d
        expected[t] = 1 - s
    assert curve["p"].to_dict() == pytest.approx(expected)
    assert curve.loc[10, "p"] == pytest.approx(5 / 8)
    assert (curve["low"] <= curve["p"] + 1e-12).all() and (
        curve["p"] <= curve["high"] + 1e-12
    ).all()
    assert curve.loc[1, ["low", "high"]].tolist() == [0.0, 0.0]  # before the first event


def test_breakthrough_curve_matches_scipy_ecdf():
    rng = np.random.default_rng(1)
    t = rng.integers(1, 40, size=50).astype(float)
    t[rng.random(50) < 0.3] = NAN
    curve = st.breakthrough_curve(t, horizon=40)
    reference = stats.ecdf(
        stats.CensoredData(uncensored=t[np.isfinite(t)], right=np.full(np.isnan(t).sum(), 40.0))
    )
    assert curve["p"].to_numpy() == pytest.approx(reference.cdf.evaluate(np.arange(41)))


def test_no_breakthrough_gives_a_flat_zero_curve():
    curve = st.breakthrough_curve([NAN, NAN, NAN], horizon=5)
    assert (curve[["p", "low", "high"]].to_numpy() == 0).all()


def test_restricted_mean_time_counts_censored_runs_at_the_horizon():
    assert st.restricted_mean_time(np.array([2.0, 4.0, NAN, NAN]), 10) == pytest.approx(6.5)


def _logrank_by_hand(a, b, horizon):
    """Mantel's log-rank statistic, written out (Collett, Modelling Survival Data, 2.6)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    times = np.unique(np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]]))
    ta = np.where(np.isfinite(a), a, horizon + 1)  # censored after every event
    tb = np.where(np.isfinite(b), b, horizon + 1)
    u = v = 0.0
    for t in times:
        na, nb = (ta >= t).sum(), (tb >= t).sum()
        da, db = (ta == t).sum(), (tb == t).sum()
        n, d = na + nb, da + db
        u += da - d * na / n
        if n > 1:
            v += d * (na / n) * (nb / n) * (n - d) / (n - 1)
    return float(stats.chi2.sf(u * u / v, 1))


def test_logrank_matches_the_textbook_formula():
    rng = np.random.default_rng(7)
    a = rng.geometric(0.08, size=60).astype(float)
    b = rng.geometric(0.04, size=60).astype(float)
    a[a > 30], b[b > 30] = NAN, NAN
    assert st.logrank_p(a, b, 30) == pytest.approx(_logrank_by_hand(a, b, 30), rel=1e-9)
    assert st.logrank_p(a, b, 30) < 0.05


def test_logrank_without_events_is_one():
    assert st.logrank_p([NAN, NAN], [NAN, NAN], 10) == 1.0


def _difference(a, b, axis=-1):
    return b.mean(axis=axis) - a.mean(axis=axis)


def test_paired_bootstrap_interval_covers_the_truth_about_95_percent():
    rng = np.random.default_rng(2024)
    truth, hits, trials = 1.5, 0, 300
    for _ in range(trials):
        shared = rng.normal(0, 3, size=40)  # common random numbers: correlated pairs
        a = shared + rng.normal(0, 1, size=40)
        b = shared + truth + rng.normal(0, 1, size=40)
        low, high = st.paired_bootstrap_ci([a, b], _difference, rng, n_resamples=999)
        hits += low <= truth <= high
    coverage = hits / trials
    # 300 trials: the binomial 99% range around 0.95 is about 0.91 to 0.98.
    assert 0.90 <= coverage <= 0.985, coverage


def test_pairing_narrows_the_interval_under_common_random_numbers():
    rng = np.random.default_rng(3)
    shared = rng.normal(0, 5, size=50)
    a, b = shared + rng.normal(0, 1, 50), shared + 1 + rng.normal(0, 1, 50)
    low, high = st.paired_bootstrap_ci([a, b], _difference, rng)
    # Unpaired, the standard error would be about 5 * sqrt(2 / 50) = 1; paired about 0.2.
    assert high - low < 1.2
    assert low > 0


def test_bootstrap_of_constant_samples_is_a_point():
    rng = np.random.default_rng(0)
    assert st.paired_bootstrap_ci([np.ones(5), np.ones(5) * 3], _difference, rng) == (2.0, 2.0)
