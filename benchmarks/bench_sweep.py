"""Sweep benchmark: throughput against the bare model, parallel efficiency, Dask, bytes
per run, and the memory of writing and reading a 10,000-run sweep (issue 14).

Prints, in one run:

(a) bare model: runs/s of ``RunSpec.run`` in a loop (kernels loaded, nothing stored);
(b) ``run_sweep`` runs/s on 1 worker (sequential, kernels loaded) and on 1 and 2
    workers of the process pool and of a Dask LocalCluster (pool or cluster start-up
    included: what a user waits for), each with the peak RSS of the main process;
    goals: sequential >= 0.8 x bare; efficiency T_sequential / (2 x T_processes,2) >= 0.85;
    Dask (2) / processes (2) <= 1.2; every executor stores the same part files (SHA-256);
(c) bytes per run on disk for each ``[output]`` choice; goal: default <= 20 KB a run;
(d) a sweep of ``--big-runs`` (10,000) default runs on the process pool: wall time
    and peak RSS of the main process (goal < 500 MB);
(e) on that directory: peak RSS and time of ``load_results`` (every table), and of the
    per-regime mean of a summary metric through ``open_results`` (goal < 500 MB, < 10 s).

The design is the issue's: 3 technology types x 2 regimes x R replicates, 80 quarters,
default populations. Each measurement runs in a fresh interpreter (imports not timed);
peak RSS is that interpreter's ``VmHWM``. The machine is shared: the load average is
printed with each figure.

Run from the repository root:
    .venv/bin/python benchmarks/bench_sweep.py            # 1,000-run sweeps, 10,000-run directory
    .venv/bin/python benchmarks/bench_sweep.py --quick    # 240-run sweeps, 2,000-run directory
    # options: --runs N  --big-runs N  --workers N  --skip-dask  --skip-big  --skip-sizes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = """
name = "bench"
technologies = ["key_generic", "cutting_edge", "major_strategic"]
regimes = ["spiral", "jungle"]
horizon = 80
replicates = {replicates}
seed = 2024
{output}
"""
OUTPUTS = {
    "default (flows)": "",
    "ledger = full": '[output]\nledger = "full"',
    "metrics every 4th tick": "[output]\nmetrics_every = 4",
    "runs table only": '[output]\nmetrics = "none"\nledger = "none"\nspillover = false',
}


# ------------------------------------------------------------ child processes


def _scenario(path: str):
    from kctsim.experiment.scenario import load_scenario

    return load_scenario(path)


def _peak_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def child(mode: str, args: list[str]) -> dict:
    """One measurement in this (fresh) interpreter; returns what is printed as JSON."""
    if mode == "bare":
        from kctsim.model import compile_kernels

        compile_kernels()
        specs = _scenario(args[0]).runs()
        specs[0].run()  # first model built: warm caches, as a sweep's first run
        start = time.perf_counter()
        for spec in specs:
            spec.run()
        return {"seconds": time.perf_counter() - start, "runs": len(specs)}
    if mode == "sweep":
        from kctsim.experiment.runner import run_sweep

        path, out, executor, workers = args
        scenario = _scenario(path)
        specs, meta = scenario.runs(), scenario.meta()
        if executor == "sequential":
            from kctsim.model import compile_kernels

            compile_kernels()  # as for the bare model: the runs, not the kernels' loading
        start = time.perf_counter()
        report = run_sweep(
            specs, meta, out, executor=executor, workers=int(workers), progress=False
        )
        seconds = time.perf_counter() - start
        assert report.status == "complete" and report.n_failed == 0, report.summary()
        return {"seconds": seconds, "runs": len(specs), "peak_mb": _peak_mb()}
    if mode == "load":
        from kctsim import load_results

        start = time.perf_counter()
        tables = load_results(args[0])
        rows = {name: len(frame) for name, frame in tables.items()}
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "rows": rows}
    if mode == "open":
        from kctsim import open_results

        start = time.perf_counter()
        with open_results(args[0]) as res:
            means = res.sql(
                "SELECT regime, avg(p_breakthrough) AS mean, count(*) AS n FROM runs "
                "WHERE status = 'ok' GROUP BY regime ORDER BY regime"
            )
        return {
            "seconds": time.perf_counter() - start,
            "peak_mb": _peak_mb(),
            "means": means.to_dict("list"),
        }
    raise ValueError(mode)


def run_child(mode: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------- helpers


def write_scenario(folder: Path, runs: int, output: str = "") -> Path:
    path = folder / f"bench-{runs}-{abs(hash(output))}.toml"
    path.write_text(SCENARIO.format(replicates=max(1, runs // 6), output=output))
    return path


def part_digests(out: Path) -> dict[str, str]:
    from kctsim.experiment.store import committed_parts

    return {f["path"]: f["sha256"] for p in committed_parts(out).values() for f in p["files"]}


def steady_rate(out: Path) -> float:
    """Runs per second from the first committed part set to the last (start-up left out)."""
    from datetime import datetime

    from kctsim.experiment.store import read_log

    parts = [e for e in read_log(out) if e["event"] == "part"]
    times = [datetime.fromisoformat(e["time"]).timestamp() for e in parts]
    runs = sum(len(e["run_ids"]) for e in parts[1:])
    return runs / (times[-1] - times[0]) if len(parts) > 1 else float("nan")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--big-runs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1:])))
        return
    if args.quick:
        args.runs, args.big_runs = 240, 2000
    work = Path(tempfile.mkdtemp(prefix="bench_sweep."))
    try:
        bench(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench(args: argparse.Namespace, work: Path) -> None:
    scenario = write_scenario(work, args.runs)
    n = max(1, args.runs // 6) * 6
    w = args.workers
    print(f"design: 3 types x 2 regimes x {n // 6} replicates, 80 quarters = {n} runs")

    bare = run_child("bare", str(scenario))
    bare_rate = bare["runs"] / bare["seconds"]
    print(
        f"(a) bare model        {bare_rate:7.1f} runs/s  "
        f"({1000 / bare_rate:.1f} ms a run; {load()})"
    )

    print("(b) run_sweep")
    kinds = [("sequential", 1), ("processes", 1), ("processes", w)]
    if not args.skip_dask:
        kinds += [("dask", 1), ("dask", w)]
    times, digests, steady = {}, {}, {}
    for executor, workers in kinds:
        out = work / f"{executor}-{workers}"
        result = run_child("sweep", str(scenario), str(out), executor, str(workers))
        times[(executor, workers)] = result["seconds"]
        digests[(executor, workers)] = part_digests(out)
        steady[(executor, workers)] = steady_rate(out)
        rate = result["runs"] / result["seconds"]
        print(
            f"    {executor:<10} {workers} worker(s) {rate:7.1f} runs/s, "
            f"{steady[(executor, workers)]:5.1f} after start-up "
            f"({result['seconds']:.1f} s; main process peak {result['peak_mb']:.0f} MB; {load()})"
        )
        if (executor, workers) != ("sequential", 1):
            shutil.rmtree(out)
    seq = times[("sequential", 1)]
    same = all(d == digests[("sequential", 1)] for d in digests.values())
    print(f"    sequential / bare model throughput  {n / seq / bare_rate:.2f}   (goal >= 0.8)")
    eff = seq / (w * times[("processes", w)])
    eff_steady = steady[("processes", w)] / (w * steady[("sequential", 1)])
    print(f"    parallel efficiency, {w} processes    {eff:.2f}   (goal >= 0.85)")
    print(f"      after start-up (status log)       {eff_steady:.2f}")
    if not args.skip_dask:
        ratio = times[("dask", w)] / times[("processes", w)]
        print(f"    Dask / process pool wall time       {ratio:.2f}   (goal <= 1.2)")
    print(f"    same part files (SHA-256) on every executor: {same}")

    print("(c) bytes per run on disk (whole sweep directory / runs)")
    for label, output in OUTPUTS.items() if not args.skip_sizes else ():
        if label == "default (flows)":
            out = work / "sequential-1"
        else:
            out = work / f"out-{abs(hash(output))}"
            run_child(
                "sweep", str(write_scenario(work, args.runs, output)), str(out), "processes", str(w)
            )
        per_run = dir_bytes(out) / n
        print(
            f"    {label:<24} {per_run / 1000:8.1f} KB"
            + ("   (goal <= 20 KB)" if not output else "")
        )
        shutil.rmtree(out)

    if args.skip_big:
        return
    big = write_scenario(work, args.big_runs)
    m = max(1, args.big_runs // 6) * 6
    out = work / "big"
    result = run_child("sweep", str(big), str(out), "processes", str(w))
    print(
        f"(d) {m}-run sweep on {w} processes: {result['seconds']:.0f} s, "
        f"main process peak {result['peak_mb']:.0f} MB (goal < 500 MB); "
        f"{dir_bytes(out) / 1e6:.0f} MB on disk; {load()}"
    )
    opened = run_child("open", str(out))
    print(
        f"(e) open_results, per-regime mean p_breakthrough: {opened['seconds']:.2f} s, "
        f"peak {opened['peak_mb']:.0f} MB (goal < 500 MB, < 10 s): {opened['means']}"
    )
    loaded = run_child("load", str(out))
    print(
        f"    load_results, every table: {loaded['seconds']:.1f} s, "
        f"peak {loaded['peak_mb']:.0f} MB (rows {loaded['rows']})"
    )


if __name__ == "__main__":
    main()
