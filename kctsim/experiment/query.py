"""Querying a sweep without loading it: :func:`open_results` and its DuckDB views.

A sweep of 10,000 runs holds some 200 MB of Parquet; loaded whole into pandas,
its per-tick metrics alone take gigabytes. :func:`open_results` checks the
committed parts (their SHA-256, as :func:`~kctsim.experiment.store.load_results`
does) and opens them as views in an in-process DuckDB database: a query filters,
aggregates and joins inside DuckDB, reading only the columns and row groups it
needs, and only its result becomes a pandas DataFrame.

Views (what the sweep's ``[output]`` recorded; see :attr:`SweepResults.tables`):

* ``runs``: one row per run: labels, ``factor.*`` values, seed, status, summary metrics;
* ``metrics``: per-tick metrics, wide: ``run_id``, ``tick``, one column per metric;
* ``metrics_long``: the same, long: ``run_id``, ``tick``, ``metric``, ``value``;
* ``ledger``: money flows (``from_type``, ``to_type``, ``kind``, ``stage``, ``tick``,
  ``amount``) or every transfer;
* ``spillover``: ``run_id``, ``source_type``, ``receiver_type``, ``gain``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from kctsim.experiment.store import (
    OLD_FORMATS,
    TABLES,
    committed_parts,
    not_recorded,
    read_manifest,
    recorded_tables,
    sweep_status,
    verified_parts,
)

MEMORY_LIMIT = "256MB"
"""DuckDB's working memory; larger intermediate results spill to a temporary directory."""


class SweepResults:
    """A lazy, read-only handle on a sweep directory (build it with :func:`open_results`).

    Nothing is read until a query runs; every query returns a pandas DataFrame
    holding only its result. Use it as a context manager, or call :meth:`close`.

    Attributes:
        out_dir: the sweep directory.
        manifest: the sweep's manifest (scenario, seeds, ``output``, provenance, ...).
        tables: the views this sweep has (the tables its ``[output]`` recorded).
        missing: table -> why it is absent, for tables the sweep did not record.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        verify: bool = True,
        memory_limit: str = MEMORY_LIMIT,
        threads: int | None = None,
    ) -> None:
        import duckdb

        self.out_dir = Path(out_dir)
        self.manifest = read_manifest(self.out_dir)
        recorded = recorded_tables(self.manifest)
        if verify:
            self.manifest, parts = verified_parts(self.out_dir, recorded)
        else:
            parts = committed_parts(self.out_dir)
        self.missing = {t: not_recorded(self.manifest, t) for t in TABLES if t not in recorded}
        self._con = duckdb.connect(
            config={"memory_limit": memory_limit, "threads": threads or os.cpu_count() or 1}
        )
        views = []
        for table in recorded:
            paths = [
                str(self.out_dir / f["path"])
                for entry in parts.values()
                for f in entry["files"]
                if f["path"].startswith(f"{table}/")
            ]
            if paths:
                listed = ", ".join(_quote(p) for p in paths)
                source = f"read_parquet([{listed}], union_by_name = true)"
                self._con.execute(f"CREATE VIEW {table} AS SELECT * FROM {source}")
                views.append(table)
        if "metrics" in views and self.manifest.get("format") not in OLD_FORMATS:
            self._con.execute(
                "CREATE VIEW metrics_long AS SELECT run_id, tick, metric, value FROM "
                "(UNPIVOT (SELECT * REPLACE (tick::BIGINT AS tick) FROM metrics) "
                "ON COLUMNS(* EXCLUDE (run_id, tick)) INTO NAME metric VALUE value)"
            )
            views.append("metrics_long")
        self.tables = tuple(views)

    # ----------------------------------------------------------------- queries

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run a DuckDB SQL query over the views; its result as a DataFrame.

        Raises:
            ValueError: the query reads a table this sweep did not record (or has no runs yet).
        """
        import duckdb

        try:
            return self._con.execute(query, params or []).df()
        except duckdb.CatalogException:
            for table in (*TABLES, "metrics_long"):
                if table not in self.tables and re.search(rf"\b{table}\b", query):
                    reason = self.missing.get(table.removesuffix("_long"))
                    raise ValueError(reason or f"{table}: no committed runs yet") from None
            raise

    def relation(self, table: str):
        """A DuckDB relation on a view, to chain ``filter``, ``aggregate``, ``join``,
        ``project`` and ``order`` and end with ``.df()``."""
        self._check(table)
        return self._con.table(table)

    def table(
        self, name: str, columns: Sequence[str] | None = None, where: str | None = None
    ) -> pd.DataFrame:
        """The rows of a view that satisfy ``where`` (SQL), only ``columns`` (default: all)."""
        self._check(name)
        selected = ", ".join(_ident(c) for c in columns) if columns else "*"
        condition = f" WHERE {where}" if where else ""
        return self.sql(f"SELECT {selected} FROM {name}{condition} ORDER BY ALL")

    def mean_by(
        self, value: str, by: Sequence[str] = ("technology", "regime"), table: str = "runs"
    ) -> pd.DataFrame:
        """Mean, standard deviation and count of ``value`` per group (ok runs for ``runs``)."""
        self._check(table)
        keys = ", ".join(_ident(c) for c in by)
        ok = " WHERE status = 'ok'" if table == "runs" else ""
        v = _ident(value)
        return self.sql(
            f"SELECT {keys}, avg({v}) AS mean, stddev_samp({v}) AS sd, count({v}) AS n "
            f"FROM {table}{ok} GROUP BY {keys} ORDER BY {keys}"
        )

    def status(self) -> dict[str, Any]:
        """Runs, committed, failed and missing run ids, and what is recorded."""
        return sweep_status(self.out_dir)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> SweepResults:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SweepResults({str(self.out_dir)!r}, tables={self.tables})"

    def _check(self, table: str) -> None:
        if table not in self.tables:
            reason = self.missing.get(table)
            if reason:
                raise ValueError(reason)
            raise ValueError(f"{table}: no such view; available: {', '.join(self.tables)}")


def open_results(
    out_dir: str | os.PathLike,
    verify: bool = True,
    memory_limit: str = MEMORY_LIMIT,
    threads: int | None = None,
) -> SweepResults:
    """Open a sweep directory for queries, loading nothing.

    Args:
        out_dir: the sweep directory.
        verify: check every committed part against its SHA-256 first.
        memory_limit: DuckDB's memory limit (e.g. ``"256MB"``).
        threads: DuckDB's threads (default: all cores).

    Raises:
        FileNotFoundError: ``out_dir`` holds no sweep.
        SweepCorruptError: a committed part is missing or damaged (one line naming it).

    Example:
        >>> with open_results("results/sweeps/p1") as res:          # doctest: +SKIP
        ...     res.mean_by("p_breakthrough")
        ...     res.sql("SELECT regime, avg(p_breakthrough) FROM metrics "
        ...             "JOIN runs USING (run_id) WHERE tick = 40 GROUP BY regime")
    """
    return SweepResults(out_dir, verify=verify, memory_limit=memory_limit, threads=threads)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
