"""kill -9 at any moment, then --resume: the results equal an uninterrupted sweep's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from test_runner import META, ROOT, TESTS, assert_same_tables, tiny_specs

from kctsim.experiment.runner import run_sweep
from kctsim.experiment.store import TABLES, committed_parts, load_results, read_log

N_RUNS = 16
PART_RUNS = 2  # 8 part sets: room to be killed between them
FAIL = (5,)


def kill_specs():
    return tiny_specs(n=N_RUNS, horizon=2, fail=FAIL)


# The sweep runs on a 2-process pool in its own interpreter. ``mode`` names the
# moment to stop: the script parks there (marker file written) until it is killed.
KILL_SCRIPT = """
    import sys, time
    from pathlib import Path
    import kctsim.experiment.store as store
    from kctsim.experiment.runner import run_sweep
    from test_resume import META, PART_RUNS, kill_specs

    out, mode, marker, executor = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    what, _, nth = mode.partition(":")
    counts = {"write": 0}

    def mark(text):  # atomically: the test polls for the file and reads it at once
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(text)
        tmp.rename(marker)

    def park():
        mark(mode)
        time.sleep(600)

    real_atomic = store.files.write_atomic
    def write_atomic(path, data=b"", write=None):
        if path.suffix == ".parquet":
            counts["write"] += 1
            tmp = path.with_name(f".{path.name}.1.tmp")
            if what == "write" and counts["write"] == int(nth):
                tmp.write_bytes(data[: len(data) // 2])  # a crash mid-write
                park()
            if what == "publish" and counts["write"] == int(nth):
                tmp.write_bytes(data)  # the temporary file is complete; no rename yet
                park()
        real_atomic(path, data, write)
    store.files.write_atomic = write_atomic

    real_log = store.SweepStore._log
    def log(self, entry):
        part = entry.get("part") if entry.get("event") == "part" else None
        if what == "log" and part == int(nth):
            park()  # all three files in place, but not committed
        real_log(self, entry)
        if what == "after" and part == int(nth):
            park()  # part committed
    store.SweepStore._log = log

    real_manifest = store.write_json_atomic
    def write_manifest(path, data):
        if what == "manifest":
            tmp = path.with_name(f".{path.name}.1.tmp")
            tmp.write_text('{"format": "kctsim-sw')  # a manifest write cut short
            park()
        real_manifest(path, data)
    store.write_json_atomic = write_manifest

    run_sweep(kill_specs(), META, out, executor=executor, workers=2, progress=False,
              part_runs=PART_RUNS, resume=Path(out, "manifest.json").exists())
    mark("finished")
"""


def _group_alive(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are still running (zombies excluded)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def kill_sweep(out: Path, mode: str, workdir: Path, executor: str = "processes") -> None:
    """Start the sweep in a subprocess, SIGKILL its whole process group at ``mode``."""
    marker = workdir / f"marker-{time.monotonic_ns()}"
    stderr = workdir / f"stderr-{marker.name}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    log = out / "status.log"
    log_size = log.stat().st_size if log.exists() else 0
    with open(stderr, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(KILL_SCRIPT), str(out), mode, str(marker)]
            + [executor],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        if mode.startswith("timed:"):
            # Time from this sweep's start (or resume) line.
            while not (log.exists() and log.stat().st_size > log_size) and proc.poll() is None:
                assert time.monotonic() < deadline, "the sweep never started"
                time.sleep(0.01)
            time.sleep(float(mode.partition(":")[2]))
        else:
            while not marker.exists():
                assert proc.poll() is None, f"sweep exited early:\n{stderr.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"never reached {mode}"
                time.sleep(0.01)
            assert marker.read_text() == mode
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9 of the sweep and all its workers
        proc.wait()
    for _ in range(100):
        if not _group_alive(proc.pid):
            break
        time.sleep(0.05)
    assert not _group_alive(proc.pid), "a worker survived the kill"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("uninterrupted") / "out"
    run_sweep(kill_specs(), META, out, executor="sequential", progress=False, part_runs=PART_RUNS)
    return load_results(out)


def committed_ids(out: Path) -> list[int]:
    return sorted(i for part in committed_parts(out).values() for i in part["run_ids"])


# Each case is a chain of kills (every later one while resuming), then a last
# resume in-process. Workers are mid-run at the kill on a process pool; the
# sequential cases save the pool's start-up (the store is the same).
@pytest.mark.parametrize(
    ("kills", "executor"),
    [
        # right after the first part set is committed; then, resuming, at a random time
        (["after:0", "timed:1.2"], "processes"),
        # a temporary ledger part cut in half (its metrics part already in place);
        # then all four parts in place but no status.log line; then metrics, ledger
        # and spillover of the second new set in place, its runs part not renamed
        (["write:2", "log:1", "publish:8"], "sequential"),
        # before the sweep has a manifest; then soon after the start
        (["manifest", "timed:0.3"], "sequential"),
    ],
    ids=["pool", "mid-write", "start"],
)
def test_killed_sweep_resumes_to_the_uninterrupted_result(kills, executor, uninterrupted, tmp_path):
    out = tmp_path / "out"
    for mode in kills:
        kill_sweep(out, mode, tmp_path, executor)
        if (out / "manifest.json").exists():
            # Before resuming, readers see exactly the committed runs and nothing half-written.
            assert load_results(out)["runs"]["run_id"].tolist() == committed_ids(out)
    before = committed_ids(out) if (out / "manifest.json").exists() else []

    report = run_sweep(
        kill_specs(), META, out, executor="sequential", resume=True, progress=False, part_runs=3
    )

    assert report.status == "complete"
    assert report.n_skipped == len(before)  # only the missing runs were run
    assert report.n_ok + report.n_failed == N_RUNS - len(before)
    assert_same_tables(uninterrupted, load_results(out))
    assert committed_ids(out) == list(range(N_RUNS))  # each run committed exactly once
    on_disk = {f"{t}/{p.name}" for t in TABLES for p in (out / t).iterdir()}
    logged = {f["path"] for part in committed_parts(out).values() for f in part["files"]}
    assert on_disk == logged  # orphans and temporary files are gone
    events = [e["event"] for e in read_log(out)]
    assert events[0] == "start" and events[-1] == "end"
    assert events.count("resume") == len(kills) - (kills[0] == "manifest")
