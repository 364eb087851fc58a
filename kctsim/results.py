"""Turning a finished run into tidy tables and writing them to disk.

:func:`run_model` builds and runs one :class:`~kctsim.model.KCTModel`;
:func:`collect_results` turns a finished model into a :class:`RunResults`
(per-tick metrics, the money ledger, the spillover matrix in long form, a
one-row summary and a JSON-safe manifest of versions, seed and inputs);
:func:`write_results` writes them as Parquet and CSV, atomically.

A results directory is complete exactly when it holds ``manifest.json``: the
manifest is always the last file moved into place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
import pyarrow

import kctsim
from kctsim import files
from kctsim.config import AGENT_TYPES
from kctsim.ledger import KINDS, TYPE_CODE, Ledger
from kctsim.metrics import summary_rule
from kctsim.model import KCTModel

FOREIGN = "foreign"
"""Source type of knowledge imitated from the foreign frontier design."""

TABLES = ("metrics", "ledger", "summary", "spillover")
"""The tables of a run, each written as ``<name>.parquet`` and ``<name>.csv``."""

MANIFEST = "manifest.json"
RESULT_FILES: tuple[str, ...] = (
    *(f"{t}.{ext}" for t in TABLES for ext in ("parquet", "csv")),
    MANIFEST,
)
"""Every file :func:`write_results` writes; the manifest comes last on purpose."""

# How a per-tick metric condenses into one number for the run: the metrics table's rules.
SUMMARY_LAST = tuple(summary_rule("last"))
SUMMARY_MEAN_AFTER_START = tuple(summary_rule("mean"))  # tick 0 is before any money
SUMMARY_TOTALS = summary_rule("total")
SUMMARY_AT_BREAKTHROUGH = summary_rule("breakthrough")  # NaN without a breakthrough
STAGE_PREFIXES = ("stage_progress_",)
"""Per-stage metrics whose last value enters the summary (one column per stage)."""


class ResultsExistError(FileExistsError):
    """The output directory already holds results of an earlier run."""


@dataclass(frozen=True, eq=False)  # eq on DataFrames is ambiguous; compare tables explicitly
class RunResults:
    """Everything one run reports, as tidy tables plus a manifest.

    Attributes:
        metrics: one row per tick (``tick`` first, from 0 = the initial state).
        ledger: one row per money transfer (categorical types and kind).
        spillover: fitness gained by receivers of each type from sources of
            each type (``foreign`` = the foreign frontier), in long form.
        summary: one row condensing the run.
        manifest: JSON-safe record of versions, seed, technology, levers, parameters.
    """

    metrics: pd.DataFrame
    ledger: pd.DataFrame
    spillover: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by file stem, in :data:`TABLES` order."""
        return {name: getattr(self, name) for name in TABLES}


# ----------------------------------------------------------------- collecting


def run_model(
    technology: str = "key_generic",
    regime: str = "spiral",
    horizon: int | None = None,
    seed: int = 0,
    **overrides: Any,
) -> RunResults:
    """Build a :class:`~kctsim.model.KCTModel`, run it to its horizon, collect results.

    ``overrides`` are passed on to the model (any lever or parameter by name).
    Raises :class:`kctsim.config.ConfigError` for invalid inputs.
    """
    model = KCTModel(technology=technology, regime=regime, horizon=horizon, rng=seed, **overrides)
    while model.running:
        model.step()
    return collect_results(model, seed=seed)


def collect_results(model: KCTModel, seed: int | None = None) -> RunResults:
    """The results of a finished :class:`~kctsim.model.KCTModel`.

    ``seed`` is the seed the model was built with; by default it is recovered
    from the model's seed entropy (which equals an integer seed).
    """
    if seed is None:
        seed = _seed_of(model)
    arrays = run_arrays(model, seed)
    metrics = pd.DataFrame(arrays.metrics)
    ledger = model.ledger.frame()
    spillover = spillover_frame(arrays.spillover)
    summary = summary_table(arrays.summary)
    manifest = make_manifest(model, seed)
    return RunResults(metrics, ledger, spillover, summary, manifest)


@dataclass(frozen=True, eq=False)
class RunArrays:
    """What a finished run reports, as plain numpy arrays (what a sweep stores).

    Attributes:
        metrics: per-tick metrics by name, ``tick`` first (from 0 = the initial
            state), then the model's metrics in its order, each with its own dtype.
        ledger: the ledger's columns by name (:attr:`kctsim.ledger.Ledger.COLUMNS`;
            types and kind as codes into :data:`kctsim.ledger.ACCOUNT_TYPES` and
            :data:`kctsim.ledger.KINDS`).
        spillover: fitness gained, sources (:data:`AGENT_TYPES` then ``foreign``)
            x receivers (:data:`AGENT_TYPES`).
        summary: the one-row summary by column.
    """

    metrics: dict[str, np.ndarray]
    ledger: dict[str, np.ndarray]
    spillover: np.ndarray
    summary: dict[str, Any]


def run_arrays(model: KCTModel, seed: int | None = None) -> RunArrays:
    """The results of a finished model as arrays: the one place that reads the model.

    Everything a sweep or :func:`collect_results` records comes through here, so
    a change to how the model keeps its records is adapted here only.
    """
    metrics = _metric_arrays(model)
    ledger = dict(zip(Ledger.COLUMNS, model.ledger.arrays(), strict=True))
    spillover = np.asarray(model.spill_matrix, dtype=float).copy()
    _check_spillover_shape(spillover)
    summary = summary_row(
        model, metrics, ledger["kind"], ledger["amount"], ledger["from_type"], seed
    )
    return RunArrays(metrics, ledger, spillover, summary)


def _metric_arrays(model: KCTModel) -> dict[str, np.ndarray]:
    arrays = model.datacollector.arrays()
    if arrays is None or "tick" not in arrays:
        frame = metrics_frame(model)
        return {name: frame[name].to_numpy() for name in frame.columns}
    tick = arrays.pop("tick").astype("int64")
    return {"tick": tick, **arrays}


def metrics_frame(model: KCTModel) -> pd.DataFrame:
    """The DataCollector's per-tick table with ``tick`` as the first, integer column."""
    arrays = model.datacollector.arrays()
    if arrays is not None and "tick" in arrays:
        tick = arrays.pop("tick").astype("int64")
        return pd.DataFrame({"tick": tick, **arrays})
    raw = model.datacollector.get_model_vars_dataframe()
    if "tick" in raw.columns:
        frame = raw.reset_index(drop=True)  # drop Mesa's Step/Range index
    else:
        frame = raw.rename_axis("tick").reset_index()
    tick = frame.pop("tick").astype("int64")
    frame.insert(0, "tick", tick)
    return frame


def _check_spillover_shape(matrix: np.ndarray) -> None:
    sources = (*AGENT_TYPES, FOREIGN)
    if matrix.shape != (len(sources), len(AGENT_TYPES)):
        raise ValueError(
            f"spill_matrix: expected shape {(len(sources), len(AGENT_TYPES))} "
            f"(rows {', '.join(sources)}; columns {', '.join(AGENT_TYPES)}), got {matrix.shape}"
        )


def spillover_frame(matrix: np.ndarray) -> pd.DataFrame:
    """The source-type x receiver-type gain matrix as a long table (all pairs)."""
    sources = (*AGENT_TYPES, FOREIGN)
    matrix = np.asarray(matrix, dtype=float)
    _check_spillover_shape(matrix)
    src, rcv = np.meshgrid(np.arange(len(sources)), np.arange(len(AGENT_TYPES)), indexing="ij")
    source_types, receiver_types = _spillover_categories()
    return pd.DataFrame(
        {
            "source_type": pd.Categorical.from_codes(src.ravel(), dtype=source_types),
            "receiver_type": pd.Categorical.from_codes(rcv.ravel(), dtype=receiver_types),
            "gain": matrix.ravel(),
        }
    )


@cache
def _spillover_categories() -> tuple[pd.CategoricalDtype, pd.CategoricalDtype]:
    """Source and receiver types as categorical dtypes (made once per process)."""
    return pd.CategoricalDtype((*AGENT_TYPES, FOREIGN)), pd.CategoricalDtype(AGENT_TYPES)


def summary_frame(
    model: KCTModel, metrics: pd.DataFrame, ledger: pd.DataFrame, seed: int | None
) -> pd.DataFrame:
    """One row condensing the run (see the module constants for how each metric is reduced)."""
    columns = {name: metrics[name].to_numpy() for name in metrics.columns}
    kind = ledger["kind"].cat.codes.to_numpy() if len(ledger) else np.zeros(0, dtype=np.int8)
    amount = ledger["amount"].to_numpy() if len(ledger) else np.zeros(0)
    payer = ledger["from_type"].cat.codes.to_numpy() if len(ledger) else np.zeros(0, dtype=np.int8)
    return summary_table(summary_row(model, columns, kind, amount, payer, seed))


def summary_table(row: dict[str, Any]) -> pd.DataFrame:
    """A summary row as a one-row DataFrame with the same dtypes for every run."""
    # Numbers as one-value arrays (a list would make pandas infer each column's type);
    # the seed nullable, so every summary has the same dtype whether or not it is known.
    columns = {
        name: pd.array([value], dtype="Int64")
        if name == "seed"
        else np.array([value])
        if isinstance(value, bool | int | float)
        else [value]
        for name, value in row.items()
    }
    return pd.DataFrame(columns)


def summary_row(
    model: KCTModel,
    metrics: dict[str, np.ndarray],
    kind: np.ndarray,
    amount: np.ndarray,
    from_type: np.ndarray,
    seed: int | None,
) -> dict[str, Any]:
    """The summary of a run from its per-tick metrics and its ledger's kinds, amounts
    and payers' types (codes into :data:`~kctsim.ledger.KINDS` and
    :data:`~kctsim.ledger.ACCOUNT_TYPES`)."""
    # Reduced with numpy on the columns' arrays, by pandas' own rules (_sum, _mean):
    # a sweep makes one summary per run, and pandas' per-Series overhead made it cost
    # about as much as the run itself.
    n_ticks = len(metrics["tick"])

    def column(name: str) -> np.ndarray:
        if name not in metrics:
            # A renamed metric should not kill a long sweep; the test suite catches it.
            warnings.warn(f"summary: metric {name!r} is missing from the run", stacklevel=3)
            return np.full(n_ticks, np.nan)
        return metrics[name]

    later = column("tick") >= 1
    broke = bool(column("breakthrough")[-1] == 1)
    at_risk = column("at_risk") == 1
    row: dict[str, Any] = {
        "technology": str(model.tech_spec.name),
        "regime": str(model.regime_name),
        "seed": _int64_or_na(seed),
        "horizon": int(model.horizon),
        "ticks_run": int(column("tick")[-1]),
        "broke_through": broke,
        "breakthrough_tick": float(column("breakthrough_tick")[-1]) if broke else math.nan,
        "p_breakthrough": float(column("p_breakthrough")[-1]),
        "expected_breakthroughs": _sum(column("hazard")[at_risk]),
    }
    row |= {name: float(column(name)[-1]) for name in SUMMARY_LAST}
    row |= {name: _mean(column(name)[later]) for name in SUMMARY_MEAN_AFTER_START}
    row |= {new: _sum(column(name)) for name, new in SUMMARY_TOTALS.items()}
    first = int(np.argmax(column("breakthrough") == 1))
    row |= {
        new: float(column(name)[first]) if broke else math.nan
        for name, new in SUMMARY_AT_BREAKTHROUGH.items()
    }
    row |= {name: float(column(name)[-1]) for name in metrics if name.startswith(STAGE_PREFIXES)}
    flows = np.bincount(kind.astype(np.intp), weights=amount, minlength=len(KINDS))
    row |= {f"flow_{k}": float(flows[i]) for i, k in enumerate(KINDS)}  # every kind, 0 if absent
    # Public money: everything the government paid out or spent on its own research.
    public = float(amount[from_type == TYPE_CODE["government"]].sum())
    row["public_spend"] = public
    # Per *expected* breakthrough (the sum of the hazard): defined in runs without one,
    # and since E[broke_through] = E[expected_breakthroughs] (docs/ODD.md, 7.6) the
    # replicates' sum of spend over their sum of expected breakthroughs estimates the
    # public money per breakthrough; per realised one it would be NaN or the spend.
    expected = row["expected_breakthroughs"]
    row["public_spend_per_breakthrough"] = public / expected if expected > 0 else math.nan
    return row


def _sum(values: np.ndarray) -> float:
    """``pd.Series(values).sum()``: NaN counts as 0; integers and flags summed as int64."""
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        return float(np.where(missing, 0.0, values).sum() if missing.any() else values.sum())
    return float(values.sum(dtype=np.int64))


def _mean(values: np.ndarray) -> float:
    """``pd.Series(values).mean()``: NaNs left out; NaN when nothing is left."""
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        count = len(values) - int(missing.sum())
        total = np.where(missing, 0.0, values).sum() if missing.any() else values.sum()
    else:
        count, total = len(values), values.sum(dtype=np.float64)
    return float(total / count) if count > 0 else math.nan


def software_versions() -> dict[str, str]:
    """Versions of kctsim and the libraries a result depends on (for manifests)."""
    return {
        "kctsim": kctsim.__version__,
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "python": platform.python_version(),
    }


def make_manifest(model: KCTModel, seed: int | None) -> dict[str, Any]:
    """Versions, time, seed and every input of the run, JSON-safe."""
    manifest = {
        **software_versions(),
        "platform": platform.platform(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "seed_entropy": model.seed_entropy,
        "technology": dataclasses.asdict(model.tech_spec),
        "regime": model.regime_name,
        "levers": model.levers.as_dict(),
        "parameters": model.params.as_dict(),
        "horizon": int(model.horizon),
        "ticks_run": int(model.steps),
    }
    return jsonable(manifest)


def jsonable(value: Any) -> Any:
    """``value`` with tuples, numpy scalars/arrays and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN or Infinity
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"manifest: cannot store a {type(value).__name__} as JSON: {value!r}")


def _seed_of(model: Any) -> int | None:
    """The integer seed behind a model, if its SeedSequence was built from one."""
    entropy = getattr(model, "seed_entropy", None)
    if isinstance(entropy, int | np.integer) and not getattr(model, "seed_spawn_key", ()):
        return int(entropy)
    return None


def _int64_or_na(seed: Any) -> Any:
    # Seeds drawn from OS entropy are 128-bit: they live in the manifest, not the table.
    if isinstance(seed, int | np.integer) and 0 <= seed < 2**63:
        return int(seed)
    return pd.NA


# -------------------------------------------------------------------- writing


def existing_results(out_dir: Path) -> list[str]:
    """Names of kctsim result files already in ``out_dir`` (empty if none or no directory)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return [name for name in RESULT_FILES if (out_dir / name).exists()]


def check_out_dir(out_dir: Path, overwrite: bool = False) -> None:
    """Raise if results cannot be written to ``out_dir``; writes nothing.

    Raises:
        NotADirectoryError: ``out_dir`` or one of its parents is an existing file.
        OutputDirError: ``out_dir`` holds files that are not a run's results.
        ResultsExistError: ``out_dir`` holds earlier results and ``overwrite`` is False.
    """
    out_dir = Path(out_dir)
    ours = files.check_out_dir(
        out_dir, lambda d: bool(existing_results(d)), "kctsim run results", _is_staging
    )
    if ours and not overwrite:
        raise ResultsExistError(
            f"{out_dir} already holds kctsim results ({', '.join(existing_results(out_dir))}); "
            "pass overwrite=True to replace them or choose another directory"
        )


def _is_staging(name: str) -> bool:
    """Scratch a crashed :func:`write_results` may leave inside the directory."""
    return name.startswith(".") and name.endswith((".staging", ".backup", ".tmp"))


def write_results(results: RunResults, out_dir: Path, overwrite: bool = False) -> list[Path]:
    """Write the tables as Parquet and CSV plus ``manifest.json``; return the paths.

    Everything is first written into a temporary sibling directory and then
    moved into ``out_dir`` file by file with :func:`os.replace`, the manifest
    last. If anything fails, files already moved are taken out again and any
    earlier results are put back, so ``out_dir`` never holds a half-written
    file or a mix of two runs.

    Raises:
        ResultsExistError: ``out_dir`` holds earlier results and ``overwrite`` is False.
        NotADirectoryError: ``out_dir`` is an existing file.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, overwrite)
    target = out_dir.absolute()
    created = _make_dirs(target.parent)
    staging: Path | None = None
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent)
        )
        names = _write_all(results, staging)
        if not target.exists():
            target.mkdir()
            created.append(target)
        _commit(staging, target, names)
    except BaseException:
        # Leave the file system as we found it: no staging, no directories we made.
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for d in reversed(created):
            _remove_if_empty(d)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in names]


def _write_all(results: RunResults, staging: Path) -> list[str]:
    """Write every file into ``staging``; return the names in commit order."""
    names = []
    for name, frame in results.tables().items():
        for ext, writer in _WRITERS.items():
            writer(frame, staging / f"{name}.{ext}")
            names.append(f"{name}.{ext}")
    text = json.dumps(results.manifest, indent=2, allow_nan=False) + "\n"
    (staging / MANIFEST).write_text(text, encoding="utf-8")
    names.append(MANIFEST)
    return names


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    # pyarrow keeps categoricals (as dictionaries) and the pandas dtypes in its metadata.
    frame.to_parquet(path, engine="pyarrow", index=False)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


_WRITERS: dict[str, Callable[[pd.DataFrame, Path], None]] = {
    "parquet": _write_parquet,
    "csv": _write_csv,
}


def _commit(staging: Path, target: Path, names: list[str]) -> None:
    """Move staged files into ``target`` as one unit: all of them, or none."""
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".backup", dir=target.parent))
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        # Earlier results go aside first (manifest first, so the directory reads
        # as incomplete at once); stale files a previous version wrote go too.
        for name in (MANIFEST, *(n for n in RESULT_FILES if n != MANIFEST)):
            if (target / name).exists():
                os.replace(target / name, backup / name)
                moved_old.append(name)
        for name in names:
            os.replace(staging / name, target / name)
            moved_new.append(name)
    except BaseException:
        for name in moved_new:
            (target / name).unlink(missing_ok=True)
        for name in moved_old:
            os.replace(backup / name, target / name)
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)


def _make_dirs(path: Path) -> list[Path]:
    """``mkdir -p`` that returns the directories it created, outermost first."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(exist_ok=True)
    return list(reversed(missing))


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):  # not empty or already gone: leave it
        path.rmdir()


def read_results(out_dir: Path) -> RunResults:
    """Read results written by :func:`write_results` back from their Parquet files."""
    out_dir = Path(out_dir)
    if not (out_dir / MANIFEST).exists():
        raise FileNotFoundError(
            f"{out_dir}: no {MANIFEST}; not a complete kctsim results directory"
        )
    tables = {name: pd.read_parquet(out_dir / f"{name}.parquet") for name in TABLES}
    manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    return RunResults(manifest=manifest, **tables)
