"""Sweeps over executors: determinism, failure isolation, bounded memory (kctsim sweep)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kctsim.config import load_regime, load_technology
from kctsim.experiment.runner import TASKS_PER_WORKER, SweepAbortedError, run_sweep
from kctsim.experiment.spec import RunSpec
from kctsim.experiment.store import (
    TIMING_COLUMNS,
    load_results,
    long_metrics,
    metrics_wide,
    read_log,
)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

TINY = {
    "n_leader_firms": 1,
    "n_smes": 2,
    "n_state_orgs": 1,
    "n_universities": 1,
    "n_scientists": 5,
    "n_users": 5,
}
META = {
    "name": "tiny",
    "hash": "sha256:tiny-test-scenario",
    "text": "# a test scenario\n[design]\nreplicates = 4\n",
    "seed": 2024,
    "design": {"kind": "grid", "factors": {"cost_scale": [150.0, 300.0]}},
}


def tiny_specs(
    n: int = 12,
    horizon: int = 3,
    fail: tuple[int, ...] = (),
    technologies: tuple[str, ...] = ("key_generic",),
    seed: int = 2024,
) -> list[RunSpec]:
    """``n`` small runs; runs in ``fail`` get an invalid cost scale, so the model raises."""
    levers = load_regime("spiral")
    techs = [load_technology(t) for t in technologies]
    children = np.random.SeedSequence(seed).spawn(n)
    specs = []
    for i, child in enumerate(children):
        tech = techs[i % len(techs)]
        cost = -1.0 if i in fail else (150.0, 300.0)[(i // len(techs)) % 2]
        specs.append(
            RunSpec(
                run_id=i,
                technology=tech.name,
                regime="spiral",
                point=i % (2 * len(techs)),
                replicate=i // (2 * len(techs)),
                tech_spec=tech,
                levers=levers,
                overrides={"horizon": horizon, "cost_scale": cost, **TINY},
                factors={"cost_scale": cost},
                seed_entropy=child.entropy,
                spawn_key=tuple(child.spawn_key),
            )
        )
    return specs


def without_timing(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {
        name: frame.drop(columns=[c for c in TIMING_COLUMNS if c in frame])
        for name, frame in tables.items()
    }


def assert_same_tables(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    left, right = without_timing(left), without_timing(right)
    assert left.keys() == right.keys()
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)


def run_script(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (own process group, killed whole on timeout)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"script timed out after {timeout} s\n{err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# Mixed technologies (1 and 3 stages: different summary columns) plus a failing
# run, in small parts, so the order in which runs finish changes the part files.
MIXED = {"n": 12, "fail": (5,), "technologies": ("key_generic", "major_strategic")}


@pytest.fixture(scope="module")
def sequential_tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("sweep") / "sequential"
    report = run_sweep(
        tiny_specs(**MIXED), META, out, executor="sequential", progress=False, part_runs=3
    )
    assert report.status == "complete"
    return load_results(out)


# --------------------------------------------------------------- determinism


def test_process_pool_gives_the_same_tables_as_sequential(sequential_tables, tmp_path):
    report = run_sweep(
        tiny_specs(**MIXED),
        META,
        tmp_path / "out",
        executor="processes",
        workers=2,
        progress=False,
        part_runs=3,
    )
    assert (report.workers, report.n_ok, report.n_failed) == (2, 11, 1)
    assert_same_tables(sequential_tables, load_results(tmp_path / "out"))


def test_dask_local_cluster_end_to_end_gives_the_same_tables(sequential_tables, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    # In its own interpreter with a hard timeout: a stuck cluster fails the test, not the suite.
    done = run_script(
        """
        import json, sys
        from test_runner import META, MIXED, tiny_specs
        from kctsim.experiment.runner import run_sweep
        report = run_sweep(tiny_specs(**MIXED), META, sys.argv[1], executor="dask",
                           workers=2, progress=False, part_runs=3)
        print(json.dumps({"workers": report.workers, "ok": report.n_ok,
                          "failed": report.n_failed, "status": report.status}))
        """,
        str(out),
        timeout=180,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "workers": 2,
        "ok": 11,
        "failed": 1,
        "status": "complete",
    }
    assert read_log(out)[0]["executor"] == "dask"
    assert_same_tables(sequential_tables, load_results(out))


def test_tables_do_not_depend_on_part_size(sequential_tables, tmp_path):
    run_sweep(tiny_specs(**MIXED), META, tmp_path / "out", executor="sequential", progress=False)
    assert_same_tables(sequential_tables, load_results(tmp_path / "out"))


# ------------------------------------------------------------- what is stored


def test_runs_table_has_labels_factors_seed_status_and_summary(sequential_tables):
    runs = sequential_tables["runs"]
    specs = tiny_specs(**MIXED)
    assert runs["run_id"].tolist() == list(range(len(specs)))
    assert list(runs.columns[:6]) == [
        "run_id",
        "technology",
        "regime",
        "point",
        "replicate",
        "factor.cost_scale",
    ]
    assert runs["seed_entropy"].tolist() == [str(s.seed_entropy) for s in specs]
    assert runs["spawn_key"].tolist() == [",".join(map(str, s.spawn_key)) for s in specs]
    assert runs["factor.cost_scale"].tolist() == [s.factors["cost_scale"] for s in specs]
    assert set(runs["status"]) == {"ok", "failed"}
    assert {"p_breakthrough", "lead", "stage_progress_3", "flow_grant"} <= set(runs.columns)


def test_metrics_are_long_and_widen_back_to_the_run_metrics(tmp_path):
    spec = tiny_specs(n=1)[0]
    wide = spec.execute().metrics
    run_sweep([spec], META, tmp_path / "out", executor="sequential", progress=False)
    long = load_results(tmp_path / "out")["metrics"]
    assert list(long.columns) == ["run_id", "tick", "metric", "value"]
    assert len(long) == len(wide) * (len(wide.columns) - 1)
    back = metrics_wide(long)
    assert list(back.columns) == ["run_id", *wide.columns]
    expected = wide.astype(float).assign(tick=wide["tick"].astype("int64"))
    pd.testing.assert_frame_equal(
        back.drop(columns="run_id"), expected, check_dtype=False, check_names=False
    )


def test_long_metrics_of_an_empty_run_is_empty():
    empty = np.zeros(0, dtype=np.int64)
    frame = long_metrics({"run_id": empty, "tick": empty})
    assert frame.empty and list(frame.columns) == ["run_id", "tick", "metric", "value"]


# --------------------------------------------------------- failure isolation


def test_failing_run_is_recorded_with_its_traceback_and_the_sweep_goes_on(tmp_path):
    report = run_sweep(
        tiny_specs(n=6, fail=(2,)), META, tmp_path / "out", executor="sequential", progress=False
    )
    assert (report.n_ok, report.n_failed, report.status) == (5, 1, "complete")
    assert report.failed[0][0] == 2 and "ConfigError" in report.failed[0][1]
    assert "run 2 failed" in report.summary()
    tables = load_results(tmp_path / "out")
    runs = tables["runs"].set_index("run_id")
    assert runs.loc[2, "status"] == "failed"
    assert "Traceback" in runs.loc[2, "error"] and "cost_scale" in runs.loc[2, "error"]
    assert runs.drop(index=2)["status"].eq("ok").all()
    assert runs.drop(index=2)["error"].isna().all()
    assert pd.isna(runs.loc[2, "p_breakthrough"])
    assert 2 not in set(tables["metrics"]["run_id"]) and 2 not in set(tables["ledger"]["run_id"])
    parts = [e for e in read_log(tmp_path / "out") if e["event"] == "part"]
    assert [i for p in parts for i in p["failed"]] == [2]


class RaisesMidRun(RunSpec):
    """A run that fails after the model is built (e.g. a bug in a mechanism)."""

    def run(self):
        model = self.build_model()
        model.step()
        raise FloatingPointError("mechanism blew up at tick 1")


def test_run_raising_mid_run_is_isolated_on_a_process_pool(tmp_path):
    specs = tiny_specs(n=4)
    bad = specs[1]
    specs[1] = RaisesMidRun(**{f: getattr(bad, f) for f in bad.__dataclass_fields__})
    report = run_sweep(specs, META, tmp_path / "out", workers=2, progress=False)
    assert (report.n_ok, report.n_failed) == (3, 1)
    runs = load_results(tmp_path / "out")["runs"]
    assert runs["status"].tolist() == ["ok", "failed", "ok", "ok"]
    assert "FloatingPointError: mechanism blew up" in runs["error"][1]


class KillsItsWorker(RunSpec):
    """A run that takes its worker process down (as a segfault or the OOM killer would)."""

    def run(self):
        os._exit(3)


def test_dead_worker_aborts_the_sweep_and_resume_finishes_it(tmp_path):
    specs = tiny_specs(n=10)
    bad = specs[9]
    killer = KillsItsWorker(**{f: getattr(bad, f) for f in bad.__dataclass_fields__})
    out = tmp_path / "out"
    with pytest.raises(SweepAbortedError, match="--resume"):
        run_sweep([*specs[:9], killer], META, out, workers=2, progress=False, part_runs=2)
    assert read_log(out)[-1]["status"] == "aborted"
    report = run_sweep(specs, META, out, executor="sequential", resume=True, progress=False)
    assert report.status == "complete" and report.n_skipped + report.n_ok == 10
    assert load_results(out)["runs"]["run_id"].tolist() == list(range(10))


# ------------------------------------------------------------ bounded memory


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that records how many submitted tasks were unfinished at once."""

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=workers)
        self.outstanding = 0
        self.most = 0
        self._count_lock = threading.Lock()

    def submit(self, fn, /, *args: Any, **kwargs: Any):
        with self._count_lock:
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future) -> None:
        with self._count_lock:
            self.outstanding -= 1


def test_tasks_in_flight_stay_within_two_per_worker(tmp_path):
    with CountingExecutor(workers=2) as executor:
        report = run_sweep(
            tiny_specs(n=30, horizon=1), META, tmp_path / "out", executor=executor, batch=2
        )
    assert report.n_ok == 30
    assert 2 < executor.most <= TASKS_PER_WORKER * 2


MEMORY_SCRIPT = """
    import json, sys
    from kctsim.experiment.runner import run_sweep
    from kctsim.experiment.spec import RunSpec
    from test_runner import META, TINY, tiny_specs

    # One real tiny run, replayed: the parent's side of the sweep (payloads,
    # buffer, part files, progress) is what could grow with the number of runs.
    RESULTS = tiny_specs(n=1, horizon=1)[0].execute_arrays()

    class Replay(RunSpec):
        def execute_arrays(self):
            return RESULTS

    n = int(sys.argv[2])
    base = tiny_specs(n=n, horizon=1)
    specs = [Replay(**{f: getattr(s, f) for f in s.__dataclass_fields__}) for s in base]
    report = run_sweep(specs, META, sys.argv[1], executor="sequential", progress=True)
    # VmHWM, the peak RSS of this process image: ru_maxrss would report the test
    # process's own peak if that is larger (Linux carries it across exec).
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    print(json.dumps({"ok": report.n_ok, "peak_mb": int(status.split()[0]) / 1024}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_memory_stays_bounded_over_thousands_of_runs(tmp_path):
    peaks = {}
    for n in (150, 2000):
        done = run_script(MEMORY_SCRIPT, str(tmp_path / f"out{n}"), str(n), timeout=120)
        result = json.loads(done.stdout.splitlines()[-1])
        assert result["ok"] == n
        peaks[n] = result["peak_mb"]
    assert peaks[2000] < 500, peaks  # the bound a 10,000-run sweep must keep (issue 14)
    # 13x the runs, barely more memory: nothing is kept per run (keeping every
    # payload would add about 60 MB).
    assert peaks[2000] - peaks[150] < 25, peaks
    runs = load_results(tmp_path / "out2000")["runs"]
    assert runs["run_id"].is_unique and len(runs) == 2000


def test_a_bad_executor_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="unknown kind 'dsak'"):
        run_sweep(tiny_specs(n=2), META, tmp_path / "out", executor="dsak")
    with pytest.raises(ValueError, match="workers: need at least 1"):
        run_sweep(tiny_specs(n=2), META, tmp_path / "out", workers=0)
    assert not (tmp_path / "out").exists()
