"""A sweep on a real Dask cluster: `dask scheduler` and two `dask worker` processes on
loopback, as on other machines; the same part files as sequential, also when a worker
is killed mid-sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_runner import META, ROOT, TESTS, tiny_specs

from kctsim.experiment.runner import run_sweep
from kctsim.experiment.store import committed_parts, read_log

pytest.importorskip("distributed")
DASK = Path(sys.executable).with_name("dask")
SPECS = {"n": 40, "horizon": 12, "technologies": ("key_generic", "major_strategic")}
PART_RUNS = 4


def part_digests(out: Path) -> dict[str, str]:
    return {f["path"]: f["sha256"] for p in committed_parts(out).values() for f in p["files"]}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("sequential") / "out"
    run_sweep(tiny_specs(**SPECS), META, out, "sequential", progress=False, part_runs=PART_RUNS)
    return part_digests(out)


class Cluster:
    """A scheduler and workers started from the `dask` command line, on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
        info = folder / "scheduler.json"
        self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(info)],
        )
        deadline = time.monotonic() + 60
        while not info.exists():
            assert time.monotonic() < deadline, self.logs()
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but give it a moment
        import json

        self.address = json.loads(info.read_text())["address"]

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            [str(DASK), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def add_worker(self, name: str) -> None:
        self._start(
            name,
            ["worker", self.address, "--host", "127.0.0.1", "--nworkers", "1"]
            + ["--nthreads", "1", "--no-dashboard", "--name", name]
            + ["--preload", "kctsim.experiment.warm"],
        )

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=90)

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)  # the worker and its nanny, kill -9
        self.procs[name].wait()

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-1500:] for p in sorted(self.folder.glob("*.log")))


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        cluster.add_worker("w1")
        cluster.add_worker("w2")
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()


def test_sweep_on_a_dask_cluster_stores_the_sequential_bytes(cluster, sequential, tmp_path):
    out = tmp_path / "out"
    report = run_sweep(
        tiny_specs(**SPECS),
        META,
        out,
        executor="dask",
        scheduler=cluster.address,
        progress=False,
        part_runs=PART_RUNS,
    )
    assert (report.status, report.n_ok, report.workers) == ("complete", SPECS["n"], 2)
    assert read_log(out)[0]["scheduler"] == cluster.address
    assert part_digests(out) == sequential


def test_a_worker_killed_mid_sweep_loses_nothing(cluster, sequential, tmp_path):
    out = tmp_path / "out"
    result: dict = {}

    def sweep() -> None:
        try:
            result["report"] = run_sweep(
                tiny_specs(**SPECS),
                META,
                out,
                executor="dask",
                scheduler=cluster.address,
                progress=False,
                part_runs=PART_RUNS,
                batch=1,
            )
        except BaseException as exc:  # reported below
            result["error"] = exc

    thread = threading.Thread(target=sweep)
    thread.start()
    deadline = time.monotonic() + 120
    while not (out.exists() and any(e["event"] == "part" for e in read_log(out))):
        assert time.monotonic() < deadline and thread.is_alive(), cluster.logs()
        time.sleep(0.01)
    cluster.kill("w1")
    at_kill = sum(e["event"] == "part" for e in read_log(out))
    thread.join(timeout=180)
    assert not thread.is_alive(), cluster.logs()
    assert "error" not in result, result.get("error")
    report = result["report"]
    assert report.status == "complete" and report.n_ok == SPECS["n"]
    assert at_kill < SPECS["n"] // PART_RUNS  # w1 died with runs of the sweep still to do
    assert part_digests(out) == sequential
