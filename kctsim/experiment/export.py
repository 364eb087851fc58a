"""Copies of a sweep's tables for other tools: CSV, Excel, Stata or single Parquet files.

:func:`export_tables` reads the committed runs of a sweep directory (see
:mod:`~kctsim.experiment.store`) and writes every table it records (``runs``,
``metrics``, ``ledger``, ``spillover``, as its ``[output]`` chose) in one
format into a folder, with ``export.json`` saying what was written from what.
Everything is written into a hidden staging folder first
and moved into place only when every file is complete, so a failure (a full
disk, a table too large for Excel) leaves no half-written file and the
previous export intact.

* ``csv``: ``runs.csv``, ``metrics.csv``, ``ledger.csv`` (pandas' writer);
* ``parquet``: one ``<table>.parquet`` each, the part files merged;
* ``xlsx``: ``tables.xlsx``, one sheet per table (openpyxl); a table longer
  than a sheet is refused before anything is written;
* ``dta``: ``<table>.dta`` (pandas' Stata writer, format 118). Stata names
  allow letters, digits and ``_`` up to 32 characters, so ``factor.cost_scale``
  becomes ``factor_cost_scale``; the original name is the variable label.

``wide=True`` writes the per-tick metrics one row per run and tick, one column
per metric (the long table has one row per run, tick and metric).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kctsim.experiment.store import TABLES, load_results, metrics_wide

FORMAT = "kctsim-export/1"
EXPORT_MANIFEST = "export.json"
FORMATS = ("csv", "xlsx", "dta", "parquet")
EXCEL_ROWS = 1_048_576
"""Rows of an Excel sheet, the header included."""
LEGACY_FILES = frozenset(f"{t}.csv" for t in TABLES)
"""What ``kctsim export --csv`` wrote before ``export.json`` existed."""


class ExportError(ValueError):
    """The tables cannot be written in the requested format (nothing was written)."""


def is_export_dir(folder: Path) -> bool:
    """Whether ``folder`` holds an earlier export (so exporting again may replace it)."""
    marker = folder / EXPORT_MANIFEST
    if marker.is_file():
        try:
            return json.loads(marker.read_text("utf-8")).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            return False
    names = {p.name for p in folder.iterdir()}
    return bool(names) and names <= LEGACY_FILES


def export_tables(
    sweep_dir: str | os.PathLike, out_dir: str | os.PathLike, fmt: str = "csv", wide: bool = False
) -> list[Path]:
    """Write the sweep's committed tables in ``fmt`` into ``out_dir``; return the paths.

    Args:
        sweep_dir: the sweep directory.
        out_dir: the folder to write (created if missing; its earlier export is replaced).
        fmt: ``csv``, ``xlsx``, ``dta`` or ``parquet``.
        wide: per-tick metrics one column per metric.

    Raises:
        ExportError: a table does not fit the format (e.g. more rows than an Excel sheet).
        OSError: the folder cannot be written; nothing was left half-written.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    tables = load_results(sweep_dir)
    if wide and "metrics" in tables:  # a sweep's [output] may record no metrics
        tables["metrics"] = metrics_wide(tables["metrics"])
    if fmt == "xlsx":
        for name, frame in tables.items():
            if len(frame) + 1 > EXCEL_ROWS:
                raise ExportError(
                    f"the {name} table has {len(frame):,} rows and an Excel sheet holds "
                    f"{EXCEL_ROWS - 1:,}; use --format csv, parquet or dta"
                    + ("" if wide or name != "metrics" else " (or --wide)")
                )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        names = _WRITERS[fmt](tables, staging)
        manifest = {
            "format": FORMAT,
            "source": str(sweep_dir),
            "table_format": fmt,
            "wide_metrics": wide,
            "files": names,
            "rows": {name: len(frame) for name, frame in tables.items()},
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (staging / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        out_dir.mkdir(exist_ok=True)
        for name in [*names, EXPORT_MANIFEST]:  # the manifest last: it vouches for the rest
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in names]


def _write_csv(tables: dict[str, pd.DataFrame], folder: Path) -> list[str]:
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return [f"{name}.csv" for name in tables]


def _write_parquet(tables: dict[str, pd.DataFrame], folder: Path) -> list[str]:
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", engine="pyarrow", index=False)
    return [f"{name}.parquet" for name in tables]


def _write_xlsx(tables: dict[str, pd.DataFrame], folder: Path) -> list[str]:
    with pd.ExcelWriter(folder / "tables.xlsx", engine="openpyxl") as writer:
        for name, frame in tables.items():
            _excel_ready(frame).to_excel(writer, sheet_name=name, index=False)
    return ["tables.xlsx"]


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Strings cut to Excel's 32,767 characters a cell (a run's traceback may be longer)."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(
                lambda v: v[:32_767] if isinstance(v, str) else v, na_action="ignore"
            )
    return frame


def _write_dta(tables: dict[str, pd.DataFrame], folder: Path) -> list[str]:
    for name, frame in tables.items():
        data, labels = stata_ready(frame)
        long_text = [
            c for c in data.columns if data[c].dtype == object and data[c].str.len().max() > 2045
        ]
        with warnings.catch_warnings():
            # Names and dtypes are made Stata-safe above; pandas would only repeat that.
            warnings.simplefilter("ignore")
            data.to_stata(
                folder / f"{name}.dta",
                write_index=False,
                version=118,
                variable_labels=labels,
                convert_strl=long_text,
            )
    return [f"{name}.dta" for name in tables]


def stata_ready(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame with Stata-valid, unique column names and dtypes; new name -> original name."""
    columns: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for original in frame.columns:
        name = _stata_name(str(original), set(columns))
        column = frame[original]
        if pd.api.types.is_bool_dtype(column) and column.dtype != bool:
            column = column.astype("Float64").astype(float)  # nullable booleans: 1, 0, missing
        elif pd.api.types.is_string_dtype(column) or column.dtype == object:
            column = column.astype(object).where(column.notna(), "").map(str)
        elif pd.api.types.is_extension_array_dtype(column):
            column = column.astype(float)
        columns[name] = column.to_numpy()
        if name != original:
            labels[name] = str(original)[:80]
    return pd.DataFrame(columns), labels


def _stata_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not re.match(r"[A-Za-z_]", base):
        base = f"v_{base}"
    base = base[:32]
    candidate, n = base, 1
    while candidate in taken or candidate in _STATA_RESERVED:
        suffix = f"_{n}"
        candidate, n = base[: 32 - len(suffix)] + suffix, n + 1
    return candidate


_STATA_RESERVED = frozenset(
    [
        "aggregate",
        "array",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "class",
        "colvector",
        "complex",
        "const",
        "continue",
        "default",
        "delegate",
        "delete",
        "do",
        "double",
        "else",
        "eltypedef",
        "end",
        "enum",
        "explicit",
        "export",
        "external",
        "float",
        "for",
        "friend",
        "function",
        "global",
        "goto",
        "if",
        "inline",
        "int",
        "local",
        "long",
        "NULL",
        "pragma",
        "protected",
        "quad",
        "rowvector",
        "short",
        "typedef",
        "typename",
        "virtual",
        "_all",
        "_N",
        "_skip",
        "_b",
        "_pi",
        "str#",
        "in",
        "_pred",
        "strL",
        "_coef",
        "_cons",
        "_se",
        "_rc",
        "_n",
    ]
)

_WRITERS: dict[str, Callable[[dict[str, pd.DataFrame], Path], list[str]]] = {
    "csv": _write_csv,
    "parquet": _write_parquet,
    "xlsx": _write_xlsx,
    "dta": _write_dta,
}
