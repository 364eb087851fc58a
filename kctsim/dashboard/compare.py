"""The compare page's work: R replicates per regime in worker processes, then curves.

Runs go to a process pool (fork server, like the sweep executors) so the
server's own process only waits: the page stays responsive however long the
comparison takes. Cancelling drops queued runs and tells running ones, through
a shared event, to stop at their next tick. Replicate i of every regime gets
the same seed (common random numbers), as in a sweep.

Each regime's curve is the fraction of replicates broken through by tick t.
Every run lasts the full horizon, so nothing is censored before it and this
equals the Kaplan-Meier estimate; the band is the Wilson 95% interval of that
binomial fraction at each tick.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from kctsim.config import ConfigError, default_parameters, regime_names, technology_names

HEADLINES: dict[str, str] = {
    "p_breakthrough": "model P(breakthrough) at horizon",
    "best_fitness": "best fitness",
    "spillover_share": "spillover share",
    "free_riding_share": "free-riding share",
    "contribution_gap": "contribution gap",
    "misallocation_index": "misallocation index",
    "chain_blockage": "chain blockage (ticks)",
    "diversity": "design diversity",
    "lock_in": "lock-in",
    "adoption_share": "adoption share",
}
"""Last-tick metrics shown side by side (mean over replicates)."""

MAX_REPLICATES = 500


class Cancelled(Exception):
    """The comparison was cancelled."""


@dataclass(frozen=True)
class CompareRequest:
    """One comparison: a technology type under several regimes, R replicates each.

    Args:
        technology: technology type name.
        regimes: regime preset names (at least one).
        replicates: runs per regime.
        horizon: ticks per run.
        seed: root seed; replicate i's seed is spawned from it.
        population: population sizes overriding the defaults.
        workers: worker processes.
    """

    technology: str
    regimes: tuple[str, ...]
    replicates: int = 10
    horizon: int = 40
    seed: int = 0
    population: dict[str, int] = field(default_factory=dict)
    workers: int = 1

    def problems(self) -> list[str]:
        """What is wrong with the request, as messages (empty when it can run)."""
        out = []
        if self.technology not in technology_names():
            out.append(f"unknown technology type {self.technology!r}")
        if not self.regimes:
            out.append("choose at least one regime")
        out += [f"unknown regime {r!r}" for r in self.regimes if r not in regime_names()]
        if not _int_in(self.replicates, 1, MAX_REPLICATES):
            out.append(f"replicates: expected an integer from 1 to {MAX_REPLICATES}")
        if not _int_in(self.horizon, 1, 100_000):
            out.append("horizon: expected an integer from 1 to 100000")
        if not _int_in(self.seed, 0, 2**63):
            out.append("seed: expected an integer >= 0")
        if not _int_in(self.workers, 1, 64):
            out.append("workers: expected an integer from 1 to 64")
        try:
            default_parameters().replace("population", **self.population)
        except ConfigError as exc:
            out.append(str(exc))
        return out

    def n_runs(self) -> int:
        return len(self.regimes) * self.replicates


def _int_in(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


# ------------------------------------------------------------------ workers

_CANCEL: Any = None  # the pool's shared cancel event, set in each worker


def _init_worker(cancel: Any) -> None:
    global _CANCEL
    _CANCEL = cancel
    # Runs are background work: the server (and whoever clicks) goes first on the CPU.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)


def run_replicate(
    technology: str,
    regime: str,
    horizon: int,
    population: dict[str, int],
    seed: np.random.SeedSequence,
) -> dict[str, Any]:
    """One run to the horizon; its breakthrough tick, P(t) and last-tick headline metrics."""
    from kctsim.model import KCTModel

    model = KCTModel(technology=technology, regime=regime, horizon=horizon, rng=seed, **population)
    while model.running:
        if _CANCEL is not None and _CANCEL.is_set():
            raise Cancelled
        model.step()
    data = model.datacollector.model_vars
    return {
        "regime": regime,
        "breakthrough_tick": int(model.breakthrough_tick),
        "p_curve": np.asarray(data["p_breakthrough"], dtype=float),
        "headline": {k: float(data[k][-1]) for k in HEADLINES},
    }


# --------------------------------------------------------------- comparison


@dataclass(frozen=True)
class RegimeCurve:
    regime: str
    fraction: np.ndarray  # share of replicates broken through by each tick
    low: np.ndarray
    high: np.ndarray
    model_p: np.ndarray  # mean of the runs' own P(t) from the hazard


@dataclass(frozen=True)
class CompareResult:
    request: CompareRequest
    ticks: np.ndarray
    curves: list[RegimeCurve]
    table: list[dict[str, Any]]  # one row per regime


def wilson(k: np.ndarray, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of k successes out of n, elementwise."""
    z = stats.norm.ppf(0.5 + level / 2)
    p = np.asarray(k, dtype=float) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def summarise(request: CompareRequest, runs: list[dict[str, Any]]) -> CompareResult:
    """Curves with bands and the side-by-side table from finished runs."""
    ticks = np.arange(request.horizon + 1, dtype=float)
    curves, table = [], []
    for regime in request.regimes:
        mine = [r for r in runs if r["regime"] == regime]
        n = len(mine)
        bt = np.array([r["breakthrough_tick"] for r in mine])
        reached = bt >= 0
        broken_by = (reached[:, None] & (bt[:, None] <= ticks[None, :])).sum(axis=0)
        low, high = wilson(broken_by, n)
        model_p = np.mean([r["p_curve"][: len(ticks)] for r in mine], axis=0)
        curves.append(RegimeCurve(regime, broken_by / n, low, high, model_p))
        final_low, final_high = wilson(np.array([reached.sum()]), n)
        row: dict[str, Any] = {
            "regime": regime,
            "replicates": n,
            "broke through": f"{reached.mean():.2f} [{final_low[0]:.2f}, {final_high[0]:.2f}]",
            "median tick to breakthrough": (
                float(np.median(bt[reached])) if reached.any() else float("nan")
            ),
        }
        for key, label in HEADLINES.items():
            values = np.array([r["headline"][key] for r in mine], dtype=float)
            row[label] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        table.append(row)
    return CompareResult(request, ticks, curves, table)


def make_pool(workers: int, cancel: Any) -> ProcessPoolExecutor:
    """A fork-server pool whose workers share ``cancel`` (never fork a threaded server)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["kctsim.dashboard.compare", "kctsim.model"])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(cancel,)
    )


def run_comparison(
    request: CompareRequest,
    cancel: threading.Event,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
    executor: Executor | None = None,
) -> CompareResult | None:
    """Run every replicate of every regime; None if ``cancel`` was set first.

    Args:
        request: what to run (already checked with :meth:`CompareRequest.problems`).
        cancel: set from another thread to stop early.
        on_progress: called with (runs done, runs in all) as runs finish.
        executor: where runs execute (default: a process pool of ``request.workers``).

    Raises:
        ValueError: the request has problems.
        RuntimeError: a run failed (its error is in the message).
    """
    problems = request.problems()
    if problems:
        raise ValueError("; ".join(problems))
    seeds = np.random.SeedSequence(request.seed).spawn(request.replicates)
    worker_cancel = None
    if executor is None:
        worker_cancel = multiprocessing.get_context("forkserver").Event()
        executor = make_pool(request.workers, worker_cancel)
    total = request.n_runs()
    runs: list[dict[str, Any]] = []
    try:
        pending: set[Future] = {
            executor.submit(
                run_replicate,
                request.technology,
                regime,
                request.horizon,
                dict(request.population),
                seeds[i],
            )
            for regime in request.regimes
            for i in range(request.replicates)
        }
        on_progress(0, total)
        while pending:
            if cancel.is_set():
                return None
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                exc = future.exception()
                if exc is not None:
                    raise RuntimeError(f"a run failed: {type(exc).__name__}: {exc}") from exc
                runs.append(future.result())
            if done:
                on_progress(len(runs), total)
    finally:
        if worker_cancel is not None:
            worker_cancel.set()  # running replicates stop at their next tick
        executor.shutdown(wait=False, cancel_futures=True)
    return summarise(request, runs)
