"""Which lever groups carry each verdict: an ablation over groups of levers,
attributed by Shapley values (docs/propositions.md, "Which levers carry each verdict").

A verdict compares two regimes on one technology type: a *step* from where it
starts (the cause regime of P1 to P3, or one rival mode of P4 to P6) to the
mode the paper prefers. Every lever belongs to one of the groups of
``data/levers.toml`` (:data:`GROUPS`). A coalition S of groups is a regime too:
the start's levers, with those of the groups in S taken from the mode. Every
coalition is run (2^5 = 32 regimes per step; the two ends are the presets
themselves, and coalitions that differ only in groups whose levers the two
regimes share are one regime), with common random numbers: replicate i of
every coalition shares its seed. Per replicate i the game is

    v_i(S) = min(T_start, tau) - min(T_S, tau),

so v(S), the mean over replicates, is how many quarters sooner the start
breaks through with the groups S switched to the mode; v(no group) = 0 and
v(every group) is the step's RMST difference, the verdict's effect. The
Shapley value of group g,

    phi_g = sum over S not holding g of |S|! (n - |S| - 1)! / n! [v(S + g) - v(S)],

is g's marginal effect averaged over every order in which the groups could be
switched; the values add up to v(every group) exactly (efficiency). Shapley is
linear in v, so it is computed per replicate and averaged; its interval is a
percentile bootstrap over replicates (whole replicates are resampled, since the
coalitions of one replicate share its seed).

The design (which regimes to run) and the attribution (from a runs table) are
pure functions; :mod:`kctsim.analysis.suite` runs the sweeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from math import factorial
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from kctsim.analysis import stats as st
from kctsim.analysis.propositions import Proposition, times
from kctsim.config import LEVER_GROUPS, Levers, load_regime

GROUPS: tuple[str, ...] = tuple(LEVER_GROUPS)
"""The players: the lever groups, in the lever table's order (bit j of a coalition's mask)."""
CONFIDENCE = 0.95
N_RESAMPLES = 2000
OUTPUT = 'metrics = "none"\nledger = "none"\nspillover = false'
"""What the ablation sweeps record of a run: its summary only (the breakthrough tick)."""
COLUMNS = (
    "proposition",
    "technology",
    "start",
    "mode",
    "binding",
    "group",
    "shapley",
    "ci_low",
    "ci_high",
    "share",
    "effect",
    "effect_low",
    "effect_high",
    "tau",
    "replicates",
)


class Step(NamedTuple):
    """One comparison of a verdict: from ``start`` to ``mode`` on ``technology``."""

    proposition: str
    technology: str
    start: str  # the regime the paper calls worse: a cause, or a rival mode
    mode: str  # the regime it calls better


class Coalition(NamedTuple):
    """One coalition of groups of a step and the regime that runs it."""

    mask: int  # bit j set: the levers of GROUPS[j] are taken from the mode
    regime: str  # its regime's name (the start or the mode preset at the ends)
    changes: dict[str, Any]  # levers set on top of the start regime


class Attribution(NamedTuple):
    """The Shapley values of one step, with their intervals (quarters)."""

    shapley: np.ndarray  # per group, in the order of the players
    low: np.ndarray
    high: np.ndarray
    effect: float  # v(every group): the sum of the Shapley values
    effect_low: float
    effect_high: float
    replicates: int


# ------------------------------------------------------------------- design


def steps(propositions: Sequence[Proposition]) -> list[Step]:
    """Every step of the propositions: each worse regime to the proposition's mode."""
    return [Step(p.key, p.technology, w, p.better) for p in propositions for w in p.worse]


def switched_groups(start: Levers, mode: Levers) -> int:
    """Mask of the groups in which ``start`` and ``mode`` set some lever differently."""
    mask = 0
    for j, group in enumerate(GROUPS):
        if any(getattr(start, n) != getattr(mode, n) for n in LEVER_GROUPS[group]):
            mask |= 1 << j
    return mask


def coalition_changes(start: Levers, mode: Levers, mask: int) -> dict[str, Any]:
    """The levers of the groups in ``mask`` that the mode sets differently from the start."""
    return {
        name: getattr(mode, name)
        for j, group in enumerate(GROUPS)
        if mask >> j & 1
        for name in LEVER_GROUPS[group]
        if getattr(start, name) != getattr(mode, name)
    }


def coalition_name(step: Step, mask: int, switched: int) -> str:
    """The regime name of a coalition: the presets at the ends, else
    ``<start>-<mode>-<bits>`` with one bit per group (1: taken from the mode), in
    the order of :data:`GROUPS`, after dropping the groups both regimes share."""
    effective = mask & switched
    if effective == 0:
        return step.start
    if effective == switched:
        return step.mode
    bits = "".join("1" if effective >> j & 1 else "0" for j in range(len(GROUPS)))
    return f"{step.start}-{step.mode}-{bits}"


def design(step: Step, start: Levers | None = None, mode: Levers | None = None) -> list[Coalition]:
    """Every coalition of a step (2^groups, by mask), with the regime that runs it.

    Args:
        step: the step.
        start, mode: the two regimes' levers (default: the presets named by the step).
    """
    start = start if start is not None else load_regime(step.start)
    mode = mode if mode is not None else load_regime(step.mode)
    switched = switched_groups(start, mode)
    return [
        Coalition(mask, coalition_name(step, mask, switched), coalition_changes(start, mode, mask))
        for mask in range(1 << len(GROUPS))
    ]


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(float(value))


def scenario_text(
    technology: str,
    step_designs: Mapping[Step, list[Coalition]],
    horizon: int,
    replicates: int,
    seed: int,
    cost_scale: float,
) -> str:
    """Scenario text of one technology type's ablation sweep: every coalition
    regime of its steps x ``replicates`` (replicate i of every regime shares its seed)."""
    regimes: dict[str, tuple[str, dict[str, Any]] | None] = {}  # None: a preset
    for step, coalitions in step_designs.items():
        if step.technology != technology:
            raise ValueError(f"{step}: not a step on {technology}")
        for c in coalitions:
            custom = c.regime not in (step.start, step.mode)
            regimes.setdefault(c.regime, (step.start, c.changes) if custom else None)
    lines = [
        f'name = "propositions_ablation_{technology}"',
        f'description = "{technology}: every coalition of lever groups between the regimes its '
        'propositions compare (common random numbers)."',
        f"technologies = {json.dumps([technology])}",
        f"regimes = {json.dumps(list(regimes))}",
        f"horizon = {horizon}",
        f"replicates = {replicates}",
        f"seed = {seed}",
        "",
        "[parameters]",
        f"cost_scale = {cost_scale!r}",
        "",
        "[output]",
        OUTPUT,
    ]
    for name, custom in regimes.items():
        if custom is not None:
            base, changes = custom
            lines += ["", f"[regimes_custom.{json.dumps(name)}]", f"base = {json.dumps(base)}"]
            lines += [f"{lever} = {_toml_value(v)}" for lever, v in changes.items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ Shapley


def shapley_weights(n: int) -> np.ndarray:
    """|S|! (n - |S| - 1)! / n! for |S| = 0..n-1: the weight of a marginal contribution."""
    return np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])


def shapley(values: np.ndarray) -> np.ndarray:
    """Shapley values of a game given by the value of every coalition.

    Args:
        values: shape (2^n, ...): ``values[mask]`` is v of the coalition whose
            players are the set bits of ``mask``; trailing axes (replicates) are
            carried along.

    Returns:
        shape (n, ...): the Shapley value of each player.
    """
    values = np.asarray(values, dtype=float)
    size = values.shape[0]
    n = size.bit_length() - 1
    if n < 1 or size != 1 << n:
        raise ValueError(f"shapley: expected 2^n coalition values, got {size}")
    weights = shapley_weights(n)
    out = np.zeros((n, *values.shape[1:]))
    for j in range(n):
        for mask in range(size):
            if not mask >> j & 1:
                out[j] += weights[mask.bit_count()] * (values[mask | 1 << j] - values[mask])
    return out


def attribute(
    values: np.ndarray,
    rng: np.random.Generator,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
) -> Attribution:
    """Shapley values of the mean game with percentile bootstrap intervals.

    Args:
        values: shape (2^n, replicates): the game of every replicate, v_i(S).
        rng: the bootstrap's random numbers.
        confidence: level of each interval (no adjustment across groups).
        n_resamples: bootstrap resamples.
    """
    values = np.asarray(values, dtype=float)
    per_replicate = shapley(values)  # (n, replicates)
    if per_replicate.shape[1] < 2:
        raise ValueError("attribute: at least two replicates are needed for an interval")
    # The effect, v(every group), is resampled with the groups: the same replicates in
    # every resample. (The Shapley values sum to it, up to rounding.)
    rows = np.vstack([per_replicate, values[-1]])
    means = rows.mean(axis=1)
    if np.all(rows == rows[:, :1]):
        low = high = means  # no variation at all: zero-width intervals
    else:
        ci = stats.bootstrap(
            (rows,),
            np.mean,
            axis=-1,
            vectorized=True,
            method="percentile",
            confidence_level=confidence,
            n_resamples=n_resamples,
            rng=rng,
        ).confidence_interval
        low, high = np.asarray(ci.low), np.asarray(ci.high)
    return Attribution(
        shapley=means[:-1],
        low=low[:-1],
        high=high[:-1],
        effect=float(means[-1]),
        effect_low=float(low[-1]),
        effect_high=float(high[-1]),
        replicates=int(per_replicate.shape[1]),
    )


# ---------------------------------------------------------------- from runs


def game(runs: pd.DataFrame, step: Step, coalitions: Sequence[Coalition], tau: int) -> np.ndarray:
    """v_i(S) of every coalition (by mask) and replicate finished under every coalition."""
    regimes = tuple(dict.fromkeys(c.regime for c in coalitions))
    capped = st.restricted_times(times(runs, step.technology, regimes), tau)
    rows = {r: capped[k] for k, r in enumerate(regimes)}
    return np.stack([rows[step.start] - rows[c.regime] for c in coalitions])


def binding_rivals(
    runs: pd.DataFrame, propositions: Sequence[Proposition], tau: int
) -> dict[str, str]:
    """Per proposition, the worse regime with the smallest RMST difference at ``tau``
    (the rival that decides a verdict with several, intersection-union)."""
    out = {}
    for p in propositions:
        capped = st.restricted_times(times(runs, p.technology, p.regimes), tau)
        out[p.key] = p.worse[int(np.argmin((capped[1:] - capped[0]).mean(axis=1)))]
    return out


def ablation_table(
    runs: pd.DataFrame,
    propositions: Sequence[Proposition],
    tau: int,
    binding: Mapping[str, str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The attribution of every step: one row per step and lever group (:data:`COLUMNS`).

    Args:
        runs: the ablation sweeps' runs (every coalition regime of every step).
        propositions: the propositions whose steps are attributed.
        tau: the RMST's restriction, quarters (at most the runs' horizon).
        binding: per proposition, its deciding worse regime (default: each step's own
            effect, the smallest of a proposition's steps).
        seed: the bootstrap's seed.
    """
    rng = np.random.default_rng(seed)
    rows = []
    results = {}
    for step in steps(propositions):
        results[step] = attribute(game(runs, step, design(step), tau), rng)
    if binding is None:
        binding = {}
        for step, a in results.items():
            best = binding.get(step.proposition)
            if best is None or a.effect < results[best].effect:
                binding[step.proposition] = step
        binding = {k: s.start for k, s in binding.items()}
    for step, a in results.items():
        for j, group in enumerate(GROUPS):
            rows.append(
                {
                    "proposition": step.proposition,
                    "technology": step.technology,
                    "start": step.start,
                    "mode": step.mode,
                    "binding": binding.get(step.proposition) == step.start,
                    "group": group,
                    "shapley": float(a.shapley[j]),
                    "ci_low": float(a.low[j]),
                    "ci_high": float(a.high[j]),
                    "share": _share(a.shapley[j], a.effect),
                    "effect": a.effect,
                    "effect_low": a.effect_low,
                    "effect_high": a.effect_high,
                    "tau": tau,
                    "replicates": a.replicates,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _share(part: float, whole: float) -> float:
    """``part / whole``; NaN when the whole effect is nil (no share of nothing)."""
    return float(part / whole) if abs(whole) > 1e-9 else float("nan")


def leading_group(table: pd.DataFrame) -> pd.Series:
    """The row of one step's table whose group carries most of its effect: the
    largest contribution in the effect's direction."""
    sign = 1.0 if table["effect"].iloc[0] >= 0 else -1.0
    return table.loc[(sign * table["shapley"]).idxmax()]
