"""Sweep benchmark: parallel efficiency, Dask overhead and bounded memory of ``run_sweep``.

Prints three figures, each with its goal:

(a) parallel efficiency of the process pool on default runs
    = T_sequential / (workers x T_processes)                     goal >= 0.85
(b) Dask LocalCluster time / process-pool time, same workers      goal <= 1.2
(c) peak memory of a sweep of 10,000 small runs                   goal <  500 MB

Times are wall-clock seconds of a whole :func:`~kctsim.experiment.runner.run_sweep`
call (pool or cluster start-up and writing the results included), so they are
what a user waits for; each call runs in a fresh interpreter (imports not
timed). The executors take turns, ``--repeats`` times, and the best time of
each is kept, so a busy spell on a shared machine does not decide a ratio.
The same sweep is run by each executor and the stored runs tables are checked
to be identical (timing column aside). The timing goals are set for sweeps
of at least 200 runs; with fewer (``--quick``) the ratios are only indicative.

Memory (c) is measured on a sweep in a child process on the process pool:
the peak RSS of the sweep process itself (``VmHWM`` of /proc/self/status: the
part that could grow with the number of runs; ``ru_maxrss`` is not used, as
Linux carries the parent's peak across exec), and, sampled every 0.2 s with
psutil, the peak RSS of the largest other process and the peak of the summed PSS
(proportional set size: shared pages counted once) of the whole process tree:
sweep process, fork server and workers. The goal is checked on that total.

Run from the repository root:
    .venv/bin/python benchmarks/bench_sweep.py          # 200 default runs x2, 10,000 small: ~15 min
    .venv/bin/python benchmarks/bench_sweep.py --quick  # 40 default runs x1, 2,000 small: ~2.5 min
    # options: --runs N  --horizon N  --workers N  --repeats N  --memory-runs N
    #          --skip-dask  --skip-memory
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kctsim.config import load_regime, load_technology
from kctsim.experiment.spec import RunSpec
from kctsim.experiment.store import TIMING_COLUMNS, load_results

ROOT = Path(__file__).resolve().parent.parent
META = {"name": "bench", "hash": "bench-sweep", "text": "", "seed": 0, "design": "replicates"}
SMALL = {
    "n_leader_firms": 1,
    "n_smes": 3,
    "n_state_orgs": 1,
    "n_universities": 1,
    "n_scientists": 5,
    "n_users": 10,
}
SMALL_HORIZON = 2


def make_specs(n: int, horizon: int, small: bool = False, seed: int = 0) -> list[RunSpec]:
    """``n`` replicates of key_generic under spiral (default populations unless ``small``)."""
    tech, levers = load_technology("key_generic"), load_regime("spiral")
    overrides = {"horizon": horizon, **(SMALL if small else {})}
    return [
        RunSpec(
            run_id=i,
            technology="key_generic",
            regime="spiral",
            point=0,
            replicate=i,
            tech_spec=tech,
            levers=levers,
            overrides=overrides,
            seed_entropy=child.entropy,
            spawn_key=tuple(child.spawn_key),
        )
        for i, child in enumerate(np.random.SeedSequence(seed).spawn(n))
    ]


SWEEP_SCRIPT = """
    import json, sys, time
    sys.path.insert(0, sys.argv[6])
    from bench_sweep import META, make_specs
    from kctsim.experiment.runner import run_sweep

    if __name__ == "__main__":
        out, executor, workers, runs, horizon = sys.argv[1:6]
        specs = make_specs(int(runs), int(horizon))
        start = time.perf_counter()
        report = run_sweep(specs, META, out, executor=executor, workers=int(workers),
                           progress=False)
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "ok": report.n_ok, "failed": report.n_failed}))
"""


def timed_sweep(out: Path, executor: str, workers: int, runs: int, horizon: int) -> float:
    """Seconds of one ``run_sweep`` call, in a fresh interpreter (imports not timed)."""
    load = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SWEEP_SCRIPT), str(out), executor]
        + [str(workers), str(runs), str(horizon), str(Path(__file__).resolve().parent)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{executor} sweep failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] == runs and result["failed"] == 0, result
    seconds = result["seconds"]
    print(
        f"  {executor:<10} {runs} runs  {seconds:8.1f} s  "
        f"({seconds / runs * 1000:.0f} ms/run; load average before: {load:.1f})",
        flush=True,
    )
    return seconds


def same_runs(a: Path, b: Path) -> bool:
    """Whether two sweeps stored identical runs tables (timing aside)."""
    left, right = (load_results(d)["runs"].drop(columns=list(TIMING_COLUMNS)) for d in (a, b))
    try:
        pd.testing.assert_frame_equal(left, right)
    except AssertionError:
        return False
    return True


MEMORY_SCRIPT = """
    import json, sys
    sys.path.insert(0, sys.argv[4])
    from bench_sweep import META, SMALL_HORIZON, make_specs
    from kctsim.experiment.runner import run_sweep

    if __name__ == "__main__":
        specs = make_specs(int(sys.argv[2]), SMALL_HORIZON, small=True)
        report = run_sweep(specs, META, sys.argv[1], executor="processes",
                           workers=int(sys.argv[3]), progress=False)
        hwm = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
        print(json.dumps({
            "ok": report.n_ok, "failed": report.n_failed, "seconds": report.elapsed,
            "sweep_mb": int(hwm) / 1024,
        }))
"""


STARTUP_SCRIPT = """
    import json, sys, time
    from kctsim.experiment.executors import make_executor

    if __name__ == "__main__":
        times = {}
        for kind in sys.argv[2:]:
            start = time.perf_counter()
            with make_executor(kind, int(sys.argv[1])) as executor:
                for future in [executor.submit(abs, -i) for i in range(2 * int(sys.argv[1]))]:
                    future.result()
                times[kind] = time.perf_counter() - start
        print(json.dumps(times))
"""


def startup_seconds(workers: int, kinds: list[str]) -> dict[str, float]:
    """Seconds to start each executor in a fresh interpreter and run a trivial task per worker."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STARTUP_SCRIPT), str(workers), *kinds],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tree_memory_mb(pid: int) -> dict[int, tuple[float, float]]:
    """RSS and PSS in MB of process ``pid`` and its descendants, by pid."""
    import psutil

    sizes = {}
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            sizes[proc.pid] = (info.rss / 2**20, info.pss / 2**20)
    except psutil.NoSuchProcess:
        pass
    return sizes


def memory_sweep(n: int, workers: int, out: Path) -> dict[str, float]:
    """Run ``n`` small runs in a child process; peak memory figures in MB."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(MEMORY_SCRIPT), str(out), str(n), str(workers)]
        + [str(Path(__file__).resolve().parent)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    peak_pss = [0.0]
    peak_rss: dict[int, float] = {}
    try:
        import psutil  # noqa: F401 - optional: only for the workers and the summed PSS

        def sample() -> None:
            while proc.poll() is None:
                sizes = _tree_memory_mb(proc.pid)
                peak_pss[0] = max(peak_pss[0], sum(pss for _, pss in sizes.values()))
                for child, (rss, _) in sizes.items():
                    peak_rss[child] = max(peak_rss.get(child, 0.0), rss)
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    except ImportError:
        sampler = None
    out_text, _ = proc.communicate()
    if sampler is not None:
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"memory sweep failed with exit code {proc.returncode}")
    result = json.loads(out_text.strip().splitlines()[-1])
    peak_rss.pop(proc.pid, None)  # the rest: fork server, workers, resource tracker
    result["worker_mb"] = max(peak_rss.values(), default=float("nan"))
    result["tree_pss_mb"] = peak_pss[0] if sampler is not None else float("nan")
    return result


GOAL_RUNS = 200
"""The timing goals are set for sweeps of at least this many default runs: on
fewer, the fixed start-up of a pool or cluster (1-3 s) weighs too much."""


def verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: f"(goal: >= {GOAL_RUNS} runs)"}[ok]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 default runs, 2,000 small")
    parser.add_argument("--runs", type=int, help="default runs for (a) and (b) (default 200)")
    parser.add_argument("--horizon", type=int, default=80, help="ticks of a default run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-runs", type=int, help="small runs for (c) (default 10,000)")
    parser.add_argument(
        "--repeats", type=int, help="timings per executor, best kept (default 2; 1 with --quick)"
    )
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    runs = args.runs or (40 if args.quick else 200)
    memory_runs = args.memory_runs or (2000 if args.quick else 10_000)
    workers = args.workers
    repeats = args.repeats or (1 if args.quick else 2)
    identical = True

    print(
        f"bench_sweep: {runs} default runs (horizon {args.horizon}), {workers} workers, "
        f"{os.cpu_count()} cores; Python {sys.version.split()[0]}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="kctsim-bench-"))
    results: list[tuple[str, str, bool | None]] = []
    print(
        f"  each time: one run_sweep call in a fresh interpreter, pool or cluster start-up "
        f"and writing included; best of {repeats}"
    )
    try:
        kinds = ["sequential", "processes"] + ([] if args.skip_dask else ["dask"])
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for repeat in range(repeats):  # interleaved, so a busy spell hits every executor
            print(f"  repeat {repeat + 1} of {repeats}:")
            for kind in kinds:
                out = tmp / f"{kind}-{repeat}"
                times[kind].append(timed_sweep(out, kind, workers, runs, args.horizon))
                if repeat or kind == "sequential":
                    continue
                same = same_runs(tmp / "sequential-0", out)
                print(f"  identical runs tables, sequential vs {kind}: {same}")
                identical &= same
            for kind in kinds:
                shutil.rmtree(tmp / f"{kind}-{repeat}", ignore_errors=True)  # ledgers take room
        best = {kind: min(seconds) for kind, seconds in times.items()}
        efficiency = best["sequential"] / (workers * best["processes"])
        results.append(
            (
                f"(a) parallel efficiency T_seq/({workers} x T_proc) = {efficiency:.3f}",
                "goal >= 0.85",
                efficiency >= 0.85 and identical if runs >= GOAL_RUNS else None,
            )
        )
        if "dask" in best:
            ratio = best["dask"] / best["processes"]
            results.append(
                (
                    f"(b) Dask LocalCluster / process pool = {ratio:.3f}",
                    "goal <= 1.2",
                    ratio <= 1.2 and identical if runs >= GOAL_RUNS else None,
                )
            )
        startup = startup_seconds(workers, kinds[1:])
        print(
            "  start-up (fresh interpreter, included in the times above): "
            + ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in startup.items())
        )
        if not args.skip_memory:
            print(f"  memory: {memory_runs} small runs on {workers} processes ...", flush=True)
            mem = memory_sweep(memory_runs, workers, tmp / "memory")
            total = mem["tree_pss_mb"]
            if total != total:  # no psutil: only the sweep process is known
                total = mem["sweep_mb"]
            print(
                f"  {mem['ok']} ok, {mem['failed']} failed in {mem['seconds']:.0f} s; "
                f"peak RSS: sweep process {mem['sweep_mb']:.0f} MB, largest other process "
                f"(fork server or worker) {mem['worker_mb']:.0f} MB; peak PSS of the tree "
                f"{mem['tree_pss_mb']:.0f} MB"
            )
            results.append(
                (
                    f"(c) peak memory of a {memory_runs:,}-run sweep = {total:.0f} MB total "
                    f"(sweep process {mem['sweep_mb']:.0f} MB)",
                    "goal < 500 MB",
                    total < 500 and mem["ok"] == memory_runs,
                )
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    for figure, goal, ok in results:
        print(f"{figure:<72} {goal:<14} {verdict(ok)}")
    if not identical:
        print("the executors stored different runs tables")
    return 0 if identical and all(ok is not False for _, _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
