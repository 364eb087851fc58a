"""Running a sweep: RunSpecs out to an executor, finished runs into the store.

:func:`run_sweep` submits the runs not yet in the sweep directory to a
``concurrent.futures.Executor`` (see :mod:`~kctsim.experiment.executors`),
keeping only a few per worker in flight, and hands each finished run to the
:class:`~kctsim.experiment.store.SweepStore`, which streams it to disk. A run
that raises is recorded as failed, with its traceback, and the sweep goes on.
Each run's randomness comes only from its own seed (spawned from the root
seed), so the stored tables are the same whichever executor ran them.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype
from tqdm import tqdm

from kctsim.experiment.executors import (
    DEFAULT_EXECUTOR,
    check_executor,
    make_executor,
    parallelism,
)
from kctsim.experiment.spec import RunSpec
from kctsim.experiment.store import (
    FACTOR_PREFIX,
    PART_BYTES,
    PART_RUNS,
    RunPayload,
    SweepStore,
)
from kctsim.model import compile_kernels

IN_FLIGHT_PER_WORKER = 4
"""Runs submitted per worker at a time: enough to keep workers busy, few enough
that memory does not grow with the size of the sweep."""

# Summary columns that repeat what the runs row already says (and says better:
# the labels are the scenario's, and the seed is the spawned SeedSequence).
_SUMMARY_DROP = ("technology", "regime", "seed")


def _prepare_worker() -> None:
    """Once per worker process: make each run's memory come back (see :func:`_release`).

    The modules imported so far and the model's compiled kernels are moved out of
    the garbage collector's view (``gc.freeze``), so a full collection after each
    run costs about a millisecond. Not in the main process, where freezing would pin the
    caller's own objects.
    """
    global _PREPARED
    if _PREPARED:
        return
    _PREPARED = True
    if multiprocessing.parent_process() is not None:
        # numba's kernels (some 50,000 objects) first, so that they are frozen too:
        # otherwise every collection after a run walks them (tens of ms a run).
        compile_kernels()
        gc.freeze()


def _release() -> None:
    """Collect the finished model's reference cycles now, in a worker.

    Agents and model refer to each other, so a model is freed only by the
    cyclic collector, whose full passes are rare; between them a long-lived
    worker piles up dead models and its RSS creeps up by 100+ MB.
    """
    if multiprocessing.parent_process() is not None:
        gc.collect()


_PREPARED = False


class SweepAbortedError(RuntimeError):
    """The executor broke down (e.g. a worker process died); finish with ``resume=True``."""


@dataclass
class SweepReport:
    """What :func:`run_sweep` did.

    Attributes:
        out_dir: the sweep directory.
        n_runs: runs in the sweep.
        n_skipped: runs already committed before this call (``resume``).
        n_ok: runs that finished in this call.
        n_failed: runs that raised in this call.
        failed: ``(run_id, last line of the traceback)`` of each failed run.
        elapsed: wall-clock seconds of this call.
        status: ``complete`` (every run committed) or ``incomplete``.
        resumed: whether an existing sweep was continued.
        executor: the executor kind (or class name) that ran the runs.
        workers: how many runs it worked on at once.
    """

    out_dir: Path
    n_runs: int
    n_skipped: int = 0
    n_ok: int = 0
    n_failed: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    elapsed: float = 0.0
    status: str = "incomplete"
    resumed: bool = False
    executor: str = ""
    workers: int = 0

    def summary(self) -> str:
        """A few lines for the terminal."""
        done = self.n_skipped + self.n_ok + self.n_failed
        head = "resumed" if self.resumed else "sweep"
        lines = [
            f"{head}: {self.n_ok} ok, {self.n_failed} failed in {self.elapsed:.1f} s "
            f"({self.executor}, {self.workers} workers); {done} of {self.n_runs} runs "
            f"in {self.out_dir} ({self.status})"
        ]
        if self.n_skipped:
            lines.append(f"  {self.n_skipped} runs were already done")
        for run_id, error in self.failed[:10]:
            lines.append(f"  run {run_id} failed: {error}")
        if len(self.failed) > 10:
            lines.append(f"  ... and {len(self.failed) - 10} more (see the runs table)")
        return "\n".join(lines)


def run_sweep(
    specs: Sequence[RunSpec],
    meta: Mapping[str, Any],
    out_dir: str | os.PathLike,
    executor: str | Executor = DEFAULT_EXECUTOR,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    part_runs: int = PART_RUNS,
    part_bytes: int = PART_BYTES,
) -> SweepReport:
    """Execute ``specs`` and stream their results into ``out_dir``.

    Args:
        specs: the runs of the sweep (run ids unique; normally ``0..n-1``).
        meta: scenario ``name``, ``hash``, ``text``, root ``seed`` and ``design``
            (recorded in the manifest; the hash identifies the sweep).
        out_dir: the sweep directory (see :mod:`~kctsim.experiment.store`).
        executor: ``sequential``, ``processes`` or ``dask``, or any
            ``concurrent.futures.Executor`` (the caller then shuts it down).
        workers: worker processes (default: all cores).
        scheduler: address of a running Dask scheduler (``dask`` only).
        resume: continue the sweep already in ``out_dir``, running only missing runs.
        progress: show a progress bar (runs done and failed, rate, ETA) on stderr.
        part_runs: runs per part file at most.
        part_bytes: buffered bytes that force a part file out early.

    Raises:
        SweepExistsError: ``out_dir`` holds a different sweep, or this one and
            ``resume`` is False.
        SweepAbortedError: the executor broke down; committed runs are kept.
        ValueError: an unknown executor kind or ``workers < 1`` (nothing is written).
    """
    started = time.perf_counter()
    specs = list(specs)
    ids = [s.run_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("specs: run ids must be unique")
    if isinstance(executor, str):  # before the sweep directory is written
        check_executor(executor, workers, scheduler)
    kind = executor if isinstance(executor, str) else type(executor).__name__
    store = SweepStore.open(
        out_dir,
        meta,
        seeds=[
            {"run_id": s.run_id, "seed_entropy": s.seed_entropy, "spawn_key": s.spawn_key}
            for s in specs
        ],
        factors=list(dict.fromkeys(name for s in specs for name in s.factors)),
        resume=resume,
        event={"executor": kind, "workers": workers, "scheduler": scheduler},
        part_runs=part_runs,
        part_bytes=part_bytes,
    )
    report = SweepReport(
        out_dir=Path(out_dir),
        n_runs=len(specs),
        n_skipped=len(store.committed),
        resumed=store.resumed,
        executor=kind,
    )
    try:
        todo = [s for s in specs if s.run_id not in store.committed]
        if todo:
            owned = (
                make_executor(executor, workers, scheduler)
                if isinstance(executor, str)
                else nullcontext(executor)
            )
            with owned as ex:
                report.workers = parallelism(ex)
                _execute(todo, ex, store, report, progress)
    except SweepAbortedError as exc:
        store.close("aborted", reason=_exception_text(exc))
        raise
    except BaseException as exc:
        # Runs already finished are still committed; the manifest says why the sweep stopped.
        reason = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else _exception_text(exc)
        store.close("interrupted", reason=reason)
        raise
    store.close()
    report.status = "complete" if len(store.committed) == len(specs) else "incomplete"
    report.elapsed = time.perf_counter() - started
    return report


def _execute(
    todo: list[RunSpec], executor: Executor, store: SweepStore, report: SweepReport, progress: bool
) -> None:
    """Keep a bounded window of runs in flight and store each as it finishes."""
    queue = iter(todo)
    pending: dict[Future, RunSpec] = {}
    window = IN_FLIGHT_PER_WORKER * report.workers
    checked = time.monotonic()
    bar = tqdm(
        total=report.n_runs,
        initial=report.n_skipped,
        unit="run",
        desc="sweep",
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar:
        while True:
            if time.monotonic() - checked > 10:  # a remote Dask cluster may gain workers
                window = IN_FLIGHT_PER_WORKER * parallelism(executor)
                checked = time.monotonic()
            while len(pending) < window:
                spec = next(queue, None)
                if spec is None:
                    break
                pending[executor.submit(run_one, spec)] = spec
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                spec = pending.pop(future)
                payload = _payload_of(future, spec)
                if payload is None:  # the executor itself broke: stop, keep what is done
                    for other in pending:
                        other.cancel()
                    missing = len(pending) + 1 + sum(1 for _ in queue)
                    raise SweepAbortedError(
                        f"sweep aborted: the {report.executor} executor broke down "
                        f"({_exception_line(future)}); {missing} runs not done. "
                        "Run the same command again with --resume (resume=True) to finish them."
                    )
                store.add(payload)
                if payload.status == "ok":
                    report.n_ok += 1
                else:
                    report.n_failed += 1
                    report.failed.append((payload.run_id, _last_line(payload)))
                    bar.set_postfix(failed=report.n_failed, refresh=False)
                bar.update(1)


def _payload_of(future: Future, spec: RunSpec) -> RunPayload | None:
    """The payload of a finished future; None if the executor broke down."""
    if future.cancelled():
        return None
    exc = future.exception()
    if exc is None:
        return future.result()
    if isinstance(exc, BrokenExecutor):
        return None
    # run_one catches everything a run raises, so this failed on the way (pickling,
    # a Dask worker killed repeatedly by this run): still this run's failure.
    text = "".join(traceback.format_exception(exc))
    return _failed_payload(spec, text, wall_time=float("nan"))


def run_one(spec: RunSpec) -> RunPayload:
    """Execute one run in a worker and condense it into its rows of each table.

    Never raises for a failing run: the exception becomes status ``failed`` and
    its traceback goes into the ``error`` column.
    """
    _prepare_worker()
    start = time.perf_counter()
    try:
        results = spec.execute()
    except Exception:
        return _failed_payload(spec, traceback.format_exc(), time.perf_counter() - start)
    finally:
        _release()
    metrics = long_metrics(results.metrics, spec.run_id)
    ledger = results.ledger.copy()
    ledger.insert(0, "run_id", np.int64(spec.run_id))
    row = _run_row(spec, "ok", None, time.perf_counter() - start)
    summary = results.summary.iloc[0].to_dict()
    row |= {k: v for k, v in summary.items() if k not in _SUMMARY_DROP and k not in row}
    return RunPayload(spec.run_id, "ok", row, metrics, ledger)


def long_metrics(wide: pd.DataFrame, run_id: int) -> pd.DataFrame:
    """Per-tick metrics (``tick`` plus one column per metric) as run_id, tick, metric, value."""
    columns = wide.columns.tolist()  # iterating the (Arrow-backed) Index itself is slow
    numeric = [is_numeric_dtype(dtype) for dtype in wide.dtypes.tolist()]
    keep = [n and c != "tick" for c, n in zip(columns, numeric, strict=True)]
    names = [c for c, k in zip(columns, keep, strict=True) if k]
    # One block conversion when every column is numeric; selecting columns costs 20x more.
    if all(numeric):
        values = wide.to_numpy(dtype=float)[:, np.array(keep, dtype=bool)]
    else:
        values = wide[names].to_numpy(dtype=float)
    # Tick-major rows: each tick's metrics together, in the model's order.
    n_ticks, n_metrics = values.shape
    return pd.DataFrame(
        {
            "run_id": np.full(n_ticks * n_metrics, run_id, dtype=np.int64),
            "tick": np.repeat(wide["tick"].to_numpy(dtype=np.int64), n_metrics),
            "metric": np.tile(np.asarray(names, dtype=object), n_ticks),
            "value": values.ravel(),
        }
    )


def _failed_payload(spec: RunSpec, error: str, wall_time: float) -> RunPayload:
    row = _run_row(spec, "failed", error, wall_time)
    return RunPayload(spec.run_id, "failed", row, pd.DataFrame(), pd.DataFrame())


def _run_row(spec: RunSpec, status: str, error: str | None, wall_time: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": int(spec.run_id),
        "technology": str(spec.technology),
        "regime": str(spec.regime),
        "point": int(spec.point),
        "replicate": int(spec.replicate),
    }
    row |= {f"{FACTOR_PREFIX}{k}": _cell(v) for k, v in spec.factors.items()}
    row |= {
        # Entropy is often 128-bit, beyond int64: kept exact as text.
        "seed_entropy": str(spec.seed_entropy),
        "spawn_key": ",".join(str(int(k)) for k in spec.spawn_key),
        "status": status,
        "error": error,
        "wall_time": float(wall_time),
    }
    return row


def _cell(value: Any) -> Any:
    """A factor value as a Parquet-friendly scalar (sequences become their repr)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _last_line(payload: RunPayload) -> str:
    error = payload.runs["error"] or ""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _exception_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _exception_line(future: Future) -> str:
    if future.cancelled():
        return "cancelled"
    exc = future.exception()
    return f"{type(exc).__name__}: {exc}" if exc else "unknown"
