"""The on-disk sweep: committed parts, refusals, manifest, export (kctsim.experiment.store)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_runner import META, assert_same_tables, tiny_specs

from kctsim.experiment.runner import run_one, run_sweep
from kctsim.experiment.store import (
    MANIFEST,
    STATUS_LOG,
    SweepExistsError,
    SweepLockedError,
    SweepStore,
    committed_parts,
    export_csv,
    load_results,
    read_log,
    read_manifest,
    sweep_status,
)

N = 6


@pytest.fixture(scope="module")
def specs():
    return tiny_specs(n=N, horizon=1, fail=(4,))


@pytest.fixture(scope="module")
def payloads(specs):
    return [run_one(s) for s in specs]


def open_store(out, specs, meta=META, **kwargs) -> SweepStore:
    seeds = [
        {"run_id": s.run_id, "seed_entropy": s.seed_entropy, "spawn_key": s.spawn_key}
        for s in specs
    ]
    return SweepStore.open(out, meta, seeds, factors=["cost_scale"], **kwargs)


def crash(store: SweepStore) -> None:
    """Leave the store as a killed process would: no flush, no end line (lock released)."""
    store._unlock()


# ---------------------------------------------------------- committed parts


def test_part_files_count_only_once_their_runs_are_logged(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs, part_runs=2)
    for p in payloads[:3]:
        store.add(p)
    assert sorted(store.committed) == [0, 1]  # run 2 is still buffered
    parts = committed_parts(tmp_path)
    assert list(parts) == [0] and parts[0]["run_ids"] == [0, 1]
    for table in ("runs", "metrics", "ledger", "spillover"):
        assert (tmp_path / table / "part-00000.parquet").exists()
        # A part file that no log line commits (a crash before the log line) is never read.
        (tmp_path / table / "part-00007.parquet").write_bytes(
            (tmp_path / table / "part-00000.parquet").read_bytes()
        )
    assert load_results(tmp_path)["runs"]["run_id"].tolist() == [0, 1]
    store.close()  # run 2's block is incomplete: not written, a resume runs it again
    assert load_results(tmp_path)["runs"]["run_id"].tolist() == [0, 1]
    assert read_manifest(tmp_path)["status"] == "incomplete"


def test_resume_removes_uncommitted_parts_and_temporary_files(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs, part_runs=2)
    for p in payloads[:2]:
        store.add(p)
    crash(store)
    orphan = tmp_path / "runs" / "part-00001.parquet"
    orphan.write_bytes((tmp_path / "runs" / "part-00000.parquet").read_bytes())
    (tmp_path / "metrics" / ".part-00001.parquet.123.tmp").write_bytes(b"PAR1 half")
    store = open_store(tmp_path, specs, resume=True)
    assert store.resumed and store.committed == {0, 1}
    assert sorted(store.removed) == [
        "metrics/.part-00001.parquet.123.tmp",
        "runs/part-00001.parquet",
    ]
    assert not orphan.exists()
    assert store.missing(range(N)) == [2, 3, 4, 5]
    store.close()


def test_torn_status_log_line_is_cut_and_commits_nothing(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs, part_runs=2)
    for p in payloads[:4]:
        store.add(p)
    crash(store)
    log = tmp_path / STATUS_LOG
    data = log.read_bytes()
    log.write_bytes(data[: len(data) - 30])  # the second part line, cut short by a crash
    assert [e["event"] for e in read_log(tmp_path)] == ["start", "part"]
    store = open_store(tmp_path, specs, resume=True)
    assert store.committed == {0, 1}
    store.close()
    assert all(json.loads(line) for line in log.read_text().splitlines())


def test_a_run_delivered_twice_is_committed_once(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs, part_runs=2)
    store.add(payloads[0])
    with pytest.warns(UserWarning, match="run 0 delivered twice"):
        store.add(payloads[0])
    store.add(payloads[1])
    with pytest.warns(UserWarning, match="run 1 delivered twice"):
        store.add(payloads[1])  # already committed
    store.close()
    assert load_results(tmp_path)["runs"]["run_id"].tolist() == [0, 1]


def test_a_part_holds_a_fixed_block_of_runs_whatever_the_order_they_finish(
    tmp_path, specs, payloads
):
    for name, order in (
        ("forward", payloads),
        ("shuffled", [payloads[i] for i in (5, 2, 0, 4, 1, 3)]),
    ):
        store = open_store(tmp_path / name, specs, part_runs=4)
        for p in order:
            store.add(p)
        store.close()
    forward, shuffled = (committed_parts(tmp_path / d) for d in ("forward", "shuffled"))
    assert [p["run_ids"] for p in forward.values()] == [p["run_ids"] for p in shuffled.values()]
    assert [p["run_ids"] for p in forward.values()] == [[0, 1, 2, 3], [4, 5]]
    for table in ("runs", "metrics", "ledger", "spillover"):
        for part in ("part-00000.parquet", "part-00001.parquet"):
            assert (tmp_path / "forward" / table / part).read_bytes() == (
                tmp_path / "shuffled" / table / part
            ).read_bytes()


# ----------------------------------------------------------------- refusals


def test_refuses_a_directory_holding_a_different_sweep(tmp_path, specs, payloads):
    open_store(tmp_path, specs).close()
    other = {**META, "name": "other", "hash": "sha256:another-scenario"}
    for meta, runs in ((other, specs), ({**META, "seed": 1}, specs), (META, specs[:3])):
        for resume in (False, True):
            with pytest.raises(SweepExistsError, match="holds a different sweep") as info:
                open_store(tmp_path, runs, meta=meta, resume=resume)
            assert "scenario 'tiny'" in str(info.value)
            assert "choose another --out or remove it" in str(info.value)


def test_refuses_to_start_again_over_the_same_sweep_without_resume(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs, part_runs=2)
    for p in payloads[:2]:
        store.add(p)
    store.close()
    with pytest.raises(SweepExistsError, match=r"partial sweep .*2 of 6 .*--resume"):
        open_store(tmp_path, specs)
    store = open_store(tmp_path, specs, resume=True)
    for p in payloads[2:]:
        store.add(p)
    store.close()
    with pytest.raises(SweepExistsError, match=r"complete sweep .*6 of 6"):
        open_store(tmp_path, specs)


def test_refuses_a_directory_of_other_files_and_leaves_it_untouched(tmp_path, specs):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SweepExistsError, match="holds no kctsim sweep"):
        open_store(tmp_path, specs, resume=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(NotADirectoryError):
        open_store(tmp_path / "notes.txt", specs)


def test_a_second_writer_is_locked_out(tmp_path, specs):
    store = open_store(tmp_path, specs)
    with pytest.raises(SweepLockedError, match="another kctsim process"):
        open_store(tmp_path, specs, resume=True)
    store.close()
    open_store(tmp_path, specs, resume=True).close()


def test_resuming_a_complete_sweep_runs_nothing(tmp_path, specs):
    first = run_sweep(specs, META, tmp_path, executor="sequential", progress=False)
    again = run_sweep(specs, META, tmp_path, executor="sequential", resume=True, progress=False)
    assert (first.n_ok, first.n_failed) == (N - 1, 1)
    assert (again.n_skipped, again.n_ok, again.n_failed, again.status) == (N, 0, 0, "complete")
    assert "6 runs were already done" in again.summary()


def test_resume_into_an_empty_directory_starts_the_sweep(tmp_path, specs):
    report = run_sweep(specs, META, tmp_path / "new", "sequential", resume=True, progress=False)
    assert report.status == "complete" and not report.resumed


# ------------------------------------------------------- manifest and output


def test_manifest_records_scenario_seeds_versions_and_times(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs)
    running = read_manifest(tmp_path)
    assert running["status"] == "running" and running["ended"] is None
    for p in payloads:
        store.add(p)
    store.close()
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["scenario"] == {k: META[k] for k in ("name", "hash", "text")}
    assert manifest["seed"] == META["seed"] and manifest["design"] == META["design"]
    assert manifest["n_runs"] == N and manifest["factors"] == ["cost_scale"]
    assert manifest["runs"][3] == {
        "run_id": 3,
        "seed_entropy": str(specs[3].seed_entropy),
        "spawn_key": list(specs[3].spawn_key),
    }
    assert set(manifest["versions"]) >= {"kctsim", "mesa", "numpy", "pandas", "python"}
    assert manifest["git_commit"] is None or len(manifest["git_commit"]) == 40
    assert manifest["platform"] and manifest["started"] <= manifest["ended"]
    assert (manifest["status"], manifest["committed"], manifest["failed"]) == ("complete", N, 1)


def test_sweep_status_reports_committed_failed_and_missing(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs, part_runs=5)
    for p in payloads[:5]:
        store.add(p)
    crash(store)
    status = sweep_status(tmp_path)
    assert (status["n_runs"], status["committed"]) == (N, 5)
    assert status["failed"] == [4] and status["missing"] == [5]


def test_export_csv_writes_copies_of_every_table(tmp_path, specs, payloads):
    store = open_store(tmp_path, specs)
    for p in payloads:
        store.add(p)
    store.close()
    paths = export_csv(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "csv/runs.csv",
        "csv/metrics.csv",
        "csv/ledger.csv",
        "csv/spillover.csv",
    ]
    tables = load_results(tmp_path)
    for path in paths:
        copy = pd.read_csv(path)
        assert list(copy.columns) == list(tables[path.stem].columns)
        assert len(copy) == len(tables[path.stem])


def test_results_do_not_depend_on_the_order_runs_finished(tmp_path, specs, payloads):
    for name, order in (("forward", payloads), ("backward", payloads[::-1])):
        store = open_store(tmp_path / name, specs, part_runs=4)
        for p in order:
            store.add(p)
        store.close()
    assert_same_tables(load_results(tmp_path / "forward"), load_results(tmp_path / "backward"))


def test_an_empty_sweep_directory_loads_as_empty_tables(tmp_path, specs):
    open_store(tmp_path, specs).close()
    tables = load_results(tmp_path)
    assert all(frame.empty for frame in tables.values())
    assert list(tables["metrics"].columns) == ["run_id", "tick", "metric", "value"]
