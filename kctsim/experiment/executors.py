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
import logging
import multiprocessing
import os
import re
import signal
import socket
import threading
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


# ------------------------------------------------ scheduler addresses (errors work)


class SchedulerError(OSError):
    """A Dask scheduler address is malformed (``ValueError`` too) or nobody answers there."""


class SchedulerAddressError(SchedulerError, ValueError):
    """The address of ``--scheduler`` is not ``[tcp|tls]://host:port``: bad input."""


_ADDRESS = re.compile(
    r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):(?P<port>\d+)/?\Z"
)
SCHEDULER_SCHEMES = ("tcp", "tls")
PROBE_TIMEOUT = 5.0
"""Seconds to wait for a scheduler to accept a connection (Dask itself waits 30)."""


def parse_scheduler(address: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a scheduler address such as ``tcp://10.0.0.5:8786``.

    Raises:
        SchedulerAddressError: not ``[tcp|tls]://host:port`` with a port from 1 to 65535.
    """
    allowed = "allowed: tcp://HOST:PORT or tls://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    match = _ADDRESS.match(address.strip())
    if match is None:
        raise SchedulerAddressError(f"--scheduler: {address[:80]!r} is not an address; {allowed}")
    scheme = match["scheme"] or "tcp"
    port = int(match["port"])
    if scheme not in SCHEDULER_SCHEMES:
        raise SchedulerAddressError(f"--scheduler: unknown protocol {scheme!r}; {allowed}")
    if not 1 <= port <= 65535:
        raise SchedulerAddressError(f"--scheduler: port {port} is out of range; {allowed}")
    return scheme, match["host"].strip("[]"), port


def check_scheduler(address: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise unless a scheduler could be listening at ``address`` (one TCP connection).

    Called before a sweep directory is made, so an unreachable or malformed
    address costs seconds and leaves nothing behind.

    Raises:
        SchedulerAddressError: the address is malformed.
        SchedulerError: nothing accepts connections there within ``timeout`` seconds.
    """
    _, host, port = parse_scheduler(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except TimeoutError:
        raise SchedulerError(
            f"--scheduler: no answer from {address} within {timeout:g} s; "
            "is the scheduler running and the address right?"
        ) from None
    except OSError as exc:  # refused, unknown host, no route
        reason = exc.strerror or str(exc)
        raise SchedulerError(
            f"--scheduler: cannot connect to {address} ({reason}); "
            "is the scheduler running and the address right?"
        ) from None


# ---------------------------------------------------------------------- executors


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
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_ignore_interrupt
    )
    try:
        yield pool
    finally:
        # On an error or Ctrl-C, drop queued runs rather than finish them.
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_interrupt() -> None:
    """In a pool worker: leave Ctrl-C to the parent, which cancels the sweep once.

    Otherwise every worker prints its own KeyboardInterrupt traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _dask_executor(workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        with dask.config.set(_LOCAL_CLUSTER_CONFIG), _workers_ignore_interrupt():
            _preload_dask_forkserver()
            cluster = LocalCluster(
                n_workers=workers or default_workers(),
                threads_per_worker=1,  # the model is pure Python + numpy: one run per process
                processes=True,
                # ":0", not None: None still binds 8787 and warns on many lines when it is taken.
                dashboard_address=":0",
                # Workers log tasks cancelled by a Ctrl-C as warnings; errors still show.
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=PROBE_TIMEOUT * 2)
        except (OSError, ValueError) as exc:  # the probe passed but Dask could not connect
            raise SchedulerError(f"--scheduler: cannot connect to {scheduler} ({exc})") from None
    # pure=False: runs are not deduplicated by argument hash, and no time goes on hashing.
    executor = client.get_executor(pure=False)
    try:
        yield executor
    except BaseException:
        # Stopped early (Ctrl-C, an error): runs still in flight die with the cluster,
        # and Dask would log each lost connection as an error with its traceback.
        _silence_dask_shutdown()
        raise
    finally:
        executor.shutdown(wait=False)
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def _workers_ignore_interrupt() -> Iterator[None]:
    """Start Dask's worker processes with Ctrl-C ignored, as pool workers do.

    An ignored signal is inherited by the processes started meanwhile, so a
    Ctrl-C reaches only this process, which stops the sweep and closes the
    cluster; otherwise each worker prints its own KeyboardInterrupt traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be changed from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _silence_dask_shutdown() -> None:
    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


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
