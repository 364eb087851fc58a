"""Where the runs of a sweep execute: one ``concurrent.futures.Executor`` per kind.

* ``sequential``: in this process, one run at a time (debugging, profiling, tiny sweeps);
* ``processes``: a local process pool, one worker per core by default;
* ``dask``: Dask distributed, a ``LocalCluster`` by default or an existing
  scheduler (``scheduler="tcp://host:8786"``), so that a sweep that outgrows one
  machine runs unchanged on a cluster (every worker needs kctsim installed).

The runner only uses ``submit`` and waits on the returned futures, so any other
``Executor`` works as well (Mesa 4's ``mesa.experimental.scenarios`` takes the
same route).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

EXECUTORS = ("sequential", "processes", "dask")
"""The executor kinds :func:`make_executor` builds."""

DEFAULT_EXECUTOR = "processes"

# Imported once by the fork server, so each pool worker starts warm (no second
# import of pandas, mesa and kctsim, kernels loaded) yet never inherits the
# parent's threads.
_PRELOAD = ["kctsim.experiment.runner", "kctsim.experiment.warm"]


class SequentialExecutor(Executor):
    """An executor that runs each call at once, in the calling process.

    ``submit`` returns a future that is already done; an exception raised by
    the call is stored in the future, as a pool would do.
    """

    max_workers = 1

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # as a pool would; Ctrl-C still stops the caller at once
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


def default_workers() -> int:
    """All cores of this machine (at least one)."""
    return os.cpu_count() or 1


def check_executor(kind: str, workers: int | None = None, scheduler: str | None = None) -> None:
    """Raise if :func:`make_executor` would refuse these arguments (starts nothing).

    Raises:
        ValueError: unknown ``kind``, ``workers < 1``, or ``scheduler`` without ``dask``.
        ImportError: ``dask`` requested but ``dask[distributed]`` is not installed.
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor: unknown kind {kind!r}; choose one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers: need at least 1, got {workers}")
    if scheduler is not None and kind != "dask":
        raise ValueError(f"scheduler: only the dask executor takes one (executor is {kind!r})")
    if kind == "dask" and importlib.util.find_spec("distributed") is None:
        raise ImportError("executor 'dask' needs Dask distributed: pip install 'dask[distributed]'")


@contextmanager
def make_executor(
    kind: str = DEFAULT_EXECUTOR, workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor]:
    """An executor of ``kind``, shut down (with its cluster) on exit.

    Args:
        kind: ``sequential``, ``processes`` or ``dask``.
        workers: worker processes (default: all cores); ignored by ``sequential``
            and when ``scheduler`` is given (the cluster decides).
        scheduler: address of a running Dask scheduler (``dask`` only); without
            it a ``LocalCluster`` of ``workers`` single-threaded processes is started.

    Raises:
        ValueError: unknown ``kind``, ``workers < 1``, or ``scheduler`` without ``dask``.
        ImportError: ``dask`` requested but ``dask[distributed]`` is not installed.
    """
    check_executor(kind, workers, scheduler)
    if kind == "sequential":
        executor = SequentialExecutor()
        try:
            yield executor
        finally:
            executor.shutdown()
    elif kind == "processes":
        with _process_pool(workers or default_workers()) as pool:
            yield pool
    else:
        with _dask_executor(workers, scheduler) as executor:
            yield executor


@contextmanager
def _process_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    # fork would copy whatever threads the parent runs (tqdm's monitor, a Dask
    # client) and can deadlock; a preloaded fork server is as quick to start.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        yield pool
    finally:
        # On an error or Ctrl-C, drop queued runs rather than finish them.
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _dask_executor(workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        with dask.config.set(_LOCAL_CLUSTER_CONFIG):
            _preload_dask_forkserver()
            cluster = LocalCluster(
                n_workers=workers or default_workers(),
                threads_per_worker=1,  # the model is pure Python + numpy: one run per process
                processes=True,
                dashboard_address=None,
            )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    # pure=False: runs are not deduplicated by argument hash, and no time goes on hashing.
    executor = client.get_executor(pure=False)
    try:
        yield executor
    finally:
        executor.shutdown(wait=False)
        client.close()
        if cluster is not None:
            cluster.close()


def _preload_dask_forkserver() -> None:
    """Start a LocalCluster's workers from a fork server that has imported Dask and
    kctsim and loaded the kernels, as the process pool's workers are: otherwise each
    worker process imports and loads them itself, seconds of start-up per sweep."""
    from distributed.utils import get_mp_context

    get_mp_context()  # Dask sets its own preload list once; ours then replaces it
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["distributed", *_PRELOAD])


# Dask's nanny fixes glibc's MALLOC_TRIM_THRESHOLD_ for its workers (and, for a
# LocalCluster, in this process too). That also freezes the mmap threshold at
# 128 kB, so each of the model's larger numpy arrays is mapped and unmapped
# anew: runs took 20% longer than on the process pool. Worker memory is kept
# in check by the runner instead (see runner._release). Nobody reads the
# statistical profile of a LocalCluster without a dashboard: don't sample it.
# Each worker loads the model's kernels as it starts (kctsim.experiment.warm), once,
# as the process pool's fork server does; on a cluster, `dask worker --preload
# kctsim.experiment.warm` does the same.
_LOCAL_CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.worker.preload": ["kctsim.experiment.warm"],
    "distributed.worker.multiprocessing-method": "forkserver",
}


def parallelism(executor: Executor) -> int:
    """How many runs ``executor`` works on at once (to size the window of runs in flight)."""
    if isinstance(executor, SequentialExecutor):
        return 1
    if isinstance(executor, ProcessPoolExecutor | ThreadPoolExecutor):
        return int(executor._max_workers)  # no public accessor in the standard library
    client = getattr(executor, "_client", None)  # distributed.cfexecutor.ClientExecutor
    if client is not None:
        threads = sum(client.nthreads().values())
        return max(threads, 1)
    return default_workers()
