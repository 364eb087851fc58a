"""Running a sweep: RunSpecs out to an executor, finished runs into the store.

:func:`run_sweep` cuts the runs not yet in the sweep directory into small
batches and submits them to a ``concurrent.futures.Executor`` (see
:mod:`~kctsim.experiment.executors`), keeping only a few batches per worker in
flight; each worker runs its batch and sends back each run condensed into
compact arrays (what the scenario's ``[output]`` records, nothing more), which
the :class:`~kctsim.experiment.store.SweepStore` streams to disk. A run that
raises is recorded as failed, with its traceback, and the sweep goes on. Each
run's randomness comes only from its own seed (spawned from the root seed),
and part files hold fixed blocks of runs, so the stored bytes are the same
whichever executor ran them, with however many workers.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kctsim.experiment.executors import (
    DEFAULT_EXECUTOR,
    SequentialExecutor,
    check_executor,
    make_executor,
    parallelism,
)
from kctsim.experiment.spec import Output, RunSpec
from kctsim.experiment.store import (
    FACTOR_PREFIX,
    RunPayload,
    SweepStore,
    ledger_flows,
    select_metrics,
)
from kctsim.model import compile_kernels

TASKS_PER_WORKER = 2
"""Tasks (batches) in flight per worker: one running, one waiting, so a worker never
idles while the main process stores a result; few enough that memory does not
grow with the size of the sweep."""
MAX_BATCH = 8
"""Runs per task at most: enough to spread a task's fixed cost (scheduling,
pickling, a Dask round trip) over several runs, few enough to balance the load."""

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


@contextmanager
def _frozen_if_in_process(executor: Executor) -> Iterator[None]:
    """For runs in this process: kernels loaded and every object so far frozen
    (``gc.freeze``) for the sweep's duration, then unfrozen.

    A full collection (see :func:`_release`) then walks only the sweep's own
    objects, a millisecond or two instead of about 90 ms over numba's kernels and
    the caller's objects; unfreezing at the end hands the caller's objects back to
    the collector, so nothing of theirs is pinned.
    """
    if not isinstance(executor, SequentialExecutor):
        yield
        return
    global _FROZEN
    compile_kernels()
    gc.collect()
    gc.freeze()
    _FROZEN = True
    try:
        yield
    finally:
        _FROZEN = False
        gc.unfreeze()


def _release() -> None:
    """Collect the finished model's reference cycles now, in a worker.

    Agents and model refer to each other, so a model is freed only by the
    cyclic collector, whose full passes are rare; between them a long-lived
    worker piles up dead models and its RSS creeps up by 100+ MB. In this
    process (the sequential executor), what was frozen by :func:`_frozen_if_in_process`.
    """
    if _FROZEN or multiprocessing.parent_process() is not None:
        gc.collect()


_PREPARED = False
_FROZEN = False  # gc.get_freeze_count() walks the frozen objects: tens of ms


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
    part_runs: int | None = None,
    output: Output | None = None,
    batch: int | None = None,
) -> SweepReport:
    """Execute ``specs`` and stream their results into ``out_dir``.

    Args:
        specs: the runs of the sweep (run ids unique; normally ``0..n-1``).
        meta: scenario ``name``, ``hash``, ``text``, root ``seed``, ``design`` and
            ``data_files`` (recorded in the manifest; the hash identifies the sweep).
        out_dir: the sweep directory (see :mod:`~kctsim.experiment.store`).
        executor: ``sequential``, ``processes`` or ``dask``, or any
            ``concurrent.futures.Executor`` (the caller then shuts it down).
        workers: worker processes (default: all cores).
        scheduler: address of a running Dask scheduler (``dask`` only).
        resume: continue the sweep already in ``out_dir``, running only missing runs.
        progress: show a progress bar (runs done and failed, rate, ETA) on stderr.
        part_runs: runs per part file (default: the store's, by ``output``).
        output: what is recorded of each run (default: the scenario's ``[output]``
            defaults: all metrics, the ledger's flows, the spillover matrix).
        batch: runs per task (default: up to :data:`MAX_BATCH`, so that every
            worker gets several tasks).

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
    if output is None:
        output = Output.from_record(meta.get("output"))
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
        output=output,
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
            with owned as ex, _frozen_if_in_process(ex):
                report.workers = parallelism(ex)
                _execute(todo, ex, store, report, progress, batch)
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


def batch_size(n_runs: int, workers: int, batch: int | None = None) -> int:
    """Runs per task: at most :data:`MAX_BATCH`, and small enough that each worker
    gets at least four tasks (the last tasks of a sweep then end close together)."""
    if batch is not None:
        return max(1, int(batch))
    return max(1, min(MAX_BATCH, n_runs // (4 * max(workers, 1))))


def _execute(
    todo: list[RunSpec],
    executor: Executor,
    store: SweepStore,
    report: SweepReport,
    progress: bool,
    batch: int | None,
) -> None:
    """Keep a bounded window of batches in flight and store each run as it comes back."""
    size = batch_size(len(todo), report.workers, batch)
    batches = iter([todo[i : i + size] for i in range(0, len(todo), size)])
    output = store.output
    pending: dict[Future, list[RunSpec]] = {}
    window = TASKS_PER_WORKER * report.workers
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
                window = TASKS_PER_WORKER * parallelism(executor)
                checked = time.monotonic()
            while len(pending) < window:
                specs = next(batches, None)
                if specs is None:
                    break
                pending[executor.submit(run_batch, specs, output)] = specs
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                specs = pending.pop(future)
                payloads = _payloads_of(future, specs)
                if payloads is None:  # the executor itself broke: stop, keep what is done
                    for other in pending:
                        other.cancel()
                    missing = sum(len(s) for s in pending.values()) + len(specs)
                    missing += sum(len(s) for s in batches)
                    raise SweepAbortedError(
                        f"sweep aborted: the {report.executor} executor broke down "
                        f"({_exception_line(future)}); {missing} runs not done. "
                        "Run the same command again with --resume (resume=True) to finish them."
                    )
                for payload in payloads:
                    store.add(payload)
                    if payload.status == "ok":
                        report.n_ok += 1
                    else:
                        report.n_failed += 1
                        report.failed.append((payload.run_id, _last_line(payload)))
                        bar.set_postfix(failed=report.n_failed, refresh=False)
                bar.update(len(payloads))


def _payloads_of(future: Future, specs: list[RunSpec]) -> list[RunPayload] | None:
    """The payloads of a finished batch; None if the executor broke down."""
    if future.cancelled():
        return None
    exc = future.exception()
    if exc is None:
        return future.result()
    if isinstance(exc, BrokenExecutor):
        return None
    # run_one catches everything a run raises, so this failed on the way (pickling,
    # a Dask worker killed repeatedly by this batch): still these runs' failure.
    text = "".join(traceback.format_exception(exc))
    return [_failed_payload(spec, text, wall_time=float("nan")) for spec in specs]


def run_batch(specs: Sequence[RunSpec], output: Output | None = None) -> list[RunPayload]:
    """Execute a few runs in a worker, one after the other (see :func:`run_one`)."""
    return [run_one(spec, output) for spec in specs]


def run_one(spec: RunSpec, output: Output | None = None) -> RunPayload:
    """Execute one run in a worker and condense it into what ``output`` records.

    Never raises for a failing run: the exception becomes status ``failed`` and
    its traceback goes into the ``error`` column.
    """
    output = output or Output()
    _prepare_worker()
    start = time.perf_counter()
    try:
        arrays = spec.execute_arrays()
    except Exception:
        return _failed_payload(spec, traceback.format_exc(), time.perf_counter() - start)
    finally:
        _release()
    row = _run_row(spec, "ok", None)
    row |= {k: v for k, v in arrays.summary.items() if k not in _SUMMARY_DROP and k not in row}
    ledger = None
    if output.ledger == "flows":
        ledger = ledger_flows(arrays.ledger)
    elif output.ledger == "full":
        ledger = arrays.ledger
    return RunPayload(
        spec.run_id,
        "ok",
        row,
        metrics=select_metrics(arrays.metrics, output) if output.metrics != "none" else None,
        ledger=ledger,
        spillover=arrays.spillover.ravel() if output.spillover else None,
        wall_time=time.perf_counter() - start,
    )


def _failed_payload(spec: RunSpec, error: str, wall_time: float) -> RunPayload:
    return RunPayload(spec.run_id, "failed", _run_row(spec, "failed", error), wall_time=wall_time)


def _run_row(spec: RunSpec, status: str, error: str | None) -> dict[str, Any]:
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
