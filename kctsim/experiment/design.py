"""Design points of an experiment: pure functions from factor specifications to points.

A *factor* is anything a scenario may vary: a lever (docs/ODD.md, section 2.5), a
global parameter or population size (``kctsim/data/defaults.toml``) or a
technology-type field. A *design point* is a ``dict`` factor name -> value.
Like SALib's ``sample`` step, each function here takes plain data and returns
plain data; they do not know about scenario files, and the scenario layer
(:mod:`kctsim.experiment.scenario`) turns their points into runs.

* :func:`grid` -- full factorial over lists or range tables;
* :func:`lhs` -- Latin hypercube over bounds (one sample per stratum per factor);
* :func:`sobol` -- Saltelli's extension of the Sobol' sequence (SALib), for
  first- and total-order Sobol indices with ``SALib.analyze.sobol.analyze``;
* :func:`explicit` -- a list of points written out.

Every value is checked against the factor's allowed range; values of
integer-valued factors that a range or a sampler generates are rounded (half
up), values written out by hand must already be integers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kctsim.config import (
    CONSORTIUM_HUBS,
    CORE_SUBJECTS,
    LEVER_NAMES,
    LEVER_RANGES,
    PARAMETER_RANGES,
    POPULATION_RANGES,
    ConfigError,
    check_choice,
    check_number,
    clip,
    suggest,
)

Point = dict[str, Any]


# ---------------------------------------------------------------- checking


number = check_number  # the one check of a number (kctsim.config)
choice = check_choice


def unknown(key: str, allowed: Sequence[str], where: str) -> ConfigError:
    """The error for an unknown key, with a did-you-mean suggestion."""
    return ConfigError(
        f"{where}: unknown key {key!r}{suggest(key, list(allowed))}; allowed: {', '.join(allowed)}"
    )


TECHNOLOGY_RANGES: dict[str, tuple[float, float, bool]] = {
    "turbulence": (0.0, 1.0, False),
    "blockade": (0.0, 1.0, False),
    "rival_hazard": (0.0, 1.0, False),
    "cost_multiplier": (1e-3, 1e3, False),
    "externality": (0.0, 10.0, False),
    "rival_market_share": (0.0, 1.0, False),
    "k_shift": (-15, 15, True),  # added to every stage's K (clipped), see TechnologyType.replace
}
"""Technology-type fields that a design may vary (as in ``TechnologyType.from_mapping``)."""

NUMERIC_FACTORS: dict[str, tuple[float, float, bool]] = {
    **{name: (lo, hi, False) for name, (lo, hi) in LEVER_RANGES.items()},
    **PARAMETER_RANGES,
    **{name: (lo, hi, True) for name, (lo, hi) in POPULATION_RANGES.items()},
    **TECHNOLOGY_RANGES,
}
"""Numeric factor name -> (lower, upper, integer?)."""

CATEGORICAL_FACTORS: dict[str, tuple[str, ...]] = {
    "core_subject": CORE_SUBJECTS,
    "consortium": CONSORTIUM_HUBS,
}
"""Factors whose values are names; allowed in grids and explicit lists only."""

LIST_FACTORS: tuple[str, ...] = ("stage_weights",)
"""Factors whose values are lists of numbers; allowed in grids and explicit lists only."""

FACTOR_NAMES: tuple[str, ...] = tuple(
    sorted({*NUMERIC_FACTORS, *CATEGORICAL_FACTORS, *LIST_FACTORS})
)

METHODS: tuple[str, ...] = ("none", "grid", "lhs", "sobol", "list")

MAX_POINTS = 100_000
"""Most design points a design may have (a guard against a typo's combinatorial explosion)."""


def factor_kind(name: str) -> str:
    """Where a factor applies: ``lever``, ``parameter``, ``population`` or ``technology``."""
    if name in LEVER_NAMES:
        return "lever"
    if name in POPULATION_RANGES:
        return "population"
    if name in PARAMETER_RANGES:
        return "parameter"
    if name in TECHNOLOGY_RANGES:
        return "technology"
    raise unknown(name, FACTOR_NAMES, "factor")


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or name not in FACTOR_NAMES:
        raise unknown(str(name), FACTOR_NAMES, where)
    return name


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def check_value(name: str, value: Any, where: str, generated: bool = False) -> Any:
    """Validate one factor value (``where`` names it in errors); return it normalised.

    Args:
        name: factor name.
        value: the value.
        where: location for the error message, e.g. ``"s.toml: design.factors.n_smes"``.
        generated: the value came from a range or a sampler, so an integer-valued
            factor's value is rounded rather than refused.
    """
    if name in CATEGORICAL_FACTORS:
        return choice(value, where, CATEGORICAL_FACTORS[name])
    if name in LIST_FACTORS:
        if not isinstance(value, list | tuple) or not value:
            raise ConfigError(f"{where}: expected a non-empty list of numbers, got {clip(value)}")
        return [number(v, where, 0.0, 1e6) for v in value]
    lo, hi, integer = NUMERIC_FACTORS[name]
    if generated and integer and isinstance(value, int | float) and math.isfinite(value):
        value = _round_half_up(value)
    return number(value, where, lo, hi, integer)


# ------------------------------------------------------------------- grids

_RANGE_KEYS = (("start", "stop", "num"), ("start", "stop", "step"))


def _range_values(name: str, spec: Mapping[str, Any], where: str) -> list[Any]:
    if name not in NUMERIC_FACTORS:
        raise ConfigError(
            f"{where}: a range table needs a numeric factor; give {clip(name)} as a list of values"
        )
    keys = set(spec)
    if keys not in ({"start", "stop", "num"}, {"start", "stop", "step"}):
        raise ConfigError(
            f"{where}: a range table has keys {sorted(keys)}; allowed: "
            "{start, stop, num} (evenly spaced, both ends included) or "
            "{start, stop, step}"
        )
    start = number(spec["start"], f"{where}.start", -math.inf, math.inf)
    stop = number(spec["stop"], f"{where}.stop", -math.inf, math.inf)
    if "num" in spec:
        num = number(spec["num"], f"{where}.num", 1, MAX_POINTS, integer=True)
        if num == 1 and start != stop:
            raise ConfigError(f"{where}.num: 1 value cannot span start {start} and stop {stop}")
        raw = np.linspace(start, stop, num).tolist()
    else:
        step = number(spec["step"], f"{where}.step", 0.0, math.inf)
        if step <= 0 or stop < start:
            raise ConfigError(
                f"{where}: a {{start, stop, step}} range needs step > 0 and start <= stop, "
                f"got start={start}, stop={stop}, step={step}"
            )
        span = (stop - start) / step
        if not span < MAX_POINTS:  # also catches an infinite span from a tiny step
            raise ConfigError(f"{where}: too many values; allowed: at most {MAX_POINTS}")
        count = math.floor(span + 1e-9) + 1
        raw = [round(start + i * step, 12) for i in range(count)]
    values = [check_value(name, v, where, generated=True) for v in raw]
    return list(dict.fromkeys(values))  # rounding integers may repeat a value


def factor_values(name: str, spec: Any, where: str = "design.factors") -> list[Any]:
    """The values of one grid factor: a list of values or a range table."""
    w = f"{where}.{name}"
    if isinstance(spec, Mapping):
        return _range_values(name, spec, w)
    if not isinstance(spec, list | tuple):
        raise ConfigError(
            f"{w}: expected a list of values or a range table {{start, stop, num}} / "
            f"{{start, stop, step}}, got {clip(spec)}"
        )
    if not spec:
        raise ConfigError(f"{w}: empty list; give at least one value")
    return [check_value(name, v, f"{w}[{i}]") for i, v in enumerate(spec)]


def grid(factors: Mapping[str, Any], where: str = "design.factors") -> list[Point]:
    """Full factorial design: every combination of the factors' values.

    Args:
        factors: factor name -> list of values, or a range table
            ``{start, stop, num}`` (evenly spaced, both ends included) or
            ``{start, stop, step}`` (start, start + step, ... up to stop).
        where: location for error messages.

    Returns:
        Points in row-major order: the last factor varies fastest.
    """
    if not isinstance(factors, Mapping) or not factors:
        raise ConfigError(f"{where}: a grid needs at least one factor")
    names = [_check_name(n, where) for n in factors]
    columns = [factor_values(n, factors[n], where) for n in names]
    size = math.prod(len(c) for c in columns)
    if size > MAX_POINTS:
        raise ConfigError(
            f"{where}: the grid has {size} points; allowed: at most {MAX_POINTS} "
            "(use lhs or sobol to sample a large space)"
        )
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]


# ----------------------------------------------------------------- samplers


def check_bounds(
    bounds: Mapping[str, Any], where: str = "design.factors"
) -> dict[str, tuple[float, float]]:
    """Validate sampling bounds: factor name -> ``{min, max}`` table or ``(min, max)`` tuple.

    Only numeric factors can be sampled; both bounds must lie in the factor's
    allowed range and ``min < max``.
    """
    if not isinstance(bounds, Mapping) or not bounds:
        raise ConfigError(f"{where}: sampling needs at least one factor with bounds {{min, max}}")
    out: dict[str, tuple[float, float]] = {}
    for name, spec in bounds.items():
        name = _check_name(name, where)
        w = f"{where}.{name}"
        if name not in NUMERIC_FACTORS:
            raise ConfigError(
                f"{w}: only numeric factors can be sampled; use method 'grid' or 'list' "
                f"for {clip(name)}"
            )
        if isinstance(spec, Mapping):
            if set(spec) != {"min", "max"}:
                raise ConfigError(
                    f"{w}: bounds table has keys {sorted(spec)}; allowed: exactly min and max"
                )
            pair = (spec["min"], spec["max"])
        elif isinstance(spec, tuple) and len(spec) == 2:
            pair = spec
        else:
            raise ConfigError(f"{w}: expected bounds {{min = ..., max = ...}}, got {clip(spec)}")
        lo, hi, _ = NUMERIC_FACTORS[name]
        low = number(pair[0], f"{w}.min", lo, hi)
        high = number(pair[1], f"{w}.max", lo, hi)
        if not low < high:
            raise ConfigError(f"{w}: min {low} must be below max {high}")
        out[name] = (low, high)
    return out


def _scale(unit: np.ndarray, bounds: dict[str, tuple[float, float]], where: str) -> list[Point]:
    names = list(bounds)
    lo = np.array([bounds[n][0] for n in names])
    hi = np.array([bounds[n][1] for n in names])
    values = lo + unit * (hi - lo)
    return [
        {
            n: check_value(n, float(v), f"{where}.{n}", generated=True)
            for n, v in zip(names, row, strict=True)
        }
        for row in values
    ]


def _samples_where(where: str) -> str:
    """``design.samples`` next to ``design.factors`` in error messages."""
    return where[: -len("factors")] + "samples" if where.endswith("factors") else where


def _check_samples(samples: Any, where: str, power_of_two: bool = False) -> int:
    n = number(samples, where, 1, MAX_POINTS, integer=True)
    if power_of_two and n & (n - 1):
        raise ConfigError(
            f"{where}: {n} is not a power of 2; Sobol' sampling needs N = 2^m "
            f"(e.g. {2 ** max(1, round(math.log2(n)))})"
        )
    return n


def lhs(
    bounds: Mapping[str, Any],
    samples: int,
    rng: np.random.Generator | np.random.SeedSequence | int,
    where: str = "design.factors",
) -> list[Point]:
    """Latin hypercube sample: ``samples`` points, one in each of ``samples`` strata per factor.

    Args:
        bounds: factor name -> ``{min, max}`` or ``(min, max)`` (uniform).
        samples: number of points.
        rng: generator or seed; the scenario seeds it from its root seed.
        where: location for error messages.
    """
    checked = check_bounds(bounds, where)
    n = _check_samples(samples, _samples_where(where))
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    d = len(checked)
    strata = rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1).T
    unit = (strata + rng.random((n, d))) / n
    return _scale(unit, checked, where)


def sobol(
    bounds: Mapping[str, Any],
    samples: int,
    seed: int | np.random.Generator | None,
    where: str = "design.factors",
) -> tuple[list[Point], dict[str, Any]]:
    """Saltelli/Sobol' sample (SALib) for first- and total-order indices.

    Args:
        bounds: factor name -> ``{min, max}`` or ``(min, max)`` (uniform).
        samples: base sample size N, a power of 2.
        seed: seed of the scrambled Sobol' sequence.
        where: location for error messages.

    Returns:
        ``N * (D + 2)`` points in SALib's order (``calc_second_order=False``),
        and the SALib ``problem`` dict to pass with the outputs, in the same
        order, to ``SALib.analyze.sobol.analyze(problem, Y, calc_second_order=False)``.
    """
    from SALib.sample import sobol as salib_sobol  # optional dependency, imported on use

    checked = check_bounds(bounds, where)
    n = _check_samples(samples, _samples_where(where), power_of_two=True)
    size = n * (len(checked) + 2)
    if size > MAX_POINTS:
        raise ConfigError(
            f"{_samples_where(where)}: {n} x ({len(checked)} factors + 2) = {size} points; "
            f"allowed: at most {MAX_POINTS}"
        )
    problem = {
        "num_vars": len(checked),
        "names": list(checked),
        "bounds": [list(b) for b in checked.values()],
    }
    x = salib_sobol.sample(dict(problem), n, calc_second_order=False, scramble=True, seed=seed)
    lo = np.array([b[0] for b in checked.values()])
    hi = np.array([b[1] for b in checked.values()])
    unit = np.clip((x - lo) / (hi - lo), 0.0, 1.0)  # guard against rounding past the bounds
    return _scale(unit, checked, where), problem


def explicit(points: Sequence[Mapping[str, Any]], where: str = "design.points") -> list[Point]:
    """Points written out one by one; each is a table factor name -> value.

    An empty table is the baseline point (the scenario's own values).
    """
    if not isinstance(points, list | tuple) or not points:
        raise ConfigError(f"{where}: a list design needs at least one [[design.points]] table")
    out = []
    for i, point in enumerate(points):
        w = f"{where}[{i}]"
        if not isinstance(point, Mapping):
            raise ConfigError(f"{w}: expected a table factor = value, got {clip(point)}")
        out.append({_check_name(n, w): check_value(n, v, f"{w}.{n}") for n, v in point.items()})
    return out
