"""The six propositions as measured verdicts (docs/propositions.md).

Each proposition compares, on one technology type, the regime the paper says
works better with the regime(s) it says work worse (``data/propositions.toml``).

The verdict rule, stated once here and in every report:

* outcome: time to breakthrough, right-censored at the horizon;
* effect: the restricted mean time to breakthrough (RMST) of the worse
  regime minus that of the better one, in ticks (quarters) — the area between
  their cumulative breakthrough curves up to the horizon. With several worse
  regimes the effect is the smallest of these advantages (the better regime
  must beat every one of them). Positive supports the claim;
* its 95% confidence interval: percentile bootstrap over replicates, resampled
  in pairs because replicate i of every regime shares its seed;
* p: the log-rank test of the comparison that decides the effect (with several
  worse regimes: the largest p when the effect is positive, since all must be
  beaten; the p of the regime that beats the better one when it is negative),
  Holm-corrected across the six propositions;
* **supported**: Holm-corrected p < 0.05 and the interval above 0;
  **contradicted**: Holm-corrected p < 0.05 and the interval below 0;
  **not supported**: anything else.

The breakthrough probability at the horizon is reported beside it, with its
own interval and a two-proportion test, and the mechanism metrics with theirs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from kctsim.analysis import stats as st

ALPHA = 0.05
VERDICTS = ("supported", "not supported", "contradicted")
VERDICT_RULE = (
    "Effect = restricted mean time to breakthrough (RMST, quarters) of the worse regime(s) "
    "minus that of the better regime (the smallest such advantage when there are several), "
    "with a 95% paired percentile-bootstrap interval; p = log-rank test of the deciding "
    "comparison, Holm-corrected across the six propositions. Supported: corrected p < 0.05 "
    "and interval above 0. Contradicted: corrected p < 0.05 and interval below 0. "
    "Not supported: otherwise."
)
DIRECTIONS = {"higher": 1.0, "lower": -1.0}


@dataclass(frozen=True)
class Proposition:
    """One proposition as a comparison on one technology type."""

    key: str
    statement: str
    claim: str
    technology: str
    better: str
    worse: tuple[str, ...]
    mechanisms: dict[str, str] = field(default_factory=dict)

    @property
    def regimes(self) -> tuple[str, ...]:
        return (self.better, *self.worse)

    @property
    def comparison(self) -> str:
        return f"{self.better} vs {', '.join(self.worse)}"


def load_propositions() -> list[Proposition]:
    """The six propositions, as shipped in ``kctsim/data/propositions.toml``."""
    text = resources.files("kctsim").joinpath("data/propositions.toml").read_text("utf-8")
    return [
        Proposition(
            key=key,
            statement=spec["statement"],
            claim=spec["claim"],
            technology=spec["technology"],
            better=spec["better"],
            worse=tuple(spec["worse"]),
            mechanisms=dict(spec.get("mechanisms", {})),
        )
        for key, spec in tomllib.loads(text).items()
    ]


def fit_regimes(propositions: list[Proposition]) -> list[str]:
    """The breakthrough modes of the fit matrix: every regime some proposition calls better."""
    return list(dict.fromkeys(p.better for p in propositions))


# ------------------------------------------------------------------ pairing


def paired(
    runs: pd.DataFrame, technology: str, regimes: tuple[str, ...], column: str
) -> np.ndarray:
    """``column`` of the finished runs as a (regime, replicate) array, keeping only
    replicates that finished under every regime (pairs stay intact)."""
    ok = runs[(runs["status"] == "ok") & (runs["technology"] == technology)]
    ok = ok[ok["regime"].isin(regimes)]
    missing = [r for r in regimes if r not in set(ok["regime"])]
    if missing:
        raise ValueError(f"no finished runs of {technology} under {', '.join(missing)}")
    table = ok.pivot(index="replicate", columns="regime", values=column)[list(regimes)]
    complete = ok.groupby("replicate")["regime"].nunique() == len(regimes)
    return table.loc[complete[complete].index].to_numpy(dtype=float).T


def times(runs: pd.DataFrame, technology: str, regimes: tuple[str, ...]) -> np.ndarray:
    """Breakthrough ticks (NaN: none by the horizon), (regime, replicate)."""
    return paired(runs, technology, regimes, "breakthrough_tick")


def _horizon(runs: pd.DataFrame) -> int:
    horizons = runs.loc[runs["status"] == "ok", "horizon"].dropna().unique()
    if len(horizons) != 1:
        raise ValueError(f"runs must share one horizon, found {sorted(horizons)}")
    return int(horizons[0])


# --------------------------------------------------------------- statistics


def _advantage(better: np.ndarray, *worse: np.ndarray, axis: int = -1) -> np.ndarray:
    """Smallest mean advantage of ``better`` over the worse samples (vectorised)."""
    return np.min([w.mean(axis=axis) - better.mean(axis=axis) for w in worse], axis=0)


def _lead(better: np.ndarray, *worse: np.ndarray, axis: int = -1) -> np.ndarray:
    """Smallest lead in breakthrough share of ``better`` over the worse samples."""
    return np.min([better.mean(axis=axis) - w.mean(axis=axis) for w in worse], axis=0)


def _difference(better: np.ndarray, worse: np.ndarray, axis: int = -1) -> np.ndarray:
    return worse.mean(axis=axis) - better.mean(axis=axis)


@dataclass
class Outcome:
    """The measured comparison of one proposition on one set of runs."""

    n_pairs: int
    effect: float
    ci_low: float
    ci_high: float
    p_logrank: float
    p_two_prop: float
    p_better: float
    p_worse: dict[str, float]
    lead: float
    lead_low: float
    lead_high: float
    rmst: dict[str, float]


def compare(
    prop: Proposition, runs: pd.DataFrame, horizon: int, rng: np.random.Generator
) -> Outcome:
    """Effect, interval and tests of one proposition on ``runs``."""
    ticks = times(runs, prop.technology, prop.regimes)
    n = ticks.shape[1]
    if n < 2:
        raise ValueError(f"{prop.key}: fewer than two paired replicates")
    capped = np.where(np.isfinite(ticks), np.minimum(ticks, horizon), float(horizon))
    broke = np.isfinite(ticks).astype(float)
    effect = float(_advantage(*capped))
    low, high = st.paired_bootstrap_ci(list(capped), _advantage, rng)
    lead = float(_lead(*broke))
    lead_low, lead_high = st.paired_bootstrap_ci(list(broke), _lead, rng)
    advantages = [float(c.mean() - capped[0].mean()) for c in capped[1:]]
    p_lr = [st.logrank_p(ticks[0], t, horizon) for t in ticks[1:]]
    k = broke.sum(axis=1).astype(int)
    p_tp = [st.two_proportion_p(int(k[0]), n, int(kw), n) for kw in k[1:]]
    decider = int(np.argmin(advantages))
    if effect >= 0:
        p_logrank, p_two = max(p_lr), max(p_tp)
    else:
        p_logrank, p_two = p_lr[decider], p_tp[decider]
    return Outcome(
        n_pairs=n,
        effect=effect,
        ci_low=low,
        ci_high=high,
        p_logrank=p_logrank,
        p_two_prop=p_two,
        p_better=float(broke[0].mean()),
        p_worse={w: float(b.mean()) for w, b in zip(prop.worse, broke[1:], strict=True)},
        lead=lead,
        lead_low=lead_low,
        lead_high=lead_high,
        rmst={r: float(c.mean()) for r, c in zip(prop.regimes, capped, strict=True)},
    )


def verdict(p_adjusted: float, ci_low: float, ci_high: float, alpha: float = ALPHA) -> str:
    """The stated rule: significance and the side of zero the interval lies on."""
    if p_adjusted < alpha and ci_low > 0:
        return "supported"
    if p_adjusted < alpha and ci_high < 0:
        return "contradicted"
    return "not supported"


# ------------------------------------------------------------------ tables


def evaluate(
    runs: pd.DataFrame, propositions: list[Proposition] | None = None, seed: int = 0
) -> pd.DataFrame:
    """The verdict table: one row per proposition.

    Args:
        runs: a sweep's runs table (``kctsim.load_results(DIR)["runs"]``) holding
            every technology and regime the propositions name.
        propositions: defaults to the shipped six.
        seed: seed of the bootstrap resampling (the table is reproducible).
    """
    propositions = propositions or load_propositions()
    horizon = _horizon(runs)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for prop in propositions:
        o = compare(prop, runs, horizon, rng)
        rows.append(
            {
                "proposition": prop.key,
                "claim": prop.claim,
                "technology": prop.technology,
                "comparison": prop.comparison,
                "n_pairs": o.n_pairs,
                "effect": o.effect,
                "ci_low": o.ci_low,
                "ci_high": o.ci_high,
                "p_logrank": o.p_logrank,
                "p_two_prop": o.p_two_prop,
                "p_better": o.p_better,
                "p_worse": max(o.p_worse.values()),
                "lead": o.lead,
                "lead_low": o.lead_low,
                "lead_high": o.lead_high,
            }
        )
    table = pd.DataFrame(rows)
    table["p_holm"] = st.holm(table["p_logrank"])
    table["p_two_prop_holm"] = st.holm(table["p_two_prop"])
    table["verdict"] = [
        verdict(p, lo, hi) for p, lo, hi in table[["p_holm", "ci_low", "ci_high"]].to_numpy()
    ]
    return table


def mechanism_table(
    runs: pd.DataFrame, propositions: list[Proposition] | None = None, seed: int = 0
) -> pd.DataFrame:
    """Mechanism evidence: per proposition and metric, worse minus better with its
    interval, the predicted sign, and whether the interval agrees with it."""
    propositions = propositions or load_propositions()
    rng = np.random.default_rng(seed)
    rows = []
    for prop in propositions:
        for metric, direction in prop.mechanisms.items():
            for worse in prop.worse:
                values = paired(runs, prop.technology, (prop.better, worse), metric)
                low, high = st.paired_bootstrap_ci(list(values), _difference, rng)
                sign = DIRECTIONS[direction]
                agrees = (low > 0) if sign > 0 else (high < 0)
                against = (high < 0) if sign > 0 else (low > 0)
                rows.append(
                    {
                        "proposition": prop.key,
                        "metric": metric,
                        "comparison": f"{worse} - {prop.better}",
                        "better_mean": float(values[0].mean()),
                        "worse_mean": float(values[1].mean()),
                        "difference": float(_difference(*values)),
                        "ci_low": low,
                        "ci_high": high,
                        "predicted": direction,
                        "evidence": "agrees" if agrees else "against" if against else "unclear",
                    }
                )
    return pd.DataFrame(rows)


def fit_matrix(runs: pd.DataFrame, propositions: list[Proposition] | None = None) -> pd.DataFrame:
    """Breakthrough share at the horizon and RMST of every technology type under
    every breakthrough mode (long form: technology, regime, n, p_breakthrough,
    rmst, matched — the mode the propositions pair with the type)."""
    propositions = propositions or load_propositions()
    horizon = _horizon(runs)
    modes = fit_regimes(propositions)
    matched = {p.technology: p.better for p in propositions if len(p.worse) > 1}
    ok = runs[(runs["status"] == "ok") & runs["regime"].isin(modes)]
    rows = []
    for (tech, regime), group in ok.groupby(["technology", "regime"], sort=False):
        t = group["breakthrough_tick"].to_numpy(dtype=float)
        rows.append(
            {
                "technology": tech,
                "regime": regime,
                "n": len(t),
                "p_breakthrough": float(np.isfinite(t).mean()),
                "rmst": float(st.restricted_mean_time(t, horizon)),
                "matched": matched.get(tech) == regime,
            }
        )
    return pd.DataFrame(rows)
