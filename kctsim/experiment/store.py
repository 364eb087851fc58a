"""Crash-safe, streaming storage of a sweep, checked on every read, and reading it back.

Layout of a sweep directory::

    manifest.json            what was run: scenario text and hash, design, root seed,
                             per-run seed keys, what is recorded ([output]), the
                             provenance (digests of every input), versions, git commit
    status.log               append-only JSON lines: sweep events and committed parts
    runs/part-00000.parquet      one row per run: parameters, seed, status, summary
    metrics/part-00000.parquet   per-tick metrics, wide: run_id, tick, one column per metric
    ledger/part-00000.parquet    money: per run, tick, payer and payee type, kind and
                                 stage ([output] ledger = "flows"), or every transfer ("full")
    spillover/part-00000.parquet per run: fitness gained by receiver type from source type
    damaged/                 parts that failed their check on resume, moved aside
    .lock                    flock held while a process writes (released if it dies)

The runs are cut into fixed *blocks* of consecutive run ids (``part_runs`` of
them, recorded in the manifest). Runs reach the store as they finish, in any
order; once every run of a block is in, the block is written as one *part
set*: one file per table, each written to a hidden temporary name, fsynced and
renamed into place, the runs part last. A part set counts as committed only
once a ``part`` line naming its run ids and each file's SHA-256, size and row
count is in ``status.log``. So a part's bytes depend only on its runs, not on
the executor or on the order runs finished; readers look only at committed
parts and check their digests first; on resume, damaged parts are moved aside
and their runs run again, orphans and temporary files are deleted, and only
the missing runs are run. Memory stays bounded whatever the number of runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import platform
import re
import socket
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kctsim import files
from kctsim.config import AGENT_TYPES
from kctsim.experiment.provenance import git_state, provenance, provenance_changes
from kctsim.experiment.spec import Output
from kctsim.files import fsync_dir, now, sha256_file, write_json_atomic
from kctsim.ledger import ACCOUNT_TYPES, KINDS
from kctsim.results import FOREIGN, jsonable, software_versions

try:  # advisory lock against two sweeps writing one directory; absent on Windows
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

FORMAT = "kctsim-sweep/2"
OLD_FORMATS = ("kctsim-sweep/1",)
"""Formats :func:`load_results` still reads (format 1: long metrics, full ledger, no digests)."""
MANIFEST = "manifest.json"
STATUS_LOG = "status.log"
LOCK = ".lock"
DAMAGED = "damaged"
TABLES = ("runs", "metrics", "ledger", "spillover")
"""The tables of a sweep, one sub-directory of part files each."""
COMMIT_ORDER = ("metrics", "ledger", "spillover", "runs")
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
"""Columns that differ between two executions of the same sweep (kept in the status
log, not in the part files, whose bytes thus depend only on the runs)."""
EMPTY_COLUMNS = {
    "runs": list(RUN_COLUMNS),
    "metrics": ["run_id", "tick", "metric", "value"],
    "ledger": ["run_id"],
    "spillover": ["run_id", "source_type", "receiver_type", "gain"],
}
"""Columns of a table before any run is committed."""
SORT_KEYS = {
    "runs": ["run_id"],
    "metrics": ["run_id", "tick"],
    "ledger": ["run_id"],
    "spillover": ["run_id"],
}

PART_RUNS = 100
"""Runs per part set (a block); a few MB of Parquet with the default ``[output]``."""
PART_RUNS_FULL_LEDGER = 8
"""Runs per part set when every transfer is kept (tens of thousands of rows a run)."""

FLOW_KEYS = ("from_type", "to_type", "kind", "stage", "tick")
"""What the ``flows`` ledger sums money over (with the run), in its row order."""

_PART_NAME = re.compile(r"^part-(\d{5,})\.parquet$")
_COMPRESSION = "zstd"
_COMPRESSION_LEVEL = 3  # higher levels save 2-3% of the bytes for 2-4x the main process's time
_DICTIONARY_SHARE = 0.3


class SweepExistsError(files.OutputDirError):
    """The output directory holds another sweep, or this one without ``resume``."""


class ProvenanceChangedError(SweepExistsError):
    """An input of the sweep (scenario, data file, package data, model code) changed
    between the start of a sweep and its resume."""


class SweepLockedError(RuntimeError):
    """Another process is writing to the sweep directory."""


class SweepCorruptError(RuntimeError):
    """The sweep directory contradicts its own status log (e.g. a damaged part)."""


@dataclass(eq=False)
class RunPayload:
    """What one run sends back to the store: compact arrays, no DataFrames.

    Attributes:
        run_id: the run.
        status: ``ok`` or ``failed``.
        runs: the run's row, by column (see :data:`RUN_COLUMNS`), then its summary.
        metrics: per-tick metrics by name, ``tick`` first (None: not recorded or failed).
        ledger: the ledger's columns by name, flows or every transfer (None: not
            recorded or failed); types and kind as codes.
        spillover: the flattened source x receiver gains (None: not recorded or failed).
        wall_time: seconds the run took in its worker.
    """

    run_id: int
    status: str
    runs: dict[str, Any]
    metrics: dict[str, np.ndarray] | None = None
    ledger: dict[str, np.ndarray] | None = None
    spillover: np.ndarray | None = None
    wall_time: float = math.nan

    def nbytes(self) -> int:
        """Bytes of the payload's arrays (the row counted at 8 bytes a cell)."""
        arrays = [*(self.metrics or {}).values(), *(self.ledger or {}).values()]
        if self.spillover is not None:
            arrays.append(self.spillover)
        return 8 * len(self.runs) + sum(a.nbytes for a in arrays)


@dataclass
class SweepStore:
    """An open sweep directory: collects finished runs and commits each full block.

    Build it with :meth:`open`; use it as a context manager or call :meth:`close`.
    """

    out_dir: Path
    manifest: dict[str, Any]
    committed: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    resumed: bool = False
    removed: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    _blocks: dict[int, int] = field(default_factory=dict, init=False, repr=False)
    _block_runs: dict[int, list[int]] = field(default_factory=dict, init=False, repr=False)
    _buffer: dict[int, dict[int, RunPayload]] = field(default_factory=dict, init=False, repr=False)
    _lock_fd: int | None = field(default=None, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)
    _read_only: bool = field(default=False, init=False, repr=False)

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
        part_runs: int | None = None,
        output: Output | None = None,
    ) -> SweepStore:
        """Start a sweep in ``out_dir``, or resume the one there.

        Args:
            out_dir: the sweep directory (created if missing).
            meta: scenario ``name``, ``hash``, ``text``, root ``seed``, ``design``
                and ``data_files`` (path -> sha256); other keys are kept in the manifest too.
            seeds: one record per run: ``run_id``, ``seed_entropy``, ``spawn_key``.
            factors: names of the design's factors, in design order.
            resume: continue a sweep of the same scenario already in ``out_dir``.
            event: extra fields for the start/resume line of the status log
                (executor, workers).
            part_runs: runs per part set (default: :data:`PART_RUNS`, or
                :data:`PART_RUNS_FULL_LEDGER` with the full ledger); on resume, the
                sweep's own.
            output: what is recorded of each run (default: :class:`Output`'s defaults).

        Raises:
            SweepExistsError: ``out_dir`` holds a different sweep, files that are
                not a sweep, or this sweep while ``resume`` is False.
            ProvenanceChangedError: ``resume`` but an input of the sweep changed.
            SweepLockedError: another process is writing to ``out_dir``.
            NotADirectoryError: ``out_dir`` is a file.
        """
        output = output or Output()
        if part_runs is None:
            part_runs = PART_RUNS_FULL_LEDGER if output.ledger == "full" else PART_RUNS
        if part_runs < 1:
            raise ValueError("part_runs must be positive")
        out_dir = Path(out_dir)
        manifest = _new_manifest(meta, seeds, factors, output, part_runs)
        _check_out_dir(out_dir, lambda d: _read_manifest(d) is not None)
        out_dir.mkdir(parents=True, exist_ok=True)
        store = cls(out_dir=out_dir, manifest=manifest)
        store._lock()
        try:
            store._start(resume, dict(event or {}))
        except BaseException:
            store._unlock()
            raise
        store._make_blocks()
        return store

    def _start(self, resume: bool, event: dict[str, Any]) -> None:
        old = _read_manifest(self.out_dir)
        if old is None:
            # Again, now that we hold the lock; then clear a manifest write cut short.
            _check_out_dir(self.out_dir, lambda d: False)
            for name in os.listdir(self.out_dir):
                if name != LOCK:
                    (self.out_dir / name).unlink()
            write_json_atomic(self.out_dir / MANIFEST, jsonable(self.manifest))
            for table in TABLES:
                (self.out_dir / table).mkdir(exist_ok=True)
            fsync_dir(self.out_dir)
            self._log({"event": "start", "n_runs": self.manifest["n_runs"], **event})
            return
        if old.get("format") in OLD_FORMATS:
            if resume and _same_runs(old, self.manifest) and self._complete_old():
                return  # nothing to run, nothing to write: it stays as it is
            raise SweepExistsError(
                f"{self.out_dir}: holds a sweep written by an older kctsim ({old['format']}); "
                "it can still be read, and resumed only once complete: choose another --out"
            )
        if not _same_sweep(old, self.manifest):
            scenario = old.get("scenario", {})
            raise SweepExistsError(
                f"{self.out_dir}: holds a different sweep (scenario {scenario.get('name')!r}, "
                f"hash {scenario.get('hash')}, root seed {old.get('seed')}, "
                f"{old.get('n_runs')} runs, output {old.get('output')}); "
                "choose another --out or remove it"
            )
        changed = provenance_changes(old.get("provenance", {}), self.manifest["provenance"])
        if changed:
            raise ProvenanceChangedError(
                f"{self.out_dir}: cannot resume: {changed} changed since the sweep started; "
                "its runs would mix two versions. Restore it, or start a new --out"
            )
        self._repair_log()
        if resume:
            self.discarded = self._discard_damaged()
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
        self.manifest["resumed"] = [*old.get("resumed", []), now()]
        self.removed = self._remove_orphans()
        write_json_atomic(self.out_dir / MANIFEST, jsonable(self.manifest))
        self._log(
            {
                "event": "resume",
                "committed": len(self.committed),
                "failed": len(self.failed),
                "removed": self.removed,
                "discarded": self.discarded,
                **event,
            }
        )

    def _complete_old(self) -> bool:
        """Whether the format-1 sweep here has every run committed (then it is read only)."""
        self._load_log()
        self.resumed = self._read_only = len(self.committed) == self.n_runs
        return self._read_only

    def _make_blocks(self) -> None:
        """Cut the runs, in manifest order, into blocks of ``part_runs``."""
        size = int(self.manifest["part_runs"])
        for position, run in enumerate(self.manifest["runs"]):
            block = position // size
            self._blocks[int(run["run_id"])] = block
            self._block_runs.setdefault(block, []).append(int(run["run_id"]))

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

    def _discard_damaged(self) -> list[str]:
        """Move every committed part set that fails its check into ``damaged/``; log it."""
        parts = committed_parts(self.out_dir)
        problems: dict[int, PartProblem] = {}
        for problem in check_parts(self.out_dir, parts=parts):
            problems.setdefault(problem.part, problem)  # the first problem names the part
        moved_all = []
        for number, problem in problems.items():
            aside = self.out_dir / DAMAGED / f"part-{number:05d}-{now().replace(':', '')}"
            aside.mkdir(parents=True, exist_ok=True)
            moved = []
            for record in parts[number]["files"]:
                path = self.out_dir / record["path"]
                if path.exists():
                    target = aside / record["path"].replace("/", "-")
                    os.replace(path, target)
                    moved.append(target.relative_to(self.out_dir).as_posix())
            fsync_dir(aside)
            self._log(
                {"event": "discard", "part": number, "reason": problem.line(), "files": moved}
            )
            moved_all += moved
        return moved_all

    def _load_log(self) -> None:
        for entry in committed_parts(self.out_dir).values():
            self.committed.update(entry["run_ids"])
            self.failed.update(entry.get("failed", []))

    def _remove_orphans(self) -> list[str]:
        """Delete part files no log line commits, and temporary files; return their names."""
        keep = {
            f["path"] for entry in committed_parts(self.out_dir).values() for f in entry["files"]
        }
        removed = []
        for table in TABLES:
            folder = self.out_dir / table
            folder.mkdir(exist_ok=True)
            for path in sorted(folder.iterdir()):
                name = f"{table}/{path.name}"
                if name not in keep and (path.name.startswith(".") or _PART_NAME.match(path.name)):
                    path.unlink()
                    removed.append(name)
            fsync_dir(folder)
        for path in self.out_dir.glob(f".{MANIFEST}.*"):
            path.unlink()
            removed.append(path.name)
        return removed

    # ------------------------------------------------------------- writing

    @property
    def n_runs(self) -> int:
        return int(self.manifest["n_runs"])

    @property
    def output(self) -> Output:
        return Output.from_record(self.manifest.get("output"))

    def missing(self, run_ids: Iterable[int]) -> list[int]:
        """The ids among ``run_ids`` that are neither committed nor buffered."""
        buffered = {i for block in self._buffer.values() for i in block}
        return [i for i in run_ids if i not in self.committed and i not in buffered]

    def add(self, payload: RunPayload) -> None:
        """Keep a finished run; write its block once every run of the block is in."""
        if self._closed:
            raise RuntimeError("the sweep store is closed")
        block = self._blocks.get(payload.run_id)
        if block is None:
            raise ValueError(f"run {payload.run_id} is not a run of this sweep")
        waiting = self._buffer.setdefault(block, {})
        if payload.run_id in self.committed or payload.run_id in waiting:
            # An executor may deliver a run twice (e.g. a retried task); keep the first.
            warnings.warn(f"run {payload.run_id} delivered twice; kept once", stacklevel=2)
            return
        waiting[payload.run_id] = payload
        if len(waiting) == len(self._block_runs[block]):
            self._write_block(block)

    @property
    def buffered(self) -> int:
        """Runs finished but not yet committed (their block is not complete)."""
        return sum(len(b) for b in self._buffer.values())

    def _write_block(self, block: int) -> None:
        """Write a complete block as one committed part set."""
        payloads = [self._buffer[block][i] for i in sorted(self._buffer[block])]
        name = f"part-{block:05d}.parquet"
        tables = part_tables(payloads, self.output, self.manifest.get("factors", []))
        records = []
        for table in COMMIT_ORDER:
            if table not in tables:
                continue
            data = _parquet_bytes(tables[table])
            path = f"{table}/{name}"
            files.write_atomic(self.out_dir / path, data)
            records.append(
                {
                    "path": path,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "rows": tables[table].num_rows,
                }
            )
        ids = [p.run_id for p in payloads]
        self._log(
            {
                "event": "part",
                "part": block,
                "run_ids": ids,
                "failed": [p.run_id for p in payloads if p.status != "ok"],
                "wall_time": [round(p.wall_time, 6) for p in payloads],
                "files": records,
            }
        )
        self.committed.update(ids)
        self.failed.update(p.run_id for p in payloads if p.status != "ok")
        del self._buffer[block]

    def close(self, status: str | None = None, **fields: Any) -> None:
        """Log the end of this session and record it in the manifest.

        Runs of blocks that are not complete are not written (a resume runs them
        again). ``status`` defaults to ``complete`` when every run is committed,
        else ``incomplete``.
        """
        if self._closed:
            return
        self._closed = True
        if self._read_only:
            self._unlock()
            return
        try:
            done = len(self.committed)
            status = status or ("complete" if done == self.n_runs else "incomplete")
            counts = {"committed": done, "failed": len(self.failed)}
            self._log({"event": "end", "status": status, **counts, **fields})
            # errors work: the manifest says why the sweep stopped (fields: reason).
            self.manifest |= {"status": status, "ended": now(), **counts, **fields}
            write_json_atomic(self.out_dir / MANIFEST, jsonable(self.manifest))
        finally:
            self._unlock()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close("interrupted" if exc_type is not None else None)

    def _log(self, entry: dict[str, Any]) -> None:
        line = json.dumps(jsonable({"time": now(), **entry}), allow_nan=False) + "\n"
        _append_line(self.out_dir / STATUS_LOG, line.encode())


# ------------------------------------------------------------ part tables


def part_tables(
    payloads: Sequence[RunPayload], output: Output, factors: Sequence[str] = ()
) -> dict[str, pa.Table]:
    """The Arrow tables of one part set, built straight from the runs' arrays."""
    ok = [p for p in payloads if p.status == "ok"]
    tables = {"runs": _runs_table(payloads)}
    if output.metrics != "none":
        tables["metrics"] = _metrics_table(ok)
    if output.ledger != "none":
        tables["ledger"] = _ledger_table(ok, output.ledger)
    if output.spillover:
        tables["spillover"] = _spillover_table(ok)
    return tables


def _runs_table(payloads: Sequence[RunPayload]) -> pa.Table:
    frame = pd.DataFrame([p.runs for p in payloads])  # columns: union, first-seen order
    return pa.Table.from_pandas(frame, preserve_index=False)


def _metrics_table(payloads: Sequence[RunPayload]) -> pa.Table:
    names: list[str] = []
    for p in payloads:
        names += [n for n in p.metrics or {} if n not in names]
    lengths = [len(p.metrics["tick"]) for p in payloads]
    columns: dict[str, Any] = {"run_id": _repeat_ids(payloads, lengths)}
    for name in names:
        parts = [
            p.metrics[name] if name in p.metrics else np.full(n, np.nan)
            for p, n in zip(payloads, lengths, strict=True)
        ]
        values = np.concatenate(parts) if parts else np.zeros(0)
        lacking = [name not in p.metrics for p in payloads]
        if any(lacking):  # a metric some runs do not have (another chain length): null, not NaN
            mask = np.repeat(np.array(lacking), np.asarray(lengths, dtype=np.int64))
            values = pa.array(values, mask=mask)
        columns[name] = values
    if not payloads:
        columns["tick"] = np.zeros(0, dtype=np.int64)
    return pa.table(columns)


def _ledger_table(payloads: Sequence[RunPayload], mode: str) -> pa.Table:
    lengths = [len(p.ledger["amount"]) for p in payloads]
    names = (
        (*FLOW_KEYS, "amount")
        if mode == "flows"
        else ("tick", "from_type", "from_id", "to_type", "to_id", "kind", "stage", "amount")
    )
    columns: dict[str, Any] = {"run_id": _repeat_ids(payloads, lengths)}
    for name in names:
        values = np.concatenate([p.ledger[name] for p in payloads]) if payloads else np.zeros(0)
        if name in ("from_type", "to_type", "kind"):
            values = _dictionary(values, KINDS if name == "kind" else ACCOUNT_TYPES)
        columns[name] = values
    return pa.table(columns)


def _spillover_table(payloads: Sequence[RunPayload]) -> pa.Table:
    sources = (*AGENT_TYPES, FOREIGN)
    pairs = len(sources) * len(AGENT_TYPES)
    n = len(payloads)
    src = np.tile(np.repeat(np.arange(len(sources)), len(AGENT_TYPES)), n)
    rcv = np.tile(np.arange(len(AGENT_TYPES)), len(sources) * n)
    return pa.table(
        {
            "run_id": _repeat_ids(payloads, [pairs] * n),
            "source_type": _dictionary(src, sources),
            "receiver_type": _dictionary(rcv, AGENT_TYPES),
            "gain": np.concatenate([p.spillover for p in payloads]) if n else np.zeros(0),
        }
    )


def _repeat_ids(payloads: Sequence[RunPayload], lengths: Sequence[int]) -> np.ndarray:
    ids = np.array([p.run_id for p in payloads], dtype=np.int64)
    return np.repeat(ids, np.asarray(lengths, dtype=np.int64))


def _dictionary(codes: np.ndarray, names: Sequence[str]) -> pa.DictionaryArray:
    """Codes as an Arrow dictionary column (pandas reads it as a categorical)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int8)), pa.array(list(names))
    )


def _parquet_bytes(table: pa.Table) -> bytes:
    # Floats with many distinct values byte-stream split (their exponents and high
    # bytes then compress); everything else dictionary-encoded (counts, shares that
    # stay put for many ticks): the default [output] fits in under 20 KB a run.
    varied = [
        f.name
        for f in table.schema
        if pa.types.is_floating(f.type)
        and pc.count_distinct(table.column(f.name)).as_py() > _DICTIONARY_SHARE * table.num_rows
    ]
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression=_COMPRESSION,
        compression_level=_COMPRESSION_LEVEL,
        use_dictionary=[name for name in table.column_names if name not in varied],
        use_byte_stream_split=varied,
    )
    return sink.getvalue()


# ---------------------------------------------------------- condensing a run


def select_metrics(metrics: Mapping[str, np.ndarray], output: Output) -> dict[str, np.ndarray]:
    """The per-tick metrics ``output`` asks for: its names, every k-th tick and the last."""
    tick = metrics["tick"]
    names = [n for n in metrics if n != "tick"]
    if not isinstance(output.metrics, str):
        names = [n for n in names if n in output.metrics]
    keep = slice(None)
    if output.metrics_every > 1:
        keep = (tick % output.metrics_every == 0) | (tick == tick[-1])
    return {"tick": tick[keep], **{n: metrics[n][keep] for n in names}}


def ledger_flows(ledger: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Money summed per payer type, payee type, kind, stage and tick, in that order."""
    tick = ledger["tick"].astype(np.int64)
    # One integer key per group; the factors bound each field (types < 16, kinds < 32,
    # stages -1..254, ticks < 2**20), so sorting the key sorts the groups. Each flow's
    # ticks come together: its amounts change little from tick to tick and compress
    # to about two thirds of the tick-major order's size.
    key = (
        ((ledger["from_type"].astype(np.int64) * 16 + ledger["to_type"]) * 32 + ledger["kind"])
        * 256
        + (ledger["stage"].astype(np.int64) + 1)
    ) * _TICKS + tick
    # Hashing (factorize), then sorting only the few hundred groups: a sort of the
    # tens of thousands of keys (np.unique) took over twice as long.
    codes, groups = pd.factorize(key, sort=False)
    amount = np.bincount(codes, weights=ledger["amount"], minlength=len(groups))
    order = np.argsort(groups, kind="stable")
    groups, amount = groups[order], amount[order]
    tick, rest = groups % _TICKS, groups // _TICKS
    stage, rest = rest % 256 - 1, rest // 256
    kind, rest = rest % 32, rest // 32
    to_type, from_type = rest % 16, rest // 16
    return {
        "tick": tick.astype(np.int32),
        "from_type": from_type.astype(np.int8),
        "to_type": to_type.astype(np.int8),
        "kind": kind.astype(np.int8),
        "stage": stage.astype(np.int8),
        "amount": amount,
    }


_TICKS = 2**20


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
    """The committed part sets by number, from ``status.log`` (discarded ones left out).

    Each entry's ``files`` is a list of ``{"path", "sha256", "bytes", "rows"}``
    (digest, size and rows are None for format 1).

    Raises:
        SweepCorruptError: a run id is committed twice.
    """
    parts: dict[int, dict[str, Any]] = {}
    for entry in read_log(out_dir):
        event = entry.get("event")
        if event not in ("part", "discard"):
            continue
        # errors work: a damaged entry is one SweepCorruptError, never a traceback.
        shape = isinstance(entry.get("run_ids"), list) and isinstance(entry.get("files"), list)
        if not isinstance(entry.get("part"), int) or (event == "part" and not shape):
            raise SweepCorruptError(f"{out_dir}/{STATUS_LOG}: a part entry lacks its run ids")
        if event == "discard":
            parts.pop(int(entry["part"]), None)
        else:
            number = int(entry["part"])
            seen = {i for p in parts.values() for i in p["run_ids"]}
            ids = set(entry["run_ids"])
            if ids & seen or number in parts:
                raise SweepCorruptError(
                    f"{out_dir}: part {number} commits runs already committed "
                    f"({sorted(ids & seen)[:10]})"
                )
            entry = dict(entry)
            entry["files"] = [
                f
                if isinstance(f, dict)
                else {"path": f, "sha256": None, "bytes": None, "rows": None}
                for f in entry["files"]
            ]
            parts[number] = entry
    return dict(sorted(parts.items()))


@dataclass(frozen=True)
class PartProblem:
    """A committed part file that is missing or not what was committed."""

    part: int
    path: str
    problem: str

    def line(self) -> str:
        return f"{self.path} (part {self.part}) {self.problem}"


def check_parts(
    out_dir: str | os.PathLike,
    tables: Sequence[str] = TABLES,
    parts: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[PartProblem]:
    """Every committed part file of ``tables`` checked against its size and SHA-256."""
    out_dir = Path(out_dir)
    parts = committed_parts(out_dir) if parts is None else parts
    problems = []
    for number in sorted(parts):
        for record in parts[number]["files"]:
            if record["path"].split("/")[0] not in tables:
                continue
            path = out_dir / record["path"]
            if not path.is_file():
                problems.append(PartProblem(number, record["path"], "is missing"))
                continue
            if record["sha256"] is None:  # format 1 recorded no digests
                continue
            size = path.stat().st_size
            if size != record["bytes"]:
                problems.append(
                    PartProblem(
                        number, record["path"], f"has {size} bytes, {record['bytes']} committed"
                    )
                )
            elif sha256_file(path) != record["sha256"]:
                problems.append(
                    PartProblem(number, record["path"], "does not match its committed SHA-256")
                )
    return problems


def sweep_status(out_dir: str | os.PathLike, verify: bool = False) -> dict[str, Any]:
    """Progress of the sweep in ``out_dir``: runs, committed, failed, missing, status,
    what it records and (``verify``) its damaged parts."""
    manifest = read_manifest(out_dir)
    parts = committed_parts(out_dir)
    ids = {i for p in parts.values() for i in p["run_ids"]}
    failed = sorted({i for p in parts.values() for i in p.get("failed", [])})
    all_ids = {int(run["run_id"]) for run in manifest.get("runs", [])}
    status = {
        "scenario": manifest.get("scenario", {}).get("name"),
        "format": manifest.get("format"),
        "n_runs": int(manifest["n_runs"]),
        "committed": len(ids),
        "failed": failed,
        "missing": sorted(all_ids - ids),
        "status": manifest.get("status"),
        "recorded": recorded_tables(manifest),
    }
    if verify:
        status["damaged"] = [p.line() for p in check_parts(out_dir, parts=parts)]
    return status


@dataclass(frozen=True)
class SweepCheck:
    """The state of one sweep directory, as ``kctsim verify`` reports it."""

    out_dir: Path
    n_runs: int
    committed: int
    failed: int
    missing: int
    damaged: tuple[str, ...]
    recorded: tuple[str, ...]
    changed: str | None
    """Package data or model code that differs from the installed kctsim (None if same)."""

    @property
    def ok(self) -> bool:
        """Complete and intact."""
        return not self.missing and not self.damaged

    def line(self, name: str | None = None) -> str:
        """One line: state, counts, damaged parts, what is recorded."""
        state = "damaged" if self.damaged else "complete" if not self.missing else "incomplete"
        text = (
            f"{name or self.out_dir}: {state}: {self.committed} of {self.n_runs} runs committed "
            f"({self.failed} failed, {self.missing} missing); records {', '.join(self.recorded)}"
        )
        if self.damaged:
            more = f" and {len(self.damaged) - 1} more" if len(self.damaged) > 1 else ""
            text += f"; damaged: {self.damaged[0]}{more} (--resume runs their runs again)"
        if self.changed:
            text += f"; made by other code or data: {self.changed}"
        return text


def check_sweep(out_dir: str | os.PathLike) -> SweepCheck:
    """Completeness and integrity of the sweep in ``out_dir`` (every part's SHA-256).

    Raises:
        FileNotFoundError: ``out_dir`` holds no sweep.
    """
    out_dir = Path(out_dir)
    status = sweep_status(out_dir, verify=True)
    manifest = read_manifest(out_dir)
    old = manifest.get("provenance")
    changed = None
    if old:
        now_ = provenance(manifest.get("scenario", {}))
        keep = ("package_data", "model_code")
        changed = provenance_changes({k: old.get(k, {}) for k in keep}, {k: now_[k] for k in keep})
    return SweepCheck(
        out_dir=out_dir,
        n_runs=status["n_runs"],
        committed=status["committed"],
        failed=len(status["failed"]),
        missing=len(status["missing"]),
        damaged=tuple(status["damaged"]),
        recorded=tuple(status["recorded"]),
        changed=changed,
    )


def sweep_dirs(root: str | os.PathLike) -> list[Path]:
    """``root`` if it is a sweep, else the sweeps one or two levels below it
    (a propositions directory: ``suite/``, ``robustness/<type>/``, ``ablation/<type>/``)."""
    root = Path(root)
    if _is_sweep(root):
        return [root]
    found = [p.parent for p in sorted(root.glob("*/" + MANIFEST)) if _is_sweep(p.parent)]
    found += [p.parent for p in sorted(root.glob("*/*/" + MANIFEST)) if _is_sweep(p.parent)]
    return found


def _is_sweep(path: Path) -> bool:
    try:
        manifest = _read_manifest(path)
    except (OSError, ValueError):
        return False
    return bool(manifest) and manifest.get("format") in (FORMAT, *OLD_FORMATS)


def recorded_tables(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """The tables a sweep records, from its manifest's ``[output]``."""
    if manifest.get("format") in OLD_FORMATS:
        return ("runs", "metrics", "ledger")
    output = Output.from_record(manifest.get("output"))
    return tuple(
        t
        for t, kept in (
            ("runs", True),
            ("metrics", output.metrics != "none"),
            ("ledger", output.ledger != "none"),
            ("spillover", output.spillover),
        )
        if kept
    )


def not_recorded(manifest: Mapping[str, Any], table: str) -> str:
    """One line saying why ``table`` is absent from a sweep."""
    output = manifest.get("output") or {}
    how = f" ([output] {table} = {json.dumps(output[table])})" if table in output else ""
    recorded = ", ".join(recorded_tables(manifest))
    return f"{table}: not recorded by this sweep{how}; recorded: {recorded}"


def verified_parts(
    out_dir: Path, tables: Sequence[str]
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The manifest and committed parts of a sweep whose files of ``tables`` are intact.

    Raises:
        FileNotFoundError: ``out_dir`` holds no sweep.
        SweepCorruptError: a committed part is missing or damaged (one line naming it).
    """
    manifest = read_manifest(out_dir)
    parts = committed_parts(out_dir)
    problems = check_parts(out_dir, tables, parts)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SweepCorruptError(
            f"{out_dir}: committed part {problems[0].line()}{more}; "
            f"`kctsim verify {out_dir}` lists them, `--resume` runs their runs again"
        )
    return manifest, parts


def load_results(
    out_dir: str | os.PathLike,
    tables: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    verify: bool = True,
) -> dict[str, pd.DataFrame]:
    """The committed results of a sweep as pandas DataFrames (checked first).

    Returns ``runs`` (one row per run), ``metrics`` (long: run_id, tick, metric,
    value), ``ledger`` (flows or every transfer, as recorded) and ``spillover``
    (long: run_id, source_type, receiver_type, gain), sorted by run id (and
    tick), so the tables do not depend on the order in which runs finished.
    Runs columns: :data:`RUN_COLUMNS` with the ``factor.*`` columns after
    ``replicate``, then the summary metrics in alphabetical order. Large sweeps
    are better queried with :func:`kctsim.open_results`, which loads nothing.

    Args:
        out_dir: the sweep directory.
        tables: which tables to read (default: every table the sweep records).
        metrics: read only these per-tick metrics (default: all).
        verify: check every part file read against its committed SHA-256 first.

    Raises:
        FileNotFoundError: ``out_dir`` holds no sweep.
        SweepCorruptError: a committed part is missing or damaged.
        ValueError: an unknown table, or one this sweep does not record.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    recorded = recorded_tables(manifest)
    tables = recorded if tables is None else tuple(tables)
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown tables {unknown}; allowed: {', '.join(TABLES)}")
    absent = [t for t in tables if t not in recorded]
    if absent:
        raise ValueError(not_recorded(manifest, absent[0]))
    if verify:
        manifest, parts = verified_parts(out_dir, tables)
    else:
        parts = committed_parts(out_dir)
    wide = manifest.get("format") not in OLD_FORMATS
    result: dict[str, pd.DataFrame] = {}
    for table in tables:
        frames = []
        for number in sorted(parts):
            path = next(
                (
                    out_dir / f["path"]
                    for f in parts[number]["files"]
                    if f["path"].startswith(f"{table}/")
                ),
                None,
            )
            if path is None:
                continue
            if table == "metrics" and wide:
                frames.append(_long_part(path, metrics))
            else:
                filters = (
                    [("metric", "in", list(metrics))] if table == "metrics" and metrics else None
                )
                frames.append(pd.read_parquet(path, filters=filters))
        frame = _concat(frames) if frames else pd.DataFrame(columns=EMPTY_COLUMNS[table])
        if len(frame):
            frame = frame.sort_values(SORT_KEYS[table], kind="stable", ignore_index=True)
        result[table] = frame
    if "runs" in result:
        if wide:
            result["runs"] = _with_wall_time(result["runs"], parts)
        result["runs"] = _canonical_runs(result["runs"], manifest.get("factors", []))
    return result


def _long_part(path: Path, metrics: Sequence[str] | None) -> pd.DataFrame:
    """A wide metrics part as run_id, tick, metric, value (each tick's metrics together)."""
    schema = pq.read_schema(path)
    names = [n for n in schema.names if n not in ("run_id", "tick")]
    if metrics is not None:
        names = [n for n in names if n in metrics]
    table = pq.read_table(path, columns=["run_id", "tick", *names])
    long = long_metrics(
        {n: table.column(n).to_numpy(zero_copy_only=False) for n in ("run_id", "tick", *names)}
    )
    # Nulls mark metrics a run does not have (a shorter chain); NaN is a value.
    present = (
        np.column_stack([table.column(n).is_valid().to_numpy(zero_copy_only=False) for n in names])
        if names
        else np.zeros((table.num_rows, 0), dtype=bool)
    )
    return long[present.ravel()].reset_index(drop=True) if not present.all() else long


def long_metrics(wide: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Per-tick metrics (``run_id``, ``tick``, one array per metric) as run_id, tick,
    metric, value, tick-major: each tick's metrics together, in the given order."""
    names = [n for n in wide if n not in ("run_id", "tick")]
    n_rows = len(wide["tick"])
    values = (
        np.column_stack([np.asarray(wide[n], dtype=float) for n in names])
        if names
        else np.zeros((n_rows, 0))
    )
    n_metrics = len(names)
    return pd.DataFrame(
        {
            "run_id": np.repeat(np.asarray(wide["run_id"], dtype=np.int64), n_metrics),
            "tick": np.repeat(np.asarray(wide["tick"], dtype=np.int64), n_metrics),
            "metric": np.tile(np.asarray(names, dtype=object), n_rows),
            "value": values.ravel(),
        }
    )


def _with_wall_time(runs: pd.DataFrame, parts: Mapping[int, Mapping[str, Any]]) -> pd.DataFrame:
    """The runs table with each run's wall time, which the status log keeps."""
    times = {
        i: t
        for entry in parts.values()
        for i, t in zip(entry["run_ids"], entry.get("wall_time", []), strict=False)
    }
    runs = runs.copy()
    runs["wall_time"] = runs["run_id"].map(times).astype(float)
    return runs


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
    """Write ``csv/<table>.csv`` for every recorded table, next to the parts."""
    out_dir = Path(out_dir)
    tables = load_results(out_dir)
    folder = out_dir / "csv"
    folder.mkdir(exist_ok=True)
    paths = []
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        files.write_atomic(path, b"", write=lambda f, frame=frame: frame.to_csv(f, index=False))
        paths.append(path)
    return paths


# ------------------------------------------------------------------ helpers


def _new_manifest(
    meta: Mapping[str, Any],
    seeds: Sequence[Mapping[str, Any]],
    factors: Sequence[str],
    output: Output,
    part_runs: int,
) -> dict[str, Any]:
    scenario = {k: v for k, v in meta.items() if k not in ("seed", "design")}
    commit, dirty = git_state()
    return jsonable(
        {
            "format": FORMAT,
            "scenario": scenario,
            "seed": meta.get("seed"),
            "design": meta.get("design"),
            "n_runs": len(seeds),
            "factors": list(factors),
            "output": output.record(),
            "part_runs": int(part_runs),
            "provenance": provenance(meta),
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
            "started": now(),
            "ended": None,
            "status": "running",
        }
    )


def _same_runs(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two manifests (of any format) list the same runs of the same scenario."""
    return (
        old.get("scenario", {}).get("hash") == new["scenario"].get("hash")
        and old.get("seed") == new["seed"]
        and old.get("n_runs") == new["n_runs"]
        and old.get("runs") == new["runs"]
    )


def _same_sweep(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two manifests describe the same runs (scenario, seeds, what is recorded)."""
    return (
        old.get("format") == new["format"]
        and old.get("scenario", {}).get("hash") == new["scenario"].get("hash")
        and old.get("seed") == new["seed"]
        and old.get("n_runs") == new["n_runs"]
        and old.get("runs") == new["runs"]
        and old.get("output") == new["output"]
    )


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


def _check_out_dir(out_dir: Path, ours: Any) -> None:
    """:func:`kctsim.files.check_out_dir` for a sweep, refusing with :class:`SweepExistsError`."""
    try:
        files.check_out_dir(out_dir, ours, "kctsim sweep", _is_scratch)
    except files.OutputDirError as exc:
        raise SweepExistsError(str(exc)) from None


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


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
