"""The statistics of the propositions: time to breakthrough, tests, intervals.

Time to breakthrough is right-censored at the horizon: a run that has not
broken through by then is censored there. Every run of a comparison has the
same horizon, so the Kaplan–Meier estimate equals the empirical distribution;
scipy.stats computes it (``ecdf``) and the log-rank test (``logrank``). The
verdicts read restricted mean times (RMST) with paired t intervals, the
difference curve with a simultaneous band and the replicates a target width
needs (the second half of this module; docs/propositions.md states the design).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


# ------------------------------------------------ restricted mean time (RMST)
#
# Every run of a comparison shares one horizon and nothing else censors it, so
# min(T, tau) is observed for every run with tau <= horizon: the RMST of a
# regime is the plain mean of min(T, tau), and the RMST difference of two
# regimes is the mean of the paired differences (replicate i shares its seed).
# A t interval on those differences is the matching paired interval.


def restricted_times(ticks: Sequence[float] | np.ndarray, tau: float) -> np.ndarray:
    """min(T, tau) per run; NaN (no breakthrough by the horizon, which is >= tau) is tau."""
    t = np.asarray(ticks, dtype=float)
    return np.where(np.isfinite(t), np.minimum(t, tau), float(tau))


@dataclass(frozen=True)
class Estimate:
    """A mean effect with its interval and the two-sided p-value of "effect = 0".

    ``sd`` is the standard deviation of the per-replicate values behind the
    deciding comparison (what a sample size is planned from).
    """

    effect: float
    low: float
    high: float
    p_value: float
    n: int
    sd: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def smallest_mean_interval(samples: Sequence[np.ndarray], alpha: float) -> Estimate:
    """Interval for the smallest of k means (one row of per-replicate values each).

    With k = 1 this is the two-sided 1 - alpha t interval. With k > 1 it is the
    intersection-union construction for min_j mu_j: the lower bound is the
    smallest of the k lower bounds at one-sided alpha/2 (an error needs the
    bound of the smallest mean to fail: probability <= alpha/2, no adjustment),
    the upper bound the smallest of the upper bounds at one-sided alpha/(2k)
    (an error needs any of them to fail: Bonferroni over the k). Coverage is
    at least 1 - alpha whatever the true means.

    The p-value is dual to the interval (the interval excludes 0 exactly when
    p < alpha): the largest of the k two-sided t-test p-values when the
    smallest mean is positive, k times the smallest p among negative means
    when it is negative.
    """
    x = np.atleast_2d(np.asarray(samples, dtype=float))
    k, n = x.shape
    if n < 2:
        raise ValueError("smallest_mean_interval: at least two replicates needed")
    mean = x.mean(axis=1)
    sd = x.std(axis=1, ddof=1)
    se = sd / np.sqrt(n)
    q_low = stats.t.ppf(1 - alpha / 2, n - 1)
    q_high = stats.t.ppf(1 - alpha / (2 * k), n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(
            se > 0,
            2 * stats.t.sf(np.abs(mean) / np.where(se > 0, se, 1.0), n - 1),
            np.where(mean == 0, 1.0, 0.0),  # no variation: the mean is exact
        )
    j = int(np.argmin(mean))
    effect = float(mean[j])
    p_value = float(p.max()) if effect >= 0 else float(min(1.0, k * p[mean < 0].min()))
    return Estimate(
        effect=effect,
        low=float((mean - q_low * se).min()),
        high=float((mean + q_high * se).min()),
        p_value=p_value,
        n=n,
        sd=float(sd.max()),
    )


def four_way_verdict(low: float, high: float, delta: float) -> str:
    """The verdict an interval gives against a smallest effect of interest ``delta``.

    supported: above 0; contradicted: below 0; equivalent: inside (-delta,
    +delta) (both one-sided tests of |effect| >= delta reject: TOST);
    inconclusive: anything else. The sign comes first: an interval inside
    (0, delta) is supported (an effect surely positive, and surely smaller
    than delta).
    """
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    if -delta < low and high < delta:
        return "equivalent"
    return "inconclusive"


def bonferroni(p_values: Sequence[float]) -> np.ndarray:
    """Bonferroni adjustment (m p, capped at 1): dual to intervals at level 1 - alpha/m."""
    p = np.asarray(p_values, dtype=float)
    return np.minimum(len(p) * p, 1.0)


def interaction_weights(own_type: dict[str, str], types: Sequence[str]) -> np.ndarray:
    """Weights w[type, mode] of the mode x type contingency contrast C = sum w * RMST.

    a(t, m) = mean RMST of the other modes on type t minus RMST of mode m on t
    (how much sooner m breaks through t than its rivals). For each mode,
    its advantage on its own type minus its mean advantage on the other types;
    averaged over modes and scaled by (K - 1) / K so that, when RMST is
    additive in type and mode except that each matched cell is g quarters
    sooner, C = g. C > 0: each mode does better on its own type (the paper's
    contingency claim).

    Args:
        own_type: mode -> the type it is meant for (a one-to-one matching).
        types: the order of the rows.
    """
    modes = list(own_type)
    k = len(modes)
    if sorted(own_type.values()) != sorted(types) or k < 2:
        raise ValueError("interaction_weights: every type needs exactly one mode")
    rows = {t: i for i, t in enumerate(types)}
    weights = np.zeros((k, k))
    for mi, mode in enumerate(modes):
        advantage = np.zeros((k, k, k))  # advantage[t] is a(t, mode) as weights on RMST
        for t in range(k):
            advantage[t, t, :] = 1.0 / (k - 1)
            advantage[t, t, mi] = -1.0
        own = rows[own_type[mode]]
        others = [t for t in range(k) if t != own]
        weights += advantage[own] - advantage[others].mean(axis=0)
    return weights * (k - 1) / k / k


def difference_band(
    better_ticks: np.ndarray,
    worse_ticks: np.ndarray,
    horizon: int,
    rng: np.random.Generator,
    confidence: float = CONFIDENCE,
    n_resamples: int = 1000,
) -> pd.DataFrame:
    """P_better(t) - P_worse(t), t = 0..horizon, with a simultaneous band.

    P(t) is the share of runs broken through by tick t (the Kaplan-Meier
    estimate: the only censoring is the common horizon). Runs are paired by
    replicate. The band is a sup-t band from a Gaussian multiplier bootstrap
    of the paired indicator differences: with probability ``confidence`` it
    covers the whole true curve at once, not just each tick. The area under
    the curve up to tau is the RMST difference at tau.

    Returns:
        columns ``tick``, ``difference``, ``low``, ``high``; ``attrs["critical"]``
        holds the band's multiplier of the pointwise standard error.
    """
    b = np.asarray(better_ticks, dtype=float)
    w = np.asarray(worse_ticks, dtype=float)
    if b.shape != w.shape or b.ndim != 1 or len(b) < 2:
        raise ValueError("difference_band: two paired samples of equal length >= 2")
    grid = np.arange(horizon + 1, dtype=float)
    with np.errstate(invalid="ignore"):  # NaN (never broke through) compares False
        x = (b[:, None] <= grid).astype(float) - (w[:, None] <= grid).astype(float)
    n = len(b)
    diff = x.mean(axis=0)
    centred = x - diff
    se = centred.std(axis=0, ddof=1) / np.sqrt(n)
    varies = se > 0
    if varies.any():
        boot = rng.standard_normal((n_resamples, n)) @ centred[:, varies] / n
        critical = float(np.quantile(np.abs(boot / se[varies]).max(axis=1), confidence))
    else:
        critical = 0.0
    out = pd.DataFrame(
        {
            "tick": grid.astype(int),
            "difference": diff,
            "low": np.clip(diff - critical * se, -1.0, 1.0),
            "high": np.clip(diff + critical * se, -1.0, 1.0),
        }
    )
    out.attrs["critical"] = critical
    return out


def replicates_for_width(
    sd: float,
    half_width: float,
    alpha_low: float,
    alpha_high: float,
    pilot: int | None = None,
    sd_confidence: float = 0.8,
) -> int:
    """Smallest n whose interval (one-sided levels ``alpha_low`` below and
    ``alpha_high`` above the mean) is at most 2 ``half_width`` wide for
    per-replicate values of standard deviation ``sd``.

    With ``pilot`` (the number of replicates ``sd`` was estimated from), ``sd``
    is replaced by its upper ``sd_confidence`` chi-square confidence bound, so
    that the final interval meets the width with about that probability
    instead of about one half (an internal pilot: the rule reads only the
    variance, never the effect).
    """
    if half_width <= 0 or not np.isfinite(sd) or sd < 0:
        raise ValueError("replicates_for_width: half_width > 0 and a finite sd >= 0")
    if pilot is not None:
        if pilot < 2:
            raise ValueError("replicates_for_width: a pilot of at least 2 replicates")
        sd = sd * np.sqrt((pilot - 1) / stats.chi2.ppf(1 - sd_confidence, pilot - 1))
    if sd == 0:
        return 2

    def width(n: int) -> float:
        q = stats.t.ppf(1 - alpha_low, n - 1) + stats.t.ppf(1 - alpha_high, n - 1)
        return q * sd / np.sqrt(n)

    z = stats.norm.ppf(1 - alpha_low) + stats.norm.ppf(1 - alpha_high)
    n = max(2, int(np.ceil((z * sd / (2 * half_width)) ** 2)))  # t > z: never too many
    while width(n) > 2 * half_width:
        n += 1
    return n
