"""Scenario files: a TOML description of an experiment, validated into a frozen :class:`Scenario`.

A scenario names technology types and regimes (presets, or custom regimes
written in the file), population sizes, parameters, the horizon, replicates,
a root seed and a design over any lever, parameter, population size or
technology field (``scenarios/README.md`` is the reference of every key).
Everything is checked here, when the file is loaded, before the first run:
unknown keys (with a did-you-mean suggestion), wrong types, out-of-range
values, empty designs, missing files. A problem raises :class:`ScenarioError`
(a :class:`~kctsim.config.ConfigError`) with one message
``<file>: <key>: <what is wrong>; allowed: ...``. A scenario file is data
only: it is read with :mod:`tomllib` (and a cells table with :mod:`csv`),
never executed.

:meth:`Scenario.runs` expands a scenario into :class:`RunSpec` s in a fixed
order -- technology, regime, design point, replicate (the last varies
fastest) -- with ``run_id`` 0..n-1. Seeds: ``root = SeedSequence(seed)``,
``reps = root.spawn(replicates)``; replicate ``i`` of every technology,
regime and design point uses ``reps[i]`` (common random numbers). In a
scenario with ``[cells]`` (named technologies read from a CSV file) cell
``c`` gets its own stream ``SeedSequence(seed, spawn_key=(c, i))``, shared by
the regimes and design points of that cell: two cells of the same type are
different technologies, not copies of one.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kctsim.config import (
    BOOLEAN_PARAMETERS,
    LEVER_NAMES,
    PARAMETER_RANGES,
    POPULATION_RANGES,
    ConfigError,
    Levers,
    Parameters,
    TechnologyType,
    check_flag,
    default_parameters,
    load_regime,
    load_technology,
    regime_names,
    suggest,
    technology_names,
)
from kctsim.experiment import design as dsg
from kctsim.experiment.spec import LEDGER_CHOICES, METRICS_CHOICES, Output, RunSpec
from kctsim.metrics import RUN_METRICS, stage_metric_names


class ScenarioError(ConfigError):
    """A scenario file is missing, unreadable or invalid; the message names file and key."""


TOP_KEYS: tuple[str, ...] = (
    "name",
    "description",
    "technologies",
    "regimes",
    "horizon",
    "replicates",
    "seed",
    "population",
    "parameters",
    "levers",
    "regimes_custom",
    "technologies_custom",
    "cells",
    "design",
    "output",
)
OUTPUT_KEYS: tuple[str, ...] = ("metrics", "metrics_every", "ledger", "spillover")
DESIGN_KEYS: tuple[str, ...] = ("method", "samples", "seed", "factors", "points")
CELLS_KEYS: tuple[str, ...] = (
    "file",
    "id_column",
    "name_column",
    "type_column",
    "select",
    "regimes",
)
CUSTOM_TECHNOLOGY_KEYS: tuple[str, ...] = (
    "base",
    "description",
    "turbulence",
    "blockade",
    "rival_hazard",
    "cost_multiplier",
    "externality",
    "rival_market_share",
    "stages",
)
CUSTOM_REGIME_KEYS: tuple[str, ...] = ("base", "description", *LEVER_NAMES)

MAX_REPLICATES = 1_000_000
MAX_SEED = 2**63 - 1
MAX_RUNS = 10_000_000
"""Most runs a scenario may expand into unless the caller raises the cap (``--max-runs``):
checked before any run is built, so a typo's 10^11 runs costs nothing."""
MAX_DEPTH = 32
"""Deepest nesting of arrays and tables a scenario file may have (the deepest real one is 4)."""
BOM = "\ufeff"
MAX_LABEL = 100
"""Longest name of a scenario, custom regime or technology (it names directories)."""
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Design:
    """The validated design of a scenario.

    Args:
        method: ``none``, ``grid``, ``lhs``, ``sobol`` or ``list``.
        factors: names of the factors varied, in order.
        points: the design points (one empty point for ``none``).
        samples: sample size of ``lhs`` (points) or ``sobol`` (base N).
        seed: seed of the sampler (``lhs``, ``sobol``).
        problem: for ``sobol``, SALib's problem dict for ``SALib.analyze.sobol.analyze``.
    """

    method: str
    factors: tuple[str, ...]
    points: tuple[dict[str, Any], ...]
    samples: int | None = None
    seed: int | None = None
    problem: dict[str, Any] | None = None


@dataclass(frozen=True)
class Cell:
    """One named technology of a ``[cells]`` scenario (a row of its CSV file).

    Args:
        index: position among the selected rows; the first key of its seeds.
        id: the row's id.
        name: the row's name.
        technology: the technology type (a shipped or the scenario's custom type).
        regimes: the regimes it runs under.
        label: the run label, ``<id>_<name as a slug>``, e.g. ``01_lithography_machines``.
    """

    index: int
    id: str
    name: str
    technology: str
    regimes: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file; :meth:`runs` expands it into run specifications.

    Args:
        name: the scenario's name.
        description: what it is for.
        path: the file it was read from (None if parsed from text).
        text: the exact text of the file.
        sha256: hex digest of the file's bytes (UTF-8 of ``text``).
        technologies: technology type labels used, in order.
        regimes: regime labels used, in order.
        replicates: replicates per technology, regime and design point.
        seed: root seed.
        horizon: ticks per run (a design may vary it).
        design: the design.
        population: population sizes set by ``[population]``.
        parameters: parameter values set by ``[parameters]``.
        levers: lever values set by ``[levers]`` (applied on top of every regime).
        tech_specs: technology label -> validated technology type.
        regime_levers: regime label -> validated levers (with ``[levers]`` applied).
        cells: the named technologies of a ``[cells]`` scenario (empty otherwise).
        data_files: data files read (path relative to the scenario) -> sha256.
        output: what a sweep records of each run (``[output]``).
    """

    name: str
    description: str
    path: Path | None
    text: str
    sha256: str
    technologies: tuple[str, ...]
    regimes: tuple[str, ...]
    replicates: int
    seed: int
    horizon: int
    design: Design
    population: dict[str, int] = field(default_factory=dict)
    parameters: dict[str, float] = field(default_factory=dict)
    levers: dict[str, Any] = field(default_factory=dict)
    tech_specs: dict[str, TechnologyType] = field(default_factory=dict)
    regime_levers: dict[str, Levers] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    cells: tuple[Cell, ...] = ()
    data_files: dict[str, str] = field(default_factory=dict)
    output: Output = field(default_factory=Output)
    # Validated at load time, one per (regime, point), (technology, point) and point.
    _levers: dict[tuple[str, int], Levers] = field(default_factory=dict, repr=False)
    _techs: dict[tuple[str, int], TechnologyType] = field(default_factory=dict, repr=False)
    _overrides: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def combinations(self) -> list[tuple[str, str, str]]:
        """(run label, technology type, regime) in run order; the label is a cell's or the type."""
        if self.cells:
            return [(c.label, c.technology, r) for c in self.cells for r in c.regimes]
        return [(t, t, r) for t in self.technologies for r in self.regimes]

    @property
    def n_runs(self) -> int:
        """Number of runs: combinations x design points x replicates."""
        return len(self.combinations()) * len(self.design.points) * self.replicates

    def meta(self) -> dict[str, Any]:
        """What a sweep's manifest records about the scenario (plain, JSON-able data).

        Keys: ``name``, ``description``, ``path``, ``hash`` (``"sha256:<hex>"``),
        ``text``, ``seed``, ``replicates``, ``horizon``, ``data_files``, ``output``,
        ``cells`` and ``design`` (method, factors, samples, seed, number of
        points and, for ``sobol``, SALib's ``problem``).

        ``calibration``: the fit ``[parameters] calibration`` chose (None if none).
        """
        d = self.design
        return {
            "name": self.name,
            "description": self.description,
            "path": str(self.path) if self.path is not None else None,
            "hash": f"sha256:{self.sha256}",
            "text": self.text,
            "calibration": self.calibration,
            "seed": self.seed,
            "replicates": self.replicates,
            "horizon": self.horizon,
            "data_files": dict(self.data_files),
            "output": self.output.record(),
            "cells": [
                {
                    "label": c.label,
                    "id": c.id,
                    "name": c.name,
                    "technology": c.technology,
                    "regimes": list(c.regimes),
                }
                for c in self.cells
            ],
            "design": {
                "method": d.method,
                "factors": list(d.factors),
                "samples": d.samples,
                "seed": d.seed,
                "n_points": len(d.points),
                "problem": d.problem,
            },
        }

    def runs(self) -> list[RunSpec]:
        """Every run, in order technology (or cell), regime, design point, replicate."""
        prefixes = {c.label: (c.index,) for c in self.cells}
        specs: list[RunSpec] = []
        for label, technology, regime in self.combinations():
            prefix = prefixes.get(label, ())
            for p, point in enumerate(self.design.points):
                tech_spec = self._techs[(technology, p)]
                levers = self._levers[(regime, p)]
                for r in range(self.replicates):
                    specs.append(
                        RunSpec(
                            run_id=len(specs),
                            technology=label,
                            regime=regime,
                            point=p,
                            replicate=r,
                            tech_spec=tech_spec,
                            levers=levers,
                            overrides=dict(self._overrides[p]),
                            factors=dict(point),
                            seed_entropy=self.seed,
                            spawn_key=(*prefix, r),
                        )
                    )
        return specs


# ------------------------------------------------------------------ loading


def load_scenario(path: str | Path, max_runs: int = MAX_RUNS) -> Scenario:
    """Read and validate a scenario file.

    Args:
        path: the scenario file.
        max_runs: most runs the scenario may expand into (see :data:`MAX_RUNS`).

    Raises:
        ScenarioError: the file is missing, not UTF-8, not TOML or invalid.
    """
    path = Path(path)
    label = str(path)
    if not path.is_file():
        hint = ""
        if path.parent.is_dir():
            siblings = sorted(p.name for p in path.parent.glob("*.toml"))
            hint = suggest(path.name, siblings)
            if siblings:
                hint += f"; scenario files there: {', '.join(siblings)}"
        if path.is_dir():
            what = "is a directory, not a scenario file"
        elif path.exists():
            what = "is not a regular file (a device or a pipe?); allowed: a TOML file"
        else:
            what = "no such file"
        raise ScenarioError(f"{label}: {what}{hint}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{label}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_scenario(text, label, base_dir=path.parent, path=path, max_runs=max_runs)


def parse_scenario(
    text: str,
    where: str = "<scenario>",
    base_dir: str | Path | None = None,
    path: Path | None = None,
    max_runs: int = MAX_RUNS,
) -> Scenario:
    """Validate the text of a scenario file.

    Args:
        text: the TOML text (a leading UTF-8 byte-order mark, as Windows editors
            write, is ignored).
        where: the file's name, which starts every error message.
        base_dir: directory that relative data files (``[cells] file``,
            ``[parameters] calibration``) are read from; defaults to the
            directory of ``where``.
        path: recorded as :attr:`Scenario.path`.
        max_runs: most runs the scenario may expand into (see :data:`MAX_RUNS`).
    """
    base = Path(base_dir) if base_dir is not None else Path(where).parent
    try:
        return _Reader(where, base, max_runs).scenario(text.removeprefix(BOM), path)
    except ScenarioError:
        raise
    except ConfigError as exc:  # from the validators in kctsim.config; already located
        raise ScenarioError(str(exc)) from None
    except RecursionError:  # a validator met nesting that the depth check let through
        raise ScenarioError(
            f"{where}: values are nested too deeply; allowed: at most {MAX_DEPTH} levels"
        ) from None


# ------------------------------------------------------------------ reader


# The shipped presets are frozen data; read them once per process.
@functools.cache
def _shipped_technologies() -> dict[str, TechnologyType]:
    return {name: load_technology(name) for name in technology_names()}


@functools.cache
def _regime_presets() -> dict[str, Levers]:
    return {name: load_regime(name) for name in regime_names()}


@functools.cache
def _defaults() -> Parameters:
    return default_parameters()


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


_clip = dsg.clip


def _depth(value: Any) -> int:
    """How deeply arrays and tables nest in ``value`` (a scalar is 0); no recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, Mapping) else item
        if isinstance(item, Mapping | list):
            deepest = max(deepest, level + 1)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in children)
    return deepest


def _plausible_header(columns: list[str]) -> bool:
    """Whether a first line reads like CSV column names (else the file is not a table)."""
    return len(columns) >= 2 and all(
        c and len(c) <= 64 and c.isprintable() and c.strip() == c for c in columns
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


class _Reader:
    """Validates one scenario file; every error starts with the file's name."""

    def __init__(self, file: str, base_dir: Path, max_runs: int = MAX_RUNS) -> None:
        self.file = file
        self.base_dir = base_dir
        self.max_runs = max_runs
        self.data_files: dict[str, str] = {}
        self.calibration: dict[str, Any] | None = None

    # ----------------------------------------------------------- helpers

    def at(self, key: str) -> str:
        """The ``where`` prefix for the config validators: ``<file>: <key>``."""
        return f"{self.file}: {key}"

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.file}: {key}: {message}")

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], key: str) -> None:
        for name in table:
            if name not in allowed:
                close = suggest(name, allowed)
                raise ScenarioError(
                    f"{self.file}: {key}: unknown key {_clip(name)}{close}; "
                    f"allowed: {', '.join(allowed)}"
                )

    def table(self, data: Mapping[str, Any], key: str, path: str | None = None) -> dict:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(
                path or key, f"expected a table, got {_type_name(value)} {_clip(value)}"
            )
        return dict(value)

    def string(self, value: Any, key: str, label: bool = False) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_type_name(value)} {_clip(value)}")
        if label and len(value) > MAX_LABEL:  # names become directory names
            raise self.error(
                key, f"a name of {len(value)} characters; allowed: at most {MAX_LABEL}"
            )
        if label and not _LABEL.match(value):
            raise self.error(
                key,
                f"{_clip(value)} is not a valid name; allowed: letters, digits, '_', '.', '-', "
                "starting with a letter or digit",
            )
        return value

    def integer(self, data: Mapping[str, Any], key: str, lo: int, hi: int, path: str = "") -> int:
        if key not in data:
            raise self.error(path or key, f"missing; allowed: an integer from {lo} to {hi}")
        return dsg.number(data[key], self.at(path or key), lo, hi, integer=True)

    def names(self, value: Any, key: str, allowed: list[str], kind: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.error(
                key,
                f"expected a non-empty array of {kind} names, got {_clip(value)}; "
                f"allowed: {', '.join(allowed)}",
            )
        out = []
        for i, name in enumerate(value):
            if not isinstance(name, str) or name not in allowed:
                raise self.error(
                    f"{key}[{i}]",
                    f"unknown {kind} {_clip(name)}{suggest(str(name), allowed)}; "
                    f"allowed: {', '.join(allowed)}",
                )
            if name in out:
                raise self.error(f"{key}[{i}]", f"{kind} {_clip(name)} is listed twice")
            out.append(name)
        return tuple(out)

    def sanitise(self, value: Any, key: str) -> None:
        """TOML integers are 64-bit; refuse larger ones before any float conversion."""
        if isinstance(value, Mapping):
            for k, v in value.items():
                self.sanitise(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.sanitise(v, f"{key}[{i}]")
        elif isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            raise self.error(key, f"integer {_clip(value)} is outside TOML's 64-bit range")

    # ----------------------------------------------------------- sections

    def scenario(self, text: str, path: Path | None) -> Scenario:
        too_deep = ScenarioError(
            f"{self.file}: values are nested too deeply; allowed: at most {MAX_DEPTH} levels "
            "of arrays and tables"
        )
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{self.file}: TOML syntax error: {exc}") from None
        except RecursionError:  # tomllib parses nested arrays and inline tables recursively
            raise too_deep from None
        if _depth(data) > MAX_DEPTH:
            raise too_deep
        self.sanitise(data, "")
        self.check_keys(data, TOP_KEYS, "top level")

        if "name" in data:
            name = self.string(data["name"], "name", label=True)
        else:
            name = Path(self.file).stem or "scenario"
            if not _LABEL.match(name):
                raise self.error(
                    "name",
                    f"missing, and the file name {_clip(name)} cannot stand in for it; add "
                    f'name = "{_slug(name) or "my_scenario"}" (allowed: letters, digits, '
                    "'_', '.', '-', starting with a letter or digit)",
                )
        description = self.string(data.get("description", ""), "description")
        replicates = self.integer(data, "replicates", 1, MAX_REPLICATES)
        seed = self.integer(data, "seed", 0, MAX_SEED)
        lo, hi, _ = PARAMETER_RANGES["horizon"]
        horizon = (
            self.integer(data, "horizon", int(lo), int(hi))
            if "horizon" in data
            else int(_defaults().horizon)
        )
        population = self.population(data)
        parameters = self.parameters(data)
        levers = self.table(data, "levers")
        for key in levers:
            if key == "horizon":
                raise self.error("levers.horizon", "set horizon at the top level")
            if key in POPULATION_RANGES:
                raise self.error(f"levers.{key}", "population sizes go in [population]")
            if key in PARAMETER_RANGES:
                raise self.error(f"levers.{key}", "parameters go in [parameters]")
        self.check_keys(levers, LEVER_NAMES, "levers")

        techs = dict(_shipped_technologies()) | self.custom_technologies(data)
        regimes = dict(_regime_presets()) | self.custom_regimes(data)
        regimes = {
            name: lev.replace(self.at("levers"), **levers) if levers else lev
            for name, lev in regimes.items()
        }

        cells: tuple[Cell, ...] = ()
        if "cells" in data:
            for key in ("technologies", "regimes"):
                if key in data:
                    raise self.error(
                        key, "not allowed with [cells]; the cells table names types and regimes"
                    )
            cells = self.cells(data, list(techs), list(regimes))
            used_techs = tuple(dict.fromkeys(c.technology for c in cells))
            used_regimes = tuple(dict.fromkeys(r for c in cells for r in c.regimes))
        else:
            for key, allowed in (("technologies", techs), ("regimes", regimes)):
                if key not in data:
                    raise self.error(
                        key,
                        f"missing; allowed: an array of names from {', '.join(allowed)} "
                        "(or a [cells] table)",
                    )
            used_techs = self.names(data["technologies"], "technologies", list(techs), "technology")
            used_regimes = self.names(data["regimes"], "regimes", list(regimes), "regime")
        self.check_used(data, "technologies_custom", used_techs)
        self.check_used(data, "regimes_custom", used_regimes)

        design = self.design(data, seed)
        output = self.output(data, [techs[t] for t in used_techs])
        n_combos = (
            sum(len(c.regimes) for c in cells) if cells else len(used_techs) * len(used_regimes)
        )
        n_runs = n_combos * len(design.points) * replicates
        if n_runs > self.max_runs:
            raise self.error(
                "runs",
                f"the scenario expands into {n_runs:,} runs ({n_combos} technology x regime "
                f"combinations x {len(design.points):,} design points x {replicates:,} "
                f"replicates); allowed: at most {self.max_runs:,} (raise the cap with --max-runs)",
            )
        base_overrides = {"horizon": horizon, **population, **parameters}
        point_levers, point_techs, overrides = self.expand_points(
            design,
            base_overrides,
            {t: techs[t] for t in used_techs},
            {r: regimes[r] for r in used_regimes},
        )
        # The combinations that actually run must agree on the number of stages.
        combos = (
            [(c.technology, r) for c in cells for r in c.regimes]
            if cells
            else [(t, r) for t in used_techs for r in used_regimes]
        )
        for t, r in dict.fromkeys(combos):
            for p in range(len(design.points)):
                self.check_stages(point_techs[(t, p)], point_levers[(r, p)], t, r, p, design)

        return Scenario(
            name=name,
            description=description,
            path=path,
            text=text,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            technologies=used_techs,
            regimes=used_regimes,
            replicates=replicates,
            seed=seed,
            horizon=horizon,
            design=design,
            population=population,
            parameters=parameters,
            levers=levers,
            tech_specs={t: techs[t] for t in used_techs},
            regime_levers={r: regimes[r] for r in used_regimes},
            calibration=self.calibration,
            cells=cells,
            data_files=dict(self.data_files),
            output=output,
            _levers=point_levers,
            _techs=point_techs,
            _overrides=tuple(overrides),
        )

    def output(self, data: Mapping[str, Any], techs: list[TechnologyType]) -> Output:
        """``[output]``: what a sweep records of each run (defaults: see :class:`Output`)."""
        spec = self.table(data, "output")
        self.check_keys(spec, OUTPUT_KEYS, "output")
        metrics: str | tuple[str, ...] = spec.get("metrics", "all")
        names = [*RUN_METRICS[1:], *stage_metric_names(max(len(t.stages) for t in techs))]
        if isinstance(metrics, str):
            if metrics not in METRICS_CHOICES:
                raise self.error(
                    "output.metrics",
                    f"{metrics!r}{suggest(metrics, METRICS_CHOICES)}; "
                    'allowed: "all", "none" or an array of per-tick metric names',
                )
        else:
            metrics = self.names(metrics, "output.metrics", names, "metric")
        every = (
            self.integer(spec, "metrics_every", 1, 100_000, "output.metrics_every")
            if ("metrics_every" in spec)
            else 1
        )
        ledger = spec.get("ledger", "flows")
        if ledger not in LEDGER_CHOICES:
            raise self.error(
                "output.ledger",
                f"{ledger!r}{suggest(str(ledger), LEDGER_CHOICES)}; "
                f"allowed: {', '.join(LEDGER_CHOICES)}",
            )
        spillover = spec.get("spillover", True)
        if not isinstance(spillover, bool):
            raise self.error("output.spillover", f"{spillover!r}; allowed: true, false")
        return Output(metrics=metrics, metrics_every=every, ledger=ledger, spillover=spillover)

    def population(self, data: Mapping[str, Any]) -> dict[str, int]:
        table = self.table(data, "population")
        self.check_keys(table, tuple(POPULATION_RANGES), "population")
        return {
            key: dsg.number(
                value, self.at(f"population.{key}"), *POPULATION_RANGES[key], integer=True
            )
            for key, value in table.items()
        }

    def parameters(self, data: Mapping[str, Any]) -> dict[str, float | bool]:
        table = self.table(data, "parameters")
        if "calibration" in table:
            if "cost_scale" in table:
                raise self.error(
                    "parameters.calibration",
                    "set either cost_scale or calibration (a calibration sets the cost scale)",
                )
            table["cost_scale"] = self.calibration_file(table.pop("calibration"))
        allowed = (
            *(k for k in PARAMETER_RANGES if k != "horizon"),
            *BOOLEAN_PARAMETERS,
            "calibration",
        )
        for key, value in table.items():
            if key == "horizon":
                raise self.error("parameters.horizon", "set horizon at the top level")
            if key in POPULATION_RANGES:
                raise self.error(f"parameters.{key}", "population sizes go in [population]")
            if key in LEVER_NAMES:
                raise self.error(f"parameters.{key}", "levers go in [levers]")
            if key not in allowed:
                self.check_keys({key: value}, allowed, "parameters")
        out = {}
        for key, value in table.items():
            if key in BOOLEAN_PARAMETERS:
                out[key] = check_flag(value, self.at(f"parameters.{key}"))
                continue
            lo, hi, integer = PARAMETER_RANGES[key]
            out[key] = dsg.number(value, self.at(f"parameters.{key}"), lo, hi, integer)
        return out

    def data_file(self, value: Any, key: str, allowed: str) -> tuple[str, bytes]:
        """Read a data file named by ``key`` (relative to the scenario); its path and bytes."""
        rel = self.string(value, key)
        path = self.base_dir / rel
        if path.is_dir():
            raise self.error(key, f"{rel!r} is a directory; allowed: {allowed}")
        if path.exists() and not path.is_file():
            raise self.error(key, f"{rel!r} is not a regular file (a device or a pipe?)")
        if not path.exists():
            raise self.error(key, f"no such file {str(path)!r}; allowed: {allowed}")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise self.error(key, f"{rel!r} cannot be read ({exc.strerror})") from None
        self.data_files[rel] = hashlib.sha256(raw).hexdigest()
        return rel, raw

    def calibration_file(self, value: Any) -> float:
        """The cost scale of the calibration file ``[parameters] calibration`` names."""
        from kctsim.analysis.calibration import CalibrationFileError, parse_calibration

        key = "parameters.calibration"
        rel, raw = self.data_file(
            value, key, "a calibration.json or .toml written by `kctsim calibrate`"
        )
        try:
            record = parse_calibration(raw, rel)
        except CalibrationFileError as exc:
            raise self.error(key, str(exc)) from None
        self.calibration = {
            "file": rel,
            "sha256": self.data_files[rel],
            "cost_scale": record["cost_scale"],
            "ci_low": record.get("ci_low"),
            "ci_high": record.get("ci_high"),
            "warnings": list(record.get("warnings", [])),
        }
        return float(record["cost_scale"])

    def custom_technologies(self, data: Mapping[str, Any]) -> dict[str, TechnologyType]:
        shipped = list(_shipped_technologies())
        out = {}
        for name, spec in self.table(data, "technologies_custom").items():
            key = f"technologies_custom.{name}"
            self.string(name, key, label=True)
            if name in shipped:
                raise self.error(
                    key, f"{_clip(name)} is a shipped technology type; choose another name"
                )
            if not isinstance(spec, Mapping):
                raise self.error(key, f"expected a table, got {_type_name(spec)} {_clip(spec)}")
            self.check_keys(spec, CUSTOM_TECHNOLOGY_KEYS, key)
            if "base" not in spec:
                raise self.error(f"{key}.base", f"missing; allowed: {', '.join(shipped)}")
            base = spec["base"]
            if base not in shipped:
                raise self.error(
                    f"{key}.base",
                    f"unknown technology type {_clip(base)}{suggest(str(base), shipped)}; "
                    f"allowed: {', '.join(shipped)}",
                )
            changes = {k: v for k, v in spec.items() if k != "base"}
            changes.setdefault("description", f"{base} (custom: {name})")
            self.string(changes["description"], f"{key}.description")
            if "stages" in changes:
                stages = changes["stages"]
                if (
                    not isinstance(stages, list)
                    or not stages
                    or not all(isinstance(s, Mapping) for s in stages)
                ):
                    raise self.error(f"{key}.stages", "expected an array of [[stages]] tables")
            out[name] = _shipped_technologies()[base].replace(self.at(key), name=name, **changes)
        return out

    def custom_regimes(self, data: Mapping[str, Any]) -> dict[str, Levers]:
        presets = list(_regime_presets())
        out = {}
        for name, spec in self.table(data, "regimes_custom").items():
            key = f"regimes_custom.{name}"
            self.string(name, key, label=True)
            if name in presets:
                raise self.error(key, f"{_clip(name)} is a regime preset; choose another name")
            if not isinstance(spec, Mapping):
                raise self.error(key, f"expected a table, got {_type_name(spec)} {_clip(spec)}")
            self.check_keys(spec, CUSTOM_REGIME_KEYS, key)
            self.string(spec.get("description", ""), f"{key}.description")
            values = {k: v for k, v in spec.items() if k in LEVER_NAMES}
            if "base" in spec:
                base = spec["base"]
                if base not in presets:
                    raise self.error(
                        f"{key}.base",
                        f"unknown regime preset {_clip(base)}{suggest(str(base), presets)}; "
                        f"allowed: {', '.join(presets)}",
                    )
                out[name] = _regime_presets()[base].replace(self.at(key), **values)
            else:
                missing = [n for n in LEVER_NAMES if n not in values]
                if missing:
                    raise self.error(
                        key,
                        f"without base, every lever is needed; missing {', '.join(missing)}; "
                        f"or set base to one of {', '.join(presets)}",
                    )
                out[name] = Levers.from_mapping(values, self.at(key))
        return out

    def check_used(self, data: Mapping[str, Any], key: str, used: tuple[str, ...]) -> None:
        for name in self.table(data, key):
            if name not in used:
                raise self.error(
                    f"{key}.{name}", "defined but not used; list it or remove the definition"
                )

    def cells(
        self, data: Mapping[str, Any], techs: list[str], regimes: list[str]
    ) -> tuple[Cell, ...]:
        spec = self.table(data, "cells")
        self.check_keys(spec, CELLS_KEYS, "cells")
        if "file" not in spec:
            raise self.error("cells.file", "missing; allowed: a CSV file relative to the scenario")
        table_kind = "a CSV file with a header row, relative to the scenario"
        rel, raw = self.data_file(spec["file"], "cells.file", table_kind)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise self.error(
                "cells.file", f"{rel!r} is not UTF-8 text; allowed: {table_kind}"
            ) from None
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            columns = list(reader.fieldnames or [])
            rows = list(reader)
        except csv.Error as exc:
            raise self.error("cells.file", f"{rel!r} is not valid CSV ({exc})") from None
        if not _plausible_header(columns):
            # Its first line is not column names: name no "column" (that would echo the file).
            raise self.error(
                "cells.file",
                f"{rel!r} does not start with a header of column names; allowed: {table_kind}",
            )
        if not rows:
            raise self.error("cells.file", f"{rel!r} has a header but no rows")

        wanted = {k: spec.get(k, d) for k, d in (("id_column", "id"), ("name_column", "name"))}
        wanted["type_column"] = spec.get("type_column", "type")
        if not any(isinstance(c, str) and c in columns for c in wanted.values()):
            # Not a header with a typo but no header at all: naming its "columns" would
            # echo the file's first line.
            names = ", ".join(_clip(c) for c in wanted.values())
            raise self.error(
                "cells.file",
                f"{rel!r} has none of the columns {names} in its first line; allowed: "
                f"{table_kind} (cells.id_column, name_column, type_column name the columns)",
            )

        def column(key: str, default: str) -> str:
            col = self.string(spec.get(key, default), f"cells.{key}")
            if col not in columns:
                shown = ", ".join(c[:40] for c in columns[:20])
                more = ", ..." if len(columns) > 20 else ""
                raise self.error(
                    f"cells.{key}",
                    f"{rel!r} has no column {_clip(col)}{suggest(col, columns)}; "
                    f"allowed: {shown}{more}",
                )
            return col

        id_col = column("id_column", "id")
        name_col = column("name_column", "name")
        type_col = column("type_column", "type")

        select = self.table(spec, "select", "cells.select")
        for col, wanted in select.items():
            if col not in columns:
                raise self.error(
                    f"cells.select.{col}",
                    f"{rel!r} has no column {col!r}{suggest(col, columns)}; "
                    f"allowed: {', '.join(columns)}",
                )
            wanted = [wanted] if isinstance(wanted, str) else wanted
            if (
                not isinstance(wanted, list)
                or not wanted
                or not all(isinstance(w, str) for w in wanted)
            ):
                raise self.error(f"cells.select.{col}", "expected a string or array of strings")
            select[col] = wanted
        rows = [r for r in rows if all((r.get(c) or "").strip() in w for c, w in select.items())]
        if not rows:
            raise self.error("cells", f"no rows of {rel!r} are selected")

        mapping = self.table(spec, "regimes", "cells.regimes")
        if not mapping:
            raise self.error(
                "cells.regimes", "missing; allowed: a table technology type = regime name(s)"
            )
        for t in mapping:
            if t not in techs:
                raise self.error(
                    f"cells.regimes.{t}",
                    f"unknown technology type {t!r}{suggest(t, techs)}; "
                    f"allowed: {', '.join(techs)}",
                )
        type_regimes = {
            t: self.names(v, f"cells.regimes.{t}", regimes, "regime") for t, v in mapping.items()
        }

        ids = [(r.get(id_col) or "").strip() for r in rows]
        width = max(len(i) for i in ids) if all(i.isdigit() for i in ids) else 0
        cells = []
        for index, (row, cell_id) in enumerate(zip(rows, ids, strict=True)):
            where = f"cells.file: {rel} row {index + 2}"  # line numbers count the header
            if not cell_id:
                raise self.error(where, f"empty {id_col!r}")
            if cell_id in ids[:index]:
                raise self.error(where, f"id {_clip(cell_id)} appears twice")
            tech = (row.get(type_col) or "").strip()
            if tech not in techs:
                raise self.error(
                    where,
                    f"{type_col} {_clip(tech)} is not a technology type{suggest(tech, techs)}; "
                    f"allowed: {', '.join(techs)}",
                )
            if tech not in type_regimes:
                raise self.error("cells.regimes", f"missing an entry for type {tech!r}")
            name = (row.get(name_col) or "").strip()
            label = f"{cell_id.zfill(width)}_{_slug(name)}".rstrip("_")
            if any(c.label == label for c in cells):
                raise self.error(where, f"label {_clip(label)} repeats an earlier row's")
            cells.append(Cell(index, cell_id, name, tech, type_regimes[tech], label))
        return tuple(cells)

    def design(self, data: Mapping[str, Any], seed: int) -> Design:
        spec = self.table(data, "design")
        if not spec:
            return Design("none", (), ({},))
        self.check_keys(spec, DESIGN_KEYS, "design")
        if "method" not in spec:
            raise self.error("design.method", f"missing; allowed: {', '.join(dsg.METHODS)}")
        method = spec["method"]
        if method not in dsg.METHODS:
            raise self.error(
                "design.method",
                f"unknown method {method!r}{suggest(str(method), dsg.METHODS)}; "
                f"allowed: {', '.join(dsg.METHODS)}",
            )
        needs = {
            "none": (),
            "grid": ("factors",),
            "lhs": ("factors", "samples"),
            "sobol": ("factors", "samples"),
            "list": ("points",),
        }[method]
        optional = ("seed",) if method in ("lhs", "sobol") else ()
        for key in spec:
            if key != "method" and key not in needs + optional:
                raise self.error(
                    f"design.{key}",
                    f"not used by method {method!r}; allowed: "
                    f"{', '.join(('method', *needs, *optional))}",
                )
        for key in needs:
            if key not in spec:
                raise self.error(f"design.{key}", f"missing; method {method!r} needs it")
        where = self.at("design.factors")
        if method == "none":
            return Design("none", (), ({},))
        if method == "list":
            points = dsg.explicit(spec["points"], self.at("design.points"))
            names = tuple(dict.fromkeys(n for p in points for n in p))
            return Design("list", names, tuple(points))
        factors = self.table(spec, "factors", "design.factors")
        if method == "grid":
            points = dsg.grid(factors, where)
            return Design("grid", tuple(factors), tuple(points))
        samples = self.integer(spec, "samples", 1, dsg.MAX_POINTS, "design.samples")
        design_seed = (
            self.integer(spec, "seed", 0, MAX_SEED, "design.seed") if "seed" in spec else seed
        )
        if method == "lhs":
            rng = np.random.default_rng(np.random.SeedSequence(design_seed))
            points = dsg.lhs(factors, samples, rng, where)
            return Design("lhs", tuple(factors), tuple(points), samples, design_seed)
        points, problem = dsg.sobol(factors, samples, design_seed, where)
        return Design("sobol", tuple(factors), tuple(points), samples, design_seed, problem)

    def expand_points(
        self,
        design: Design,
        base_overrides: dict[str, Any],
        techs: dict[str, TechnologyType],
        regimes: dict[str, Levers],
    ) -> tuple[dict, dict, list[dict[str, Any]]]:
        """Apply every design point to every regime and technology, validating each once."""
        defaults = _defaults()
        point_levers: dict[tuple[str, int], Levers] = {}
        point_techs: dict[tuple[str, int], TechnologyType] = {}
        overrides: list[dict[str, Any]] = []
        checked: set[tuple] = set()
        for p, point in enumerate(design.points):
            if design.method == "none":
                where = self.at("population")
            elif design.method == "list":
                where = self.at(f"design.points[{p}]")
            else:
                where = self.at(f"design.factors (point {p}: {_short(point)})")
            kinds = {n: dsg.factor_kind(n) for n in point}
            lever_changes = {n: v for n, v in point.items() if kinds[n] == "lever"}
            tech_changes = {n: v for n, v in point.items() if kinds[n] == "technology"}
            values = base_overrides | {
                n: v for n, v in point.items() if kinds[n] in ("parameter", "population")
            }
            key = tuple(sorted(values.items()))
            if key not in checked:
                defaults.replace(where, **values)
                checked.add(key)
            overrides.append(values)
            for r, levers in regimes.items():
                point_levers[(r, p)] = (
                    levers.replace(where, **lever_changes) if lever_changes else levers
                )
            for t, tech in techs.items():
                point_techs[(t, p)] = tech.replace(where, **tech_changes) if tech_changes else tech
        return point_levers, point_techs, overrides

    def check_stages(
        self, tech: TechnologyType, levers: Levers, t: str, r: str, p: int, design: Design
    ) -> None:
        n = len(tech.stages)
        if n > 1 and len(levers.stage_weights) != n:
            at = f" at design point {p}" if design.method != "none" else ""
            raise self.error(
                "stage_weights",
                f"regime {r!r} has {len(levers.stage_weights)} stage weights but technology "
                f"{t!r} has a chain of {n} stages{at}; allowed: one weight per stage",
            )


def _short(point: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in point.items())
    return text if len(text) <= 80 else text[:77] + "..."
