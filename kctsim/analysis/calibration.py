"""Calibrating the global cost scale on the 2018 chokepoint technologies.

The paper: of the 35 chokepoint technologies reported in 2018, 14 were still
not broken through in 2023, so about 21 were. The chokepoint scenario runs the
35 under the status-quo (cause) regime of their type for 20 quarters; this
module finds the ``cost_scale`` at which the model breaks through 21 of them
on average (docs/ODD.md, section 6).

Method: run the scenario at a geometric grid of cost scales, every grid value
with the same seeds (common random numbers, so the curve is smooth); per
replicate count the technologies broken through; interpolate the mean count
linearly in log cost scale and solve for the target. The uncertainty is a
bootstrap over replicates (each replicate is one possible 2018-2023 history of
all 35), re-solving each time.

A fit is written to the output directory of ``kctsim calibrate`` only (never
into the package); it is used when chosen explicitly, with ``kctsim
propositions --calibration FILE`` or ``[parameters] calibration = "FILE"`` in a
scenario. The shipped default, ``kctsim/data/calibration.toml``, changes only
when a developer runs ``scripts/update_shipped_calibration.py`` on purpose.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import kctsim
from kctsim.config import ConfigError
from kctsim.experiment.scenario import Scenario
from kctsim.experiment.spec import RunSpec
from kctsim.files import check_out_dir, now, write_atomic

TARGET = 21
"""Chokepoint technologies broken through by 2023 (35 reported in 2018, 14 still missing)."""
CALIBRATION_FILE = "data/calibration.toml"
"""The shipped default, inside the package: read here, written only by
``scripts/update_shipped_calibration.py``."""
FORMAT = "kctsim-calibration/1"
CONFIDENCE = 0.95
MIN_REPLICATES = 8
"""Fewer replicates than this and the bootstrap interval is too rough to trust: a warning."""
EDGE = 0.01
"""An estimate within 1% (in log cost) of an end of its interval sits on its edge: a warning."""


class CalibrationFileError(ConfigError):
    """A calibration file is not one ``kctsim calibrate`` wrote (one line, exit code 2)."""


def calibrated_cost_scale(path: str | Path | None = None) -> float:
    """The cost scale of a calibration file (default: the shipped calibration)."""
    return float(calibration_record(path)["cost_scale"])


def calibration_record(path: str | Path | None = None) -> dict[str, Any]:
    """Everything a calibration records (value, interval, how it was made).

    Args:
        path: a ``calibration.json`` written by ``kctsim calibrate`` (or a TOML
            file of the same keys); default: the calibration shipped in the package.

    Raises:
        CalibrationFileError: the file is missing or not a calibration.
    """
    if path is None:
        packaged = resources.files("kctsim").joinpath(CALIBRATION_FILE)
        record = parse_calibration(packaged.read_bytes(), f"kctsim/{CALIBRATION_FILE}")
        return record | {"file": f"kctsim/{CALIBRATION_FILE} (shipped)"}
    path = Path(path)
    if path.is_dir():
        raise CalibrationFileError(
            f"{path}: is a directory; give its calibration.json (written by `kctsim calibrate`)"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CalibrationFileError(f"{path}: no such calibration file") from None
    except OSError as exc:
        raise CalibrationFileError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_calibration(raw, str(path)) | {"file": str(path)}


def parse_calibration(raw: bytes, where: str) -> dict[str, Any]:
    """A calibration record from the bytes of a JSON or TOML calibration file.

    Raises:
        CalibrationFileError: not UTF-8, not JSON/TOML, or no positive ``cost_scale``.
    """
    allowed = "allowed: a calibration.json written by `kctsim calibrate`"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CalibrationFileError(f"{where}: is not UTF-8 text; {allowed}") from None
    try:
        record = _json_or_toml(text)
    except (ValueError, RecursionError):  # JSON and TOML syntax errors are ValueErrors
        raise CalibrationFileError(f"{where}: is neither JSON nor TOML; {allowed}") from None
    if not isinstance(record, dict) or "cost_scale" not in record:
        raise CalibrationFileError(f"{where}: has no cost_scale; {allowed}")
    value = record["cost_scale"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise CalibrationFileError(
            f"{where}: cost_scale is not a positive number (the fit failed?); {allowed}"
        )
    return record


def _json_or_toml(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return tomllib.loads(text)


def fit_warnings(cal: Calibration, grid: list[float] | None = None) -> list[str]:
    """Why a fit should not be trusted (empty if there is no reason)."""
    out = []
    if cal.replicates < MIN_REPLICATES:
        out.append(
            f"only {cal.replicates} replicates (at least {MIN_REPLICATES} are needed for a "
            "usable interval); rerun with more --replicates"
        )
    point, low, high = cal.cost_scale, cal.ci_low, cal.ci_high
    if not (math.isfinite(low) and math.isfinite(high)):
        out.append("the bootstrap gave no interval; rerun with more --replicates")
    elif math.isfinite(point) and (math.log(point / low) <= EDGE or math.log(high / point) <= EDGE):
        out.append(
            f"the estimate {point:.4g} sits on the edge of its interval "
            f"[{low:.4g}, {high:.4g}]; rerun with more --replicates"
        )
    if cal.bootstrap_failures:
        out.append(
            f"{cal.bootstrap_failures} bootstrap samples never crossed the target on the grid, "
            "so the interval is cut off by the grid; widen --grid"
        )
    return out


def grid_values(low: float, high: float, points: int) -> list[float]:
    """A geometric grid of cost scales, rounded to 4 significant digits."""
    if not (0 < low < high) or points < 2:
        raise ValueError("the cost-scale grid needs 0 < low < high and at least 2 points")
    return [float(f"{v:.4g}") for v in np.geomspace(low, high, points)]


def grid_runs(scenario: Scenario, costs: list[float]) -> list[RunSpec]:
    """The scenario's runs at every cost scale; replicate i keeps its seed at every value."""
    base = scenario.runs()
    specs = []
    for cost in costs:
        for spec in base:
            specs.append(
                replace(
                    spec,
                    run_id=len(specs),
                    overrides=spec.overrides | {"cost_scale": cost},
                    factors=spec.factors | {"cost_scale": cost},
                )
            )
    return specs


def grid_meta(scenario: Scenario, costs: list[float]) -> dict[str, Any]:
    """The sweep meta of a calibration grid (its hash covers the scenario and the grid)."""
    meta = scenario.meta()
    digest = hashlib.sha256(f"{meta['hash']}|{costs}|{scenario.replicates}".encode()).hexdigest()
    meta = meta | {"name": f"calibrate_{scenario.name}", "hash": f"sha256:{digest}"}
    meta["design"] = meta["design"] | {"method": "grid", "factors": ["cost_scale"]}
    meta["calibration_grid"] = costs
    return meta


def counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Technologies broken through, per cost scale and replicate (columns: cost
    scale, replicate, broken, n)."""
    ok = runs[runs["status"] == "ok"]
    return (
        ok.groupby(["factor.cost_scale", "replicate"])["broke_through"]
        .agg(broken="sum", n="size")
        .reset_index()
        .rename(columns={"factor.cost_scale": "cost_scale"})
    )


def solve(costs: np.ndarray, mean_broken: np.ndarray, target: float) -> float:
    """The cost scale at which the mean count crosses ``target`` (linear in log cost).

    NaN when the target lies outside the counts seen on the grid.
    """
    order = np.argsort(costs)
    x, y = np.log(costs[order]), mean_broken[order]
    # More cost, fewer breakthroughs; enforce that on the noisy curve before inverting.
    y = np.minimum.accumulate(y)
    if not (y[-1] <= target <= y[0]):
        return float("nan")
    above = np.nonzero(y >= target)[0][-1]
    if above == len(y) - 1 or y[above] == target:
        return float(np.exp(x[above]))
    x0, x1, y0, y1 = x[above], x[above + 1], y[above], y[above + 1]
    return float(np.exp(x0 + (target - y0) * (x1 - x0) / (y1 - y0)))


@dataclass
class Calibration:
    """The fitted cost scale and the evidence behind it."""

    cost_scale: float
    ci_low: float
    ci_high: float
    target: int
    n_technologies: int
    replicates: int
    curve: pd.DataFrame  # cost_scale, mean, sd, low, high (of the count of broken through)
    bootstrap_failures: int

    def record(self, scenario: Scenario, sweep_dir: Path) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "cost_scale": self.cost_scale,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": CONFIDENCE,
            "target_broken_through": self.target,
            "technologies": self.n_technologies,
            "horizon": scenario.horizon,
            "replicates": self.replicates,
            "grid": [float(c) for c in self.curve["cost_scale"]],
            "mean_broken_through": [round(float(m), 3) for m in self.curve["mean"]],
            "bootstrap_failures": self.bootstrap_failures,
            "warnings": fit_warnings(self),
            "scenario": scenario.name,
            "scenario_hash": f"sha256:{scenario.sha256}",
            "sweep": str(sweep_dir),
            "kctsim": kctsim.__version__,
            "created": now(),
        }


def fit(runs: pd.DataFrame, target: int = TARGET, seed: int = 0, n_boot: int = 2000) -> Calibration:
    """Fit the cost scale from a calibration grid's runs table."""
    table = counts(runs)
    wide = table.pivot(index="replicate", columns="cost_scale", values="broken").dropna()
    costs = wide.columns.to_numpy(dtype=float)
    values = wide.to_numpy(dtype=float)  # replicate x cost
    n_tech = int(table["n"].max())
    point = solve(costs, values.mean(axis=0), target)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(n_boot, len(values)))
    boot = np.array([solve(costs, values[p].mean(axis=0), target) for p in picks])
    tail = (1 - CONFIDENCE) / 2
    ok = boot[np.isfinite(boot)]
    low, high = np.quantile(ok, [tail, 1 - tail]) if len(ok) else (np.nan, np.nan)
    q = np.quantile(values, [tail, 1 - tail], axis=0)
    curve = pd.DataFrame(
        {
            "cost_scale": costs,
            "mean": values.mean(axis=0),
            "sd": values.std(axis=0, ddof=1) if len(values) > 1 else np.nan,
            "low": q[0],
            "high": q[1],
        }
    )
    return Calibration(
        cost_scale=point,
        ci_low=float(low),
        ci_high=float(high),
        target=target,
        n_technologies=n_tech,
        replicates=len(values),
        curve=curve,
        bootstrap_failures=int((~np.isfinite(boot)).sum()),
    )


def write_calibration_toml(record: dict[str, Any], path: Path) -> None:
    """Write the calibration record as TOML (flat keys, numbers, strings, lists)."""
    lines = [
        "# Written by scripts/update_shipped_calibration.py from a `kctsim calibrate` fit:",
        "# the global cost scale fitted on the 2018 chokepoint scenario (docs/ODD.md,",
        "# section 6). Do not edit by hand.",
    ]
    for key, value in record.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    write_atomic(path, "\n".join(lines) + "\n")


def run_calibration(
    scenario: Scenario,
    out_dir: Path,
    costs: list[float],
    target: int = TARGET,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> tuple[Calibration, dict[str, Any]]:
    """Run (or resume) the calibration grid into ``out_dir/sweep`` and fit it.

    Writes ``calibration.json`` and ``curve.csv`` next to the sweep (nothing
    into the package) and returns the fit and its record.
    """
    from kctsim.experiment.runner import run_sweep
    from kctsim.experiment.store import load_results
    from kctsim.results import jsonable

    sweep_dir = out_dir / "sweep"
    check_out_dir(out_dir, lambda d: (d / "sweep").is_dir(), "kctsim calibration")
    meta = grid_meta(scenario, costs)
    run_sweep(
        grid_runs(scenario, costs),
        meta,
        sweep_dir,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        progress=progress,
    )
    runs = load_results(sweep_dir, tables=("runs",))["runs"]
    calibration = fit(runs, target=target)
    record = calibration.record(scenario, sweep_dir)
    write_atomic(out_dir / "calibration.json", json.dumps(jsonable(record), indent=2) + "\n")
    write_atomic(out_dir / "curve.csv", calibration.curve.to_csv(index=False))
    return calibration, record
