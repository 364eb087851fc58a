"""The statistics of the propositions: time to breakthrough, tests, intervals.

Time to breakthrough is right-censored at the horizon: a run that has not
broken through by then is censored there. Every run of a comparison has the
same horizon, so the Kaplan–Meier estimate equals the empirical distribution;
scipy.stats computes it (``ecdf``) and the log-rank test (``logrank``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
N_RESAMPLES = 2000


def censored(ticks: Sequence[float] | np.ndarray, horizon: int) -> stats.CensoredData:
    """Breakthrough ticks (NaN: none by the horizon) as right-censored data."""
    t = np.asarray(ticks, dtype=float)
    broke = np.isfinite(t)
    return stats.CensoredData(uncensored=t[broke], right=np.full((~broke).sum(), float(horizon)))


def breakthrough_curve(
    ticks: Sequence[float] | np.ndarray, horizon: int, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Cumulative breakthrough probability P(T <= t) for t = 0..horizon, with a
    pointwise confidence band (Greenwood's formula on the log-log scale).

    Returns:
        columns ``tick``, ``p``, ``low``, ``high``.
    """
    grid = np.arange(horizon + 1, dtype=float)
    t = np.asarray(ticks, dtype=float)
    if len(t) == 0:
        raise ValueError("breakthrough_curve: no runs")
    if not np.isfinite(t).any():  # no event: ecdf has nothing to estimate
        zeros = np.zeros_like(grid)
        return pd.DataFrame({"tick": grid.astype(int), "p": zeros, "low": zeros, "high": zeros})
    cdf = stats.ecdf(censored(t, horizon)).cdf
    with warnings.catch_warnings():  # undefined where P is 0 or 1: handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        band = cdf.confidence_interval(confidence, method="log-log")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = cdf.evaluate(grid)
        low, high = band.low.evaluate(grid), band.high.evaluate(grid)
    # Before the first event the band is undefined (0/0): the estimate is exactly 0 there.
    before = grid < np.nanmin(t)
    low = np.where(before | np.isnan(low), np.where(before, 0.0, p), low)
    high = np.where(before | np.isnan(high), np.where(before, 0.0, p), high)
    return pd.DataFrame({"tick": grid.astype(int), "p": p, "low": low, "high": high})


def restricted_mean_time(ticks: np.ndarray, horizon: int) -> np.ndarray:
    """Restricted mean time to breakthrough along the last axis: the mean of
    min(T, horizon), the area above the cumulative breakthrough curve up to the
    horizon. NaN ticks (no breakthrough) count as the horizon."""
    t = np.asarray(ticks, dtype=float)
    return np.where(np.isfinite(t), np.minimum(t, horizon), float(horizon)).mean(axis=-1)


def logrank_p(a: np.ndarray, b: np.ndarray, horizon: int) -> float:
    """Two-sided log-rank p-value of two samples of breakthrough ticks."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.isfinite(a).any() or np.isfinite(b).any()):
        return 1.0  # no event in either sample: nothing tells them apart
    return float(stats.logrank(censored(a, horizon), censored(b, horizon)).pvalue)


def two_proportion_p(successes_a: int, n_a: int, successes_b: int, n_b: int) -> float:
    """Two-sided pooled z-test of equal proportions (1.0 when the pooled rate is 0 or 1)."""
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0
    z = (successes_a / n_a - successes_b / n_b) / se
    return float(2 * stats.norm.sf(abs(z)))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (same order as given)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def paired_bootstrap_ci(
    samples: Sequence[np.ndarray],
    statistic: Callable[..., np.ndarray],
    rng: np.random.Generator,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over paired samples.

    The samples are paired by replicate (common random numbers: replicate i of
    every regime shares its seed), so whole replicates are resampled.
    ``statistic(*samples, axis=-1)`` must be vectorised along ``axis``.
    """
    data = [np.asarray(s, dtype=float) for s in samples]
    if len({len(d) for d in data}) != 1 or len(data[0]) < 2:
        raise ValueError("paired_bootstrap_ci: samples need equal lengths of at least 2")
    values = [statistic(*data, axis=-1)]
    if np.all([np.all(d == d[0]) for d in data]):
        return float(values[0]), float(values[0])  # no variation: a zero-width interval
    result = stats.bootstrap(
        data,
        statistic,
        paired=True,
        vectorized=True,
        method="percentile",
        confidence_level=confidence,
        n_resamples=n_resamples,
        rng=rng,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
