"""Crash-safe, streaming storage of a sweep, and reading it back.

Layout of a sweep directory::

    manifest.json            what was run: scenario text and hash, design, root seed,
                             per-run seed keys, versions, git commit, platform, times
    status.log               append-only JSON lines: sweep events and committed parts
    runs/part-00000.parquet      one row per run: parameters, seed, status, summary
    metrics/part-00000.parquet   per-tick metrics, long: run_id, tick, metric, value
    ledger/part-00000.parquet    money transfers with their run_id
    .lock                    flock held while a process writes (released if it dies)

Runs reach the store as they finish and are buffered up to a bound (runs and
bytes), then written as one *part set*: one file per table, each first written
to a hidden temporary name in the same directory, fsynced and renamed into
place with :func:`os.replace`, the runs part last. A part set counts as
committed only once a ``part`` line naming its run ids is in ``status.log``
(written, with one ``write`` and an fsync, after all three files are in place).
Readers look only at committed parts, so a half-written or orphaned file is
never read; on resume, orphans and temporary files are deleted and only the
missing runs are run again. Memory stays bounded whatever the number of runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

import kctsim
from kctsim.results import jsonable, software_versions

try:  # advisory lock against two sweeps writing one directory; absent on Windows
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

FORMAT = "kctsim-sweep/1"
MANIFEST = "manifest.json"
STATUS_LOG = "status.log"
LOCK = ".lock"
TABLES = ("runs", "metrics", "ledger")
"""The tables of a sweep, one sub-directory of part files each."""
COMMIT_ORDER = ("metrics", "ledger", "runs")
"""Order in which a part set's files are moved into place: the runs part last."""

RUN_COLUMNS = (
    "run_id",
    "technology",
    "regime",
    "point",
    "replicate",
    "seed_entropy",
    "spawn_key",
    "status",
    "error",
    "wall_time",
)
"""Columns every runs row has; ``factor.<name>`` columns follow ``replicate``."""
FACTOR_PREFIX = "factor."
TIMING_COLUMNS = ("wall_time",)
"""Columns that differ between two executions of the same sweep."""
EMPTY_COLUMNS = {
    "runs": list(RUN_COLUMNS),
    "metrics": ["run_id", "tick", "metric", "value"],
    "ledger": ["run_id"],
}
"""Columns of a table before any run is committed."""
SORT_KEYS = {"runs": ["run_id"], "metrics": ["run_id", "tick"], "ledger": ["run_id"]}

PART_RUNS = 64
"""Runs buffered before a part set is written."""
PART_BYTES = 32 * 2**20
"""Bytes of buffered tables before a part set is written, whatever the run count."""

_PART_NAME = re.compile(r"^part-(\d{5,})\.parquet$")


class SweepExistsError(FileExistsError):
    """The output directory holds another sweep, or this one without ``resume``."""


class SweepLockedError(RuntimeError):
    """Another process is writing to the sweep directory."""


class SweepCorruptError(RuntimeError):
    """The sweep directory contradicts its own status log."""


@dataclass(eq=False)
class RunPayload:
    """What one run sends back to the store: its rows of each table.

    Attributes:
        run_id: the run.
        status: ``ok`` or ``failed``.
        runs: the run's row, by column (see :data:`RUN_COLUMNS`), then its summary
            metrics; a dict, as one-row DataFrames are slow to build and pickle.
        metrics: per-tick metrics in long form (empty if the run failed).
        ledger: the run's money transfers (empty if the run failed).
    """

    run_id: int
    status: str
    runs: dict[str, Any]
    metrics: pd.DataFrame
    ledger: pd.DataFrame

    def nbytes(self) -> int:
        """Approximate size (8 bytes a cell; ``memory_usage`` is too slow to call per run)."""
        return 8 * (len(self.runs) + self.metrics.size + self.ledger.size)


@dataclass
class SweepStore:
    """An open sweep directory: buffers finished runs and commits them as part sets.

    Build it with :meth:`open`; use it as a context manager or call :meth:`close`.
    """

    out_dir: Path
    manifest: dict[str, Any]
    committed: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    resumed: bool = False
    removed: list[str] = field(default_factory=list)
    part_runs: int = PART_RUNS
    part_bytes: int = PART_BYTES
    _next_part: int = field(default=0, init=False, repr=False)
    _buffer: list[RunPayload] = field(default_factory=list, init=False, repr=False)
    _buffered_bytes: int = field(default=0, init=False, repr=False)
    _lock_fd: int | None = field(default=None, init=False, repr=False)
    _broken: bool = field(default=False, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    # ------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        out_dir: str | os.PathLike,
        meta: Mapping[str, Any],
        seeds: Sequence[Mapping[str, Any]],
        factors: Sequence[str] = (),
        resume: bool = False,
        event: Mapping[str, Any] | None = None,
        part_runs: int = PART_RUNS,
        part_bytes: int = PART_BYTES,
    ) -> SweepStore:
        """Start a sweep in ``out_dir``, or resume the one there.

        Args:
            out_dir: the sweep directory (created if missing).
            meta: scenario ``name``, ``hash``, ``text``, root ``seed`` and
                ``design``; other keys are kept in the manifest too.
            seeds: one record per run: ``run_id``, ``seed_entropy``, ``spawn_key``.
            factors: names of the design's factors, in design order.
            resume: continue a sweep of the same scenario already in ``out_dir``.
            event: extra fields for the start/resume line of the status log
                (executor, workers).
            part_runs: runs per part set at most.
            part_bytes: bytes of buffered tables that force a part set out early.

        Raises:
            SweepExistsError: ``out_dir`` holds a different sweep, files that are
                not a sweep, or this sweep while ``resume`` is False.
            SweepLockedError: another process is writing to ``out_dir``.
            NotADirectoryError: ``out_dir`` is a file.
        """
        if part_runs < 1 or part_bytes < 1:
            raise ValueError("part_runs and part_bytes must be positive")
        out_dir = Path(out_dir)
        manifest = _new_manifest(meta, seeds, factors)
        if out_dir.exists() and not out_dir.is_dir():
            raise NotADirectoryError(f"{out_dir} is an existing file, not a directory")
        if out_dir.is_dir() and _read_manifest(out_dir) is None:
            _refuse_foreign(out_dir)  # before the lock file lands in someone's directory
        out_dir.mkdir(parents=True, exist_ok=True)
        store = cls(out_dir=out_dir, manifest=manifest, part_runs=part_runs, part_bytes=part_bytes)
        store._lock()
        try:
            store._start(resume, dict(event or {}))
        except BaseException:
            store._unlock()
            raise
        return store

    def _start(self, resume: bool, event: dict[str, Any]) -> None:
        old = _read_manifest(self.out_dir)
        if old is None:
            _refuse_foreign(self.out_dir)  # again, now that we hold the lock
            for name in os.listdir(self.out_dir):  # a manifest write cut short
                if name != LOCK:
                    (self.out_dir / name).unlink()
            _write_json_atomic(self.out_dir / MANIFEST, self.manifest)
            for table in TABLES:
                (self.out_dir / table).mkdir(exist_ok=True)
            _fsync_dir(self.out_dir)
            self._log({"event": "start", "n_runs": self.manifest["n_runs"], **event})
            return
        if not _same_sweep(old, self.manifest):
            scenario = old.get("scenario", {})
            raise SweepExistsError(
                f"{self.out_dir}: holds a different sweep (scenario {scenario.get('name')!r}, "
                f"hash {scenario.get('hash')}, root seed {old.get('seed')}, "
                f"{old.get('n_runs')} runs); choose another --out or remove it"
            )
        self._repair_log()
        self._load_log()
        if not resume:
            done = len(self.committed)
            state = "a complete" if done == old["n_runs"] else "a partial"
            raise SweepExistsError(
                f"{self.out_dir}: already holds {state} sweep of this scenario "
                f"({done} of {old['n_runs']} runs committed); pass --resume to finish it, "
                "or choose another --out"
            )
        self.resumed = True
        # The reason an earlier session stopped is in status.log; this session has none yet.
        self.manifest = {k: v for k, v in old.items() if k != "reason"}
        self.manifest |= {"status": "running", "ended": None}
        self.manifest["resumed"] = [*old.get("resumed", []), _now()]
        self.removed = self._remove_orphans()
        _write_json_atomic(self.out_dir / MANIFEST, self.manifest)
        self._log(
            {
                "event": "resume",
                "committed": len(self.committed),
                "failed": len(self.failed),
                "removed": self.removed,
                **event,
            }
        )

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        fd = os.open(self.out_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise SweepLockedError(
                f"{self.out_dir}: another kctsim process is writing this sweep; "
                "wait for it or stop it first"
            ) from exc
        self._lock_fd = fd  # the kernel drops the lock if this process dies

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _repair_log(self) -> None:
        """Cut a status-log line that a crash left half-written."""
        path = self.out_dir / STATUS_LOG
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
                f.flush()
                os.fsync(f.fileno())

    def _load_log(self) -> None:
        parts = committed_parts(self.out_dir)
        for entry in parts.values():
            self.committed.update(entry["run_ids"])
            self.failed.update(entry.get("failed", []))
        self._next_part = max(parts, default=-1) + 1

    def _remove_orphans(self) -> list[str]:
        """Delete part files no log line commits, and temporary files; return their names."""
        keep = {f for entry in committed_parts(self.out_dir).values() for f in entry["files"]}
        removed = []
        for table in TABLES:
            folder = self.out_dir / table
            folder.mkdir(exist_ok=True)
            for path in sorted(folder.iterdir()):
                name = f"{table}/{path.name}"
                if name not in keep and (path.name.startswith(".") or _PART_NAME.match(path.name)):
                    path.unlink()
                    removed.append(name)
            _fsync_dir(folder)
        for path in self.out_dir.glob(f".{MANIFEST}.*"):
            path.unlink()
            removed.append(path.name)
        return removed

    # ------------------------------------------------------------- writing

    @property
    def n_runs(self) -> int:
        return int(self.manifest["n_runs"])

    def missing(self, run_ids: Iterable[int]) -> list[int]:
        """The ids among ``run_ids`` that are neither committed nor buffered."""
        buffered = {p.run_id for p in self._buffer}
        return [i for i in run_ids if i not in self.committed and i not in buffered]

    def add(self, payload: RunPayload) -> None:
        """Buffer a finished run; write a part set once the buffer is full."""
        if self._closed:
            raise RuntimeError("the sweep store is closed")
        if payload.run_id in self.committed or any(
            p.run_id == payload.run_id for p in self._buffer
        ):
            # An executor may deliver a run twice (e.g. a retried task); keep the first.
            warnings.warn(f"run {payload.run_id} delivered twice; kept once", stacklevel=2)
            return
        self._buffer.append(payload)
        self._buffered_bytes += payload.nbytes()
        if len(self._buffer) >= self.part_runs or self._buffered_bytes >= self.part_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the buffered runs as one committed part set (nothing if the buffer is empty)."""
        if not self._buffer or self._broken:
            return
        self._broken = True  # until the part is committed: never retry a half-done write
        payloads = sorted(self._buffer, key=lambda p: p.run_id)
        part = self._next_part
        name = f"part-{part:05d}.parquet"
        frames = {
            "runs": pd.DataFrame([p.runs for p in payloads]),  # columns: union, first-seen order
            "metrics": _concat([p.metrics for p in payloads]),
            "ledger": _concat([p.ledger for p in payloads]),
        }
        for table in COMMIT_ORDER:
            frame = frames[table]
            final = self.out_dir / table / name
            tmp = final.with_name(f".{name}.{os.getpid()}.tmp")
            _write_parquet(frame, tmp)
            _publish(tmp, final)
        for table in TABLES:
            _fsync_dir(self.out_dir / table)
        ids = [p.run_id for p in payloads]
        failed = [p.run_id for p in payloads if p.status != "ok"]
        files = [f"{table}/{name}" for table in TABLES]
        self._log({"event": "part", "part": part, "run_ids": ids, "failed": failed, "files": files})
        self.committed.update(ids)
        self.failed.update(failed)
        self._buffer.clear()
        self._buffered_bytes = 0
        self._next_part += 1
        self._broken = False

    def close(self, status: str | None = None, **fields: Any) -> None:
        """Flush, log the end of this session and record it in the manifest.

        ``status`` defaults to ``complete`` when every run is committed, else ``incomplete``.
        """
        if self._closed:
            return
        try:
            self.flush()
        except BaseException as exc:  # errors work: the manifest says why the sweep stopped
            status = "interrupted"
            fields = {"reason": f"{type(exc).__name__}: {exc}"[:300]} | fields
            raise
        finally:
            self._closed = True
            try:
                done = len(self.committed)
                status = status or ("complete" if done == self.n_runs else "incomplete")
                counts = {"committed": done, "failed": len(self.failed)}
                self._log({"event": "end", "status": status, **counts, **fields})
                self.manifest |= {"status": status, "ended": _now(), **counts, **fields}
                _write_json_atomic(self.out_dir / MANIFEST, self.manifest)
            finally:
                self._unlock()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close("interrupted" if exc_type is not None else None)

    def _log(self, entry: dict[str, Any]) -> None:
        line = json.dumps(jsonable({"time": _now(), **entry}), allow_nan=False) + "\n"
        _append_line(self.out_dir / STATUS_LOG, line.encode())


# ------------------------------------------------------------------ reading


def read_manifest(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the sweep in ``out_dir``.

    Raises:
        FileNotFoundError: ``out_dir`` holds no sweep.
    """
    manifest = _read_manifest(Path(out_dir))
    if manifest is None:
        raise FileNotFoundError(f"{out_dir}: no {MANIFEST}; not a kctsim sweep directory")
    return manifest


def read_log(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The complete lines of ``status.log`` (a line a crash cut short is skipped)."""
    path = Path(out_dir) / STATUS_LOG
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]  # the piece after the last newline is unfinished
    entries = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # errors work: not JSON, or not UTF-8
            entry = None
        if not isinstance(entry, dict):
            raise SweepCorruptError(
                f"{path}: line {number} is not a status entry; the sweep directory is damaged"
            )
        entries.append(entry)
    return entries


def committed_parts(out_dir: str | os.PathLike) -> dict[int, dict[str, Any]]:
    """The committed part sets by number, from ``status.log``.

    Raises:
        SweepCorruptError: a run id is committed twice.
    """
    parts: dict[int, dict[str, Any]] = {}
    seen: set[int] = set()
    for entry in read_log(out_dir):
        if entry.get("event") != "part":
            continue
        if not (isinstance(entry.get("run_ids"), list) and isinstance(entry.get("part"), int)):
            raise SweepCorruptError(f"{out_dir}/{STATUS_LOG}: a part entry lacks its run ids")
        ids = set(entry["run_ids"])
        if ids & seen or int(entry["part"]) in parts:
            raise SweepCorruptError(
                f"{out_dir}: part {entry['part']} commits runs already committed "
                f"({sorted(ids & seen)[:10]})"
            )
        seen |= ids
        parts[int(entry["part"])] = entry
    return parts


def sweep_status(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Progress of the sweep in ``out_dir``: runs, committed, failed, missing, status."""
    manifest = read_manifest(out_dir)
    parts = committed_parts(out_dir)
    ids = {i for p in parts.values() for i in p["run_ids"]}
    failed = sorted({i for p in parts.values() for i in p.get("failed", [])})
    all_ids = {int(run["run_id"]) for run in manifest.get("runs", [])}
    return {
        "scenario": manifest.get("scenario", {}).get("name"),
        "n_runs": int(manifest["n_runs"]),
        "committed": len(ids),
        "failed": failed,
        "missing": sorted(all_ids - ids),
        "status": manifest.get("status"),
    }


def load_results(
    out_dir: str | os.PathLike,
    tables: Sequence[str] = TABLES,
    metrics: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The committed results of a sweep as pandas DataFrames.

    Returns ``runs`` (one row per run), ``metrics`` (long: run_id, tick, metric,
    value) and ``ledger``, sorted by run id (and tick), so the tables do not
    depend on the order in which runs finished or on how they were grouped
    into part files. Runs columns: :data:`RUN_COLUMNS` with the ``factor.*``
    columns after ``replicate``, then the summary metrics in alphabetical order.

    Args:
        out_dir: the sweep directory.
        tables: which tables to read (large sweeps: read only what you need).
        metrics: read only these per-tick metrics (default: all).

    Raises:
        FileNotFoundError: ``out_dir`` holds no sweep, or a committed part is missing.
        ValueError: an unknown table name.
    """
    unknown_tables = [t for t in tables if t not in TABLES]
    if unknown_tables:
        raise ValueError(f"unknown tables {unknown_tables}; allowed: {', '.join(TABLES)}")
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    parts = committed_parts(out_dir)
    filters = {"metrics": [("metric", "in", list(metrics))]} if metrics is not None else {}
    result: dict[str, pd.DataFrame] = {}
    for table in tables:
        frames = []
        for number in sorted(parts):
            path = out_dir / table / f"part-{number:05d}.parquet"
            if not path.exists():
                raise FileNotFoundError(f"{path}: committed in {STATUS_LOG} but missing")
            frames.append(pd.read_parquet(path, filters=filters.get(table)))
        frame = _concat(frames) if frames else pd.DataFrame(columns=EMPTY_COLUMNS[table])
        if len(frame):
            frame = frame.sort_values(SORT_KEYS[table], kind="stable", ignore_index=True)
        result[table] = frame
    if "runs" in result:
        result["runs"] = _canonical_runs(result["runs"], manifest.get("factors", []))
    return result


def metrics_wide(metrics: pd.DataFrame) -> pd.DataFrame:
    """Long per-tick metrics as one row per run and tick, one column per metric."""
    if metrics.empty:
        return pd.DataFrame(columns=["run_id", "tick"])
    order = list(dict.fromkeys(metrics["metric"]))  # first-appearance order of the metrics
    wide = metrics.pivot(index=["run_id", "tick"], columns="metric", values="value")
    wide = wide[order].reset_index()
    wide.columns.name = None
    return wide


def export_csv(out_dir: str | os.PathLike) -> list[Path]:
    """Write ``csv/runs.csv``, ``csv/metrics.csv`` and ``csv/ledger.csv`` next to the parts."""
    out_dir = Path(out_dir)
    tables = load_results(out_dir)
    folder = out_dir / "csv"
    folder.mkdir(exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
        paths.append(path)
    return paths


# ------------------------------------------------------------------ helpers


def _new_manifest(
    meta: Mapping[str, Any], seeds: Sequence[Mapping[str, Any]], factors: Sequence[str]
) -> dict[str, Any]:
    scenario = {k: v for k, v in meta.items() if k not in ("seed", "design")}
    commit, dirty = _git_state()
    return jsonable(
        {
            "format": FORMAT,
            "scenario": scenario,
            "seed": meta.get("seed"),
            "design": meta.get("design"),
            "n_runs": len(seeds),
            "factors": list(factors),
            "runs": [
                {
                    "run_id": int(s["run_id"]),
                    # Entropy is often 128-bit: a string survives any JSON reader.
                    "seed_entropy": str(s["seed_entropy"]),
                    "spawn_key": [int(k) for k in s["spawn_key"]],
                }
                for s in seeds
            ],
            "versions": software_versions(),
            "git_commit": commit,
            "git_dirty": dirty,
            "platform": platform.platform(),
            "host": socket.gethostname(),
            "started": _now(),
            "ended": None,
            "status": "running",
        }
    )


def _same_sweep(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two manifests describe the same runs (scenario, root seed, seeds per run)."""
    return (
        old.get("format") == new["format"]
        and old.get("scenario", {}).get("hash") == new["scenario"].get("hash")
        and old.get("seed") == new["seed"]
        and old.get("n_runs") == new["n_runs"]
        and old.get("runs") == new["runs"]
    )


def _git_state() -> tuple[str | None, bool | None]:
    """The commit of the kctsim source tree and whether it has local changes (None if no git)."""
    where = Path(kctsim.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return commit.stdout.strip(), dirty


def _read_manifest(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / MANIFEST
    if not path.exists():
        return None
    # errors work: a damaged manifest is one SweepCorruptError naming it, never a traceback.
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise SweepCorruptError(f"{path}: is a directory, not a sweep manifest") from None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested absurdly deep
        raise SweepCorruptError(
            f"{path}: is not valid JSON; the sweep directory is damaged"
        ) from None
    if not isinstance(manifest, dict):
        raise SweepCorruptError(f"{path}: is not a sweep manifest (not a JSON object)")
    return manifest


def _refuse_foreign(out_dir: Path) -> None:
    """Raise if ``out_dir`` (which has no manifest) holds anything but sweep scratch files."""
    others = [p.name for p in out_dir.iterdir() if not _is_scratch(p.name)]
    if others:
        shown = ", ".join(sorted(others)[:5]) + (", ..." if len(others) > 5 else "")
        raise SweepExistsError(
            f"{out_dir}: is not empty ({shown}) and holds no kctsim sweep; "
            "choose another --out or remove it"
        )


def _is_scratch(name: str) -> bool:
    """Files a sweep may leave before its manifest exists (lock, cut-short manifest)."""
    return name == LOCK or name.startswith(f".{MANIFEST}.")


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    # Empty frames (failed runs) would turn every column's dtype into object.
    full = [f for f in frames if len(f)]
    if not full:
        return frames[0].iloc[:0] if frames else pd.DataFrame()
    return full[0] if len(full) == 1 else pd.concat(full, ignore_index=True)


def _canonical_runs(runs: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """Columns in a fixed order and dtypes that do not depend on how runs were grouped.

    A column that some part files lack (the summary of failed runs) comes back
    as object or float; nullable dtypes make it the same whatever the grouping.
    """
    if runs.empty:
        return runs
    factor_cols = [f"{FACTOR_PREFIX}{f}" for f in factors if f"{FACTOR_PREFIX}{f}" in runs]
    factor_cols += sorted(
        c for c in runs.columns if c.startswith(FACTOR_PREFIX) and c not in factor_cols
    )
    head = [c for c in RUN_COLUMNS[:5] if c in runs] + factor_cols
    head += [c for c in RUN_COLUMNS[5:] if c in runs]
    rest = sorted((c for c in runs.columns if c not in head), key=_natural_key)
    runs = runs[head + rest].copy()
    for name in runs.columns:
        runs[name] = _canonical_column(runs[name])
    return runs


def _canonical_column(column: pd.Series) -> pd.Series:
    if column.dtype != object:
        return column
    values = column.dropna()
    if len(values) and all(isinstance(v, bool) for v in values):
        return column.astype("boolean")
    if all(isinstance(v, str) for v in values):
        return column.astype("str")
    with contextlib.suppress(TypeError, ValueError):
        return pd.to_numeric(column)
    return column


def _natural_key(name: str) -> list[Any]:
    """Sort key that puts ``stage_progress_10`` after ``stage_progress_9``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with open(path, "wb") as f:
        frame.to_parquet(f, engine="pyarrow", index=False)
        f.flush()
        os.fsync(f.fileno())  # data on disk before the rename makes it visible


def _publish(tmp: Path, final: Path) -> None:
    """Move a fully written temporary file to its final name (atomic on POSIX)."""
    os.replace(tmp, final)


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (a no-op where directories cannot be opened)."""
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
