"""How far the verdicts hold across uncertain, non-lever parameters.

Each design point of the robustness sweep (a Latin hypercube) is one "world".
In each world the proposition's primary effect (RMST difference at the
primary tau) is measured as in the main suite
(:func:`kctsim.analysis.propositions.compare`), with an unadjusted 95%
interval. A verdict *holds* in a world when the world points the same way:

* supported: the world's effect is above 0;
* contradicted: the world's effect is below 0;
* equivalent: the world's effect lies inside (-delta, +delta);
* inconclusive: the world's interval contains 0.

Worlds have few replicates, so the first two ask for the direction, not
significance. The parameters that flip a verdict are ranked by the Spearman
rank correlation of the world's effect with the parameter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from kctsim.analysis.propositions import Proposition, compare, load_plan, load_propositions
from kctsim.experiment.store import FACTOR_PREFIX

ROBUSTNESS_RULE = (
    "Each point of a Latin hypercube over uncertain, non-lever parameters is a world, run "
    "with fewer replicates; a verdict holds in a world when the world's effect points the "
    "same way (supported: effect > 0; contradicted: effect < 0; equivalent: |effect| < delta; "
    "inconclusive: the world's 95% interval contains 0). The effect is the primary estimand. "
    "Parameters are ranked by the Spearman correlation of the "
    "world's effect with them."
)


def world_effects(
    runs: pd.DataFrame, propositions: list[Proposition] | None = None
) -> pd.DataFrame:
    """One row per (proposition, world): the world's factor values and its effect.

    ``runs`` may hold several technologies' sweeps concatenated; worlds are
    matched by design point.
    """
    propositions = propositions or load_propositions()
    plan = load_plan()
    factors = [c for c in runs.columns if c.startswith(FACTOR_PREFIX)]
    rows = []
    for prop in propositions:
        mine = runs[runs["technology"] == prop.technology]
        for point, world in mine.groupby("point", sort=True):
            horizon = int(world["horizon"].dropna().iloc[0])
            tau, delta = plan.primary_estimand(horizon)
            try:
                e = compare(prop, world, tau, 0.05).estimate
            except ValueError:  # too few finished pairs in this world
                continue
            values = world[factors].iloc[0]
            rows.append(
                {
                    "proposition": prop.key,
                    "point": int(point),
                    "n_pairs": e.n,
                    "tau": tau,
                    "delta": delta,
                    "effect": e.effect,
                    "ci_low": e.low,
                    "ci_high": e.high,
                    **{c.removeprefix(FACTOR_PREFIX): values[c] for c in factors},
                }
            )
    return pd.DataFrame(rows)


def holds(verdict: str, effect: float, ci_low: float, ci_high: float, delta: float) -> bool:
    """Whether a world points the way of the main verdict (see the module docstring)."""
    if verdict == "supported":
        return effect > 0
    if verdict == "contradicted":
        return effect < 0
    if verdict == "equivalent":
        return abs(effect) < delta
    return ci_low <= 0 <= ci_high


def robustness_shares(worlds: pd.DataFrame, verdicts: pd.DataFrame) -> pd.Series:
    """Share of worlds in which each proposition's main verdict (primary estimand) holds."""
    main = verdicts[verdicts["role"].str.startswith("primary")].set_index("proposition")["verdict"]
    held = [
        holds(main[row.proposition], row.effect, row.ci_low, row.ci_high, row.delta)
        for row in worlds.itertuples()
    ]
    return pd.Series(held, index=worlds.index).groupby(worlds["proposition"]).mean()


def drivers(worlds: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """Spearman correlation of each proposition's world effect with each factor,
    ranked by strength within the proposition (rank 1 flips it most)."""
    rows = []
    for key, group in worlds.groupby("proposition", sort=False):
        for factor in factors:
            x = group[factor].to_numpy(dtype=float)
            y = group["effect"].to_numpy(dtype=float)
            if len(group) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                rho, p = np.nan, np.nan
            else:
                rho, p = stats.spearmanr(x, y)
            rows.append({"proposition": key, "factor": factor, "rho": rho, "p": p})
    table = pd.DataFrame(rows)
    table["rank"] = (
        table.assign(strength=table["rho"].abs())
        .groupby("proposition")["strength"]
        .rank(ascending=False, method="first", na_option="bottom")
        .astype(int)
    )
    return table.sort_values(["proposition", "rank"]).reset_index(drop=True)
