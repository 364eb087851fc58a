"""The six propositions as measured verdicts (docs/propositions.md).

Each proposition compares, on one technology type, the regime the paper says
works better with the regime(s) it says work worse (``data/propositions.toml``,
which also fixes the estimands and the design before any run is read).

The verdict rule, stated once here and in every report:

* outcome: time to breakthrough T, right-censored at the horizon;
* estimand: the restricted mean time to breakthrough up to tau quarters,
  RMST(tau) = E[min(T, tau)], of the worse regime minus that of the better
  one, in quarters: how much sooner the better regime breaks through on
  average within tau. tau = 20 (the calibrated window) is primary, 40 and 80
  secondary. With several worse regimes (P4 to P6) the effect is the smallest
  of the differences: the mode must beat every rival (intersection-union);
* interval: paired t interval on the per-replicate differences of
  min(T, tau) (replicate i of every regime shares its seed), at level
  1 - alpha/m with m the propositions plus the contingency test (Bonferroni:
  family-wise error <= alpha over all verdicts of one tau); for the smallest
  of several differences see :func:`~kctsim.analysis.stats.smallest_mean_interval`;
* verdict, with delta the smallest effect of interest at tau:
  **supported** (interval above 0), **contradicted** (below 0),
  **equivalent** (inside (-delta, +delta): two one-sided tests),
  **inconclusive** (anything else);
* the contingency claim (each mode does better on its own type) is one more
  test on the mode x type interaction of RMST, decided by the same rule.

The log-rank p of the deciding comparison is reported beside it (a secondary
column: it tests whole curves, unpaired, and does not decide the verdict).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from kctsim.analysis import stats as st

VERDICTS = ("supported", "contradicted", "equivalent", "inconclusive")
CONTINGENCY = "C"  # the key of the contingency (mode x type) row
VERDICT_COLUMNS = (
    "proposition",
    "estimand",
    "tau",
    "comparison",
    "effect",
    "ci_low",
    "ci_high",
    "delta",
    "p_value",
    "p_adjusted",
    "verdict",
    "replicates",
    "rule",
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


@dataclass(frozen=True)
class Plan:
    """The pre-registered estimands and design (``[estimands]``, ``[design]``)."""

    taus: tuple[int, ...] = (20, 40, 80)
    primary: int = 20
    deltas: tuple[float, ...] = (1.0, 2.0, 4.0)
    alpha: float = 0.05
    pilot: int = 200
    max_replicates: int = 2500
    sd_confidence: float = 0.8
    contingency_claim: str = ""
    contingency_statement: str = ""

    def delta(self, tau: int) -> float:
        """Smallest effect of interest at ``tau``: as listed, else 5% of tau."""
        return dict(zip(self.taus, self.deltas, strict=True)).get(tau, 0.05 * tau)

    def estimands(self, horizon: int) -> list[tuple[int, float, str]]:
        """(tau, delta, role) of every estimand the runs can measure.

        A tau beyond the horizon cannot be measured; when even the primary one
        cannot (a short test suite), the horizon itself stands in for it.
        """
        out = [(t, self.delta(t), _role(t, self.primary)) for t in self.taus if t <= horizon]
        if all(role != "primary" for *_, role in out):
            out.insert(0, (horizon, self.delta(horizon), "primary (horizon)"))
        return out

    def primary_estimand(self, horizon: int) -> tuple[int, float]:
        """(tau, delta) of the primary estimand the runs can measure."""
        return next((t, d) for t, d, role in self.estimands(horizon) if role.startswith("primary"))


def _role(tau: int, primary: int) -> str:
    return "primary" if tau == primary else "secondary"


def _data() -> dict[str, Any]:
    text = resources.files("kctsim").joinpath("data/propositions.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_plan() -> Plan:
    """The estimands and design shipped in ``kctsim/data/propositions.toml``."""
    data = _data()
    e, d, c = data["estimands"], data["design"], data["contingency"]
    if len(e["taus"]) != len(e["deltas"]) or e["primary"] not in e["taus"]:
        raise ValueError("propositions.toml: one delta per tau, and the primary tau among them")
    return Plan(
        taus=tuple(int(t) for t in e["taus"]),
        primary=int(e["primary"]),
        deltas=tuple(float(x) for x in e["deltas"]),
        alpha=float(e["alpha"]),
        pilot=int(d["pilot"]),
        max_replicates=int(d["max_replicates"]),
        sd_confidence=float(d["sd_confidence"]),
        contingency_claim=c["claim"],
        contingency_statement=c["statement"],
    )


def verdict_rule(plan: Plan, m: int) -> str:
    """The rule in one paragraph (written into verdicts.csv and the report)."""
    return (
        f"Effect = RMST(tau) of the worse regime(s) minus that of the better one, in quarters "
        f"(several worse regimes: the smallest difference; the mode must beat every rival). "
        f"Interval: paired t interval on the per-replicate differences of min(T, tau) at "
        f"level 1 - {plan.alpha}/{m} (Bonferroni over the {m} tests of one tau; "
        f"family-wise error <= {plan.alpha}). Supported: interval above 0. Contradicted: "
        f"below 0. Equivalent: inside (-delta, +delta), delta = 5% of tau. Inconclusive: "
        f"otherwise. Primary tau = {plan.primary} quarters."
    )


def load_propositions() -> list[Proposition]:
    """The six propositions, as shipped in ``kctsim/data/propositions.toml``."""
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
        for key, spec in _data()["propositions"].items()
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


def _difference(better: np.ndarray, worse: np.ndarray, axis: int = -1) -> np.ndarray:
    return worse.mean(axis=axis) - better.mean(axis=axis)


@dataclass
class Outcome:
    """The measured comparison of one proposition at one tau on one set of runs."""

    estimate: st.Estimate
    p_logrank: float
    sds: dict[str, float]  # SD of the paired differences, per worse regime


def compare(prop: Proposition, runs: pd.DataFrame, tau: int, alpha: float) -> Outcome:
    """Effect, interval (level 1 - alpha) and tests of one proposition at ``tau``."""
    ticks = times(runs, prop.technology, prop.regimes)
    if ticks.shape[1] < 2:
        raise ValueError(f"{prop.key}: fewer than two paired replicates")
    horizon = _horizon(runs)
    if tau > horizon:
        raise ValueError(f"{prop.key}: tau {tau} beyond the horizon {horizon}")
    capped = st.restricted_times(ticks, tau)
    differences = capped[1:] - capped[0]  # worse minus better, per replicate
    estimate = st.smallest_mean_interval(differences, alpha)
    decider = int(np.argmin(differences.mean(axis=1)))
    # The log-rank test sees the curves up to tau: censor every run there.
    cut = np.where(ticks <= tau, ticks, np.nan)
    return Outcome(
        estimate=estimate,
        p_logrank=st.logrank_p(cut[0], cut[1 + decider], tau),
        sds={w: float(d.std(ddof=1)) for w, d in zip(prop.worse, differences, strict=True)},
    )


def own_types(propositions: list[Proposition]) -> dict[str, str]:
    """Mode -> the type the paper matches it with (the propositions naming several rivals)."""
    return {p.better: p.technology for p in propositions if len(p.worse) > 1}


def contingency(
    runs: pd.DataFrame, propositions: list[Proposition], tau: int, alpha: float
) -> st.Estimate:
    """The mode x type interaction of RMST(tau) (see ``stats.interaction_weights``),
    computed per replicate over the replicates complete in all cells."""
    own = own_types(propositions)
    types = list(own.values())
    weights = st.interaction_weights(own, types)
    ok = runs[
        (runs["status"] == "ok") & runs["technology"].isin(types) & runs["regime"].isin(list(own))
    ]
    table = ok.pivot_table(
        index="replicate",
        columns=["technology", "regime"],
        values="breakthrough_tick",
        aggfunc="first",
        dropna=False,
    )
    cells = [(t, m) for t in types for m in own]
    missing = [c for c in cells if c not in table.columns]
    if missing:
        raise ValueError(f"contingency: no finished runs of {missing}")
    counts = ok.groupby("replicate").size()
    complete = counts[counts == len(cells)].index
    y = st.restricted_times(table.loc[complete, cells].to_numpy(dtype=float), tau)
    return st.smallest_mean_interval(y @ weights.reshape(-1), alpha)


def family_size(propositions: list[Proposition]) -> int:
    """Tests per tau: the propositions and, when the modes cover the types, the contingency."""
    return len(propositions) + (1 if _has_contingency(propositions) else 0)


def _has_contingency(propositions: list[Proposition]) -> bool:
    own = own_types(propositions)
    return len(own) >= 2 and len(set(own.values())) == len(own)


# ------------------------------------------------------------------ tables


def evaluate(
    runs: pd.DataFrame,
    propositions: list[Proposition] | None = None,
    plan: Plan | None = None,
) -> pd.DataFrame:
    """The verdict table: one row per proposition (and the contingency test) and tau.

    The first columns are :data:`VERDICT_COLUMNS`; then ``role`` (primary or
    secondary), ``technology``, ``claim``, ``half_width``, ``sd`` (of the
    deciding paired differences) and ``p_logrank`` (secondary).

    Args:
        runs: a sweep's runs table (``kctsim.load_results(DIR)["runs"]``) holding
            every technology and regime the propositions name.
        propositions: defaults to the shipped six.
        plan: the estimands; defaults to the shipped ones.
    """
    propositions = propositions or load_propositions()
    plan = plan or load_plan()
    horizon = _horizon(runs)
    m = family_size(propositions)
    alpha = plan.alpha / m
    rule = verdict_rule(plan, m)
    rows: list[dict[str, Any]] = []
    for tau, delta, role in plan.estimands(horizon):
        # (key, comparison, technology, claim, estimate, log-rank p) of every test of this tau
        family: list[tuple[str, str, str, str, st.Estimate, float]] = []
        for prop in propositions:
            o = compare(prop, runs, tau, alpha)
            family.append(
                (prop.key, prop.comparison, prop.technology, prop.claim, o.estimate, o.p_logrank)
            )
        if _has_contingency(propositions):
            est = contingency(runs, propositions, tau, alpha)
            label = ", ".join(f"{mode} on {t}" for mode, t in own_types(propositions).items())
            family.append((CONTINGENCY, label, "all", plan.contingency_claim, est, float("nan")))
        adjusted = st.bonferroni([f[4].p_value for f in family])
        for (key, comparison, tech, claim, est, p_lr), p_adj in zip(family, adjusted, strict=True):
            rows.append(
                {
                    "proposition": key,
                    "estimand": f"RMST difference at {tau} quarters",
                    "tau": tau,
                    "comparison": comparison,
                    "effect": est.effect,
                    "ci_low": est.low,
                    "ci_high": est.high,
                    "delta": delta,
                    "p_value": est.p_value,
                    "p_adjusted": p_adj,
                    "verdict": st.four_way_verdict(est.low, est.high, delta),
                    "replicates": est.n,
                    "rule": rule,
                    "role": role,
                    "technology": tech,
                    "claim": claim,
                    "half_width": est.half_width,
                    "sd": est.sd,
                    "p_logrank": p_lr,
                }
            )
    return pd.DataFrame(rows)


def primary(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The rows of the primary estimand (one per proposition and the contingency test)."""
    return verdicts[verdicts["role"].str.startswith("primary")].reset_index(drop=True)


def required_replicates(
    runs: pd.DataFrame, propositions: list[Proposition] | None = None, plan: Plan | None = None
) -> dict[str, Any]:
    """The replicates per cell that make every primary interval at most delta wide,
    planned from the pilot ``runs`` (the stated rule; it reads SDs, never effects).

    Returns:
        ``replicates`` (capped at ``plan.max_replicates``), ``needed`` (uncapped),
        ``capped``, ``pilot`` (the pilot's complete replicates) and ``by_test``:
        per test its pilot SD and the replicates it needs.
    """
    propositions = propositions or load_propositions()
    plan = plan or load_plan()
    horizon = _horizon(runs)
    tau, delta = plan.primary_estimand(horizon)
    alpha = plan.alpha / family_size(propositions)
    by_test: dict[str, dict[str, float]] = {}
    pilot = None
    for prop in propositions:
        o = compare(prop, runs, tau, alpha)
        k = len(prop.worse)
        pilot = o.estimate.n if pilot is None else min(pilot, o.estimate.n)
        sd = max(o.sds.values())
        n = st.replicates_for_width(
            sd, delta / 2, alpha / 2, alpha / (2 * k), o.estimate.n, plan.sd_confidence
        )
        by_test[prop.key] = {"sd": sd, "replicates": n}
    if _has_contingency(propositions):
        est = contingency(runs, propositions, tau, alpha)
        n = st.replicates_for_width(
            est.sd, delta / 2, alpha / 2, alpha / 2, est.n, plan.sd_confidence
        )
        by_test[CONTINGENCY] = {"sd": est.sd, "replicates": n}
    needed = int(max(v["replicates"] for v in by_test.values()))
    return {
        "tau": tau,
        "delta": delta,
        "pilot": pilot,
        "needed": needed,
        "replicates": min(max(needed, pilot or 0), plan.max_replicates),
        "capped": needed > plan.max_replicates,
        "max_replicates": plan.max_replicates,
        "sd_confidence": plan.sd_confidence,
        "by_test": by_test,
    }


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
