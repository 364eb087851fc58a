"""Failures that used to end in a traceback or a silent loss, each rebuilt from the failure.

A full disk is a write that raises ENOSPC (monkeypatched), an unwritable
directory is one without write permission, Ctrl-C is a real SIGINT to a
running sweep, an unreachable scheduler is a loopback port nobody listens on.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from kctsim import cli, files
from kctsim.experiment import export as export_module
from kctsim.experiment.scenario import MAX_RUNS, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = 'name = "tiny"\ntechnologies = ["key_generic"]\nregimes = ["spiral", "jungle"]\n'
SCENARIO += "replicates = 2\nseed = 3\nhorizon = 4\n"


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SCENARIO)
    return path


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("kctsim: error: ")
    return lines[0]


def sweep(scenario: Path, out: Path, *extra: str) -> int:
    return cli.main(
        ["sweep", str(scenario), "--out", str(out), "--executor", "sequential", "--quiet", *extra]
    )


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(args[-1]) if args else None)


# ------------------------------------------------------------------- full disk


def test_a_full_disk_during_a_sweep_is_one_line_and_the_manifest_says_interrupted(
    scenario, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "sweep"
    write_atomic = files.write_atomic

    def full_for_part_files(path, *args, **kwargs):  # the manifest can still be written
        if str(path).endswith(".parquet"):
            disk_full(path)
        return write_atomic(path, *args, **kwargs)

    monkeypatch.setattr(files, "write_atomic", full_for_part_files)
    assert sweep(scenario, out) == 1
    line = one_error(capsys)
    assert "No space left on device" in line and "the disk is full" in line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert "No space left on device" in manifest["reason"]
    # Once there is space again, --resume finishes the sweep.
    monkeypatch.undo()
    assert sweep(scenario, out, "--resume") == 0
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_a_full_disk_during_export_leaves_the_earlier_export_intact(
    scenario, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "sweep"
    assert sweep(scenario, out) == 0
    assert cli.main(["export", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in (out / "csv").iterdir()}
    capsys.readouterr()
    calls = []

    def full_on_the_second_table(frame, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            disk_full(path)
        return original(frame, path, *args, **kwargs)

    original = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", full_on_the_second_table)
    assert cli.main(["export", str(out), "--wide"]) == 1
    assert "No space left on device" in one_error(capsys)
    assert {p.name: p.read_bytes() for p in (out / "csv").iterdir()} == before
    assert not list(out.glob(".*.tmp"))  # no staging folder left


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_an_unwritable_output_directory_is_one_line_and_exit_1(scenario, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert sweep(scenario, locked / "out") == 1
        assert "Permission denied" in one_error(capsys)
        assert not any(locked.iterdir())
    finally:
        locked.chmod(0o700)


def test_a_read_only_file_system_is_one_line_and_exit_1(scenario, tmp_path, capsys, monkeypatch):
    # What a read-only mount answers, for root too (root ignores a directory's mode bits).
    mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if tmp_path / "ro" in (self, *self.parents):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    for argv in (
        ["sweep", str(scenario), "--out", str(tmp_path / "ro" / "sweep"), "--quiet"],
        ["run", "--ticks", "2", "--out", str(tmp_path / "ro" / "run")],
    ):
        assert cli.main(argv) == 1
        line = one_error(capsys)
        assert "Read-only file system" in line and str(tmp_path / "ro") in line
    assert not (tmp_path / "ro").exists()


def test_an_output_path_under_a_file_is_bad_input(scenario, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for argv in (
        ["sweep", str(scenario), "--out", str(tmp_path / "file" / "out")],
        ["propositions", "--quick", "--out", str(tmp_path / "file" / "out")],
    ):
        assert cli.main(argv) == 2
        assert "is a file" in one_error(capsys)


# ------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_in_process_prints_one_line_and_exits_130(scenario, tmp_path, capsys, monkeypatch):
    import kctsim.experiment.runner as runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_sweep", interrupted)
    assert cli.main(["sweep", str(scenario), "--out", str(tmp_path / "out")]) == 130
    assert "interrupted (Ctrl-C)" in one_error(capsys)


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_ctrl_c_during_a_sweep_prints_one_line_and_records_why(tmp_path, executor):
    path = tmp_path / "long.toml"
    path.write_text(SCENARIO.replace("replicates = 2", "replicates = 400").replace("4\n", "40\n"))
    out = tmp_path / "out"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "kctsim.cli", "sweep", str(path), "--out", str(out)]
    # A session of its own: Ctrl-C at a terminal signals the whole process group.
    proc = subprocess.Popen(
        [*argv, "--executor", executor, "--workers", "2", "--quiet"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list((out / "runs").glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.2)  # until the workers are busy (the first part is committed)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.splitlines() == [err.strip()] and err.startswith("kctsim: error: interrupted")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["reason"] == "Ctrl-C"


# ------------------------------------------------------------------- scheduler


def test_an_unreachable_scheduler_is_refused_fast_and_leaves_no_directory(
    scenario, tmp_path, capsys
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    started = time.monotonic()
    code = cli.main(
        [
            "sweep",
            str(scenario),
            "--executor",
            "dask",
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
            "--out",
            str(out),
        ]  # fmt: skip
    )
    assert code == 1
    assert f"cannot connect to tcp://127.0.0.1:{port}" in one_error(capsys)
    assert time.monotonic() - started < 10  # not Dask's 30 s
    assert not out.exists()


# ------------------------------------------------------------------- limits


def test_a_design_of_1e11_runs_is_refused_before_anything_is_allocated(tmp_path):
    text = SCENARIO.replace("replicates = 2", "replicates = 1000000")
    text += (
        '[design]\nmethod = "lhs"\nsamples = 100000\nfactors.platform = { min = 0.0, max = 1.0 }\n'
    )
    started = time.monotonic()
    with pytest.raises(Exception, match=r"200,000,000,000 runs .*at most 10,000,000"):
        parse_scenario(text, "big.toml")
    assert time.monotonic() - started < 5


def test_the_run_cap_can_be_raised(tmp_path):
    text = SCENARIO.replace("replicates = 2", "replicates = 1000000")
    text += '[design]\nmethod = "grid"\nfactors.platform = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]\n'
    with pytest.raises(Exception, match="12,000,000 runs .*at most 10,000,000"):
        parse_scenario(text, "big.toml")
    assert parse_scenario(text, "big.toml", max_runs=2 * MAX_RUNS).n_runs == 12_000_000


def test_workers_above_the_cores_are_capped_with_a_note(scenario, tmp_path, capsys, monkeypatch):
    import kctsim.experiment.runner as runner

    seen = {}
    real = runner.run_sweep

    def spy(*args, **kwargs):
        seen["workers"] = kwargs["workers"]
        return real(*args, **(kwargs | {"executor": "sequential"}))

    monkeypatch.setattr(runner, "run_sweep", spy)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    argv = ["sweep", str(scenario), "--workers", "1000", "--quiet"]
    assert cli.main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert seen["workers"] == 2
    assert "--workers 1000 is more than the 2 cores" in capsys.readouterr().err
    # With --force the number stands, but never more processes than runs (4 here).
    assert cli.main([*argv, "--force", "--out", str(tmp_path / "b")]) == 0
    assert seen["workers"] == 4
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------- damaged files


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").write_text("{not json"), "is not valid JSON"),
        (lambda d: (d / "manifest.json").write_bytes(b"\xff\xfe"), "is not valid JSON"),
        (lambda d: (d / "manifest.json").write_text("[1, 2]"), "not a JSON object"),
        (
            lambda d: ((d / "manifest.json").unlink(), (d / "manifest.json").mkdir()),
            "is a directory",
        ),
        (lambda d: (d / "status.log").open("a").write("garbage\n"), "not a status entry"),
        (lambda d: (d / "status.log").open("ab").write(b"\xff\n"), "not a status entry"),
        (lambda d: (d / "status.log").open("a").write('{"event": "part"}\n'), "lacks its run ids"),
    ],
    ids=["not-json", "not-utf8", "not-object", "directory", "garbage-line", "binary-line", "part"],
)
def test_a_damaged_sweep_is_one_line_exit_2_for_resume_and_export(
    scenario, tmp_path, capsys, damage, message
):
    out = tmp_path / "sweep"
    assert sweep(scenario, out) == 0
    capsys.readouterr()
    damage(out)
    assert sweep(scenario, out, "--resume") == 2
    assert message in one_error(capsys)
    assert cli.main(["export", str(out)]) == 2
    assert message in one_error(capsys)
    assert not (out / "csv").exists()


def test_report_refuses_a_robustness_sweep_without_runs(tmp_path, capsys):
    from test_runner import tiny_specs
    from test_store import open_store

    out = tmp_path / "props"
    (out / "robustness").mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps({"format": "kctsim-propositions/1"}))
    open_store(out / "robustness" / "key_generic", tiny_specs(n=3, horizon=1)).close("interrupted")
    assert cli.main(["report", str(out)]) == 2
    line = one_error(capsys)
    assert "robustness/key_generic holds 0 of 3 runs" in line and "--resume" in line


# ------------------------------------------------------------------- scenario messages


def test_a_byte_order_mark_is_ignored(tmp_path):
    plain, bom = tmp_path / "plain.toml", tmp_path / "bom.toml"
    plain.write_text(SCENARIO)
    bom.write_bytes(b"\xef\xbb\xbf" + SCENARIO.encode())
    assert load_scenario(bom).runs() == load_scenario(plain).runs()


def test_a_scenario_chooses_its_calibration_and_records_it(tmp_path):
    (tmp_path / "fit.json").write_text(
        json.dumps({"cost_scale": 77.5, "ci_low": 70.0, "ci_high": 80.0, "warnings": []})
    )
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + '[parameters]\ncalibration = "fit.json"\n')
    scenario = load_scenario(path)
    assert {spec.overrides["cost_scale"] for spec in scenario.runs()} == {77.5}
    meta = scenario.meta()
    assert meta["calibration"]["file"] == "fit.json"
    assert meta["calibration"]["cost_scale"] == 77.5
    assert "fit.json" in meta["data_files"]


# ------------------------------------------------------------------- export


def test_export_writes_every_format_with_the_same_rows(scenario, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert sweep(scenario, out) == 0
    for fmt in ("csv", "parquet", "xlsx", "dta"):
        assert cli.main(["export", str(out), "--format", fmt]) == 0
    capsys.readouterr()
    runs = pd.read_csv(out / "csv" / "runs.csv")
    assert len(runs) == 4
    assert pd.read_parquet(out / "parquet" / "runs.parquet")["run_id"].tolist() == [0, 1, 2, 3]
    sheets = pd.read_excel(out / "xlsx" / "tables.xlsx", sheet_name=None)
    assert list(sheets) == ["runs", "metrics", "ledger", "spillover"]
    assert len(sheets["runs"]) == 4
    with pd.io.stata.StataReader(out / "dta" / "runs.dta") as reader:
        dta = reader.read()
        labels = reader.variable_labels()
    assert dta["run_id"].tolist() == [0, 1, 2, 3]
    assert dta["technology"].tolist() == runs["technology"].tolist()
    record = json.loads((out / "dta" / "export.json").read_text())
    assert record["files"] == ["runs.dta", "metrics.dta", "ledger.dta", "spillover.dta"]
    assert labels  # renamed columns keep their kctsim name as the label
    assert all(len(name) <= 32 and "." not in name for name in dta.columns)


def test_export_wide_gives_one_column_per_metric(scenario, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert sweep(scenario, out) == 0
    assert cli.main(["export", str(out), "--csv", "--wide", "--out", str(tmp_path / "w")]) == 0
    assert cli.main(["export", str(out), "--out", str(tmp_path / "l")]) == 0
    wide = pd.read_csv(tmp_path / "w" / "metrics.csv")
    long = pd.read_csv(tmp_path / "l" / "metrics.csv")
    assert {"run_id", "tick", "p_breakthrough"} <= set(wide.columns)
    assert len(wide) * (wide.shape[1] - 2) == len(long)
    assert "warning" not in capsys.readouterr().err.lower()  # --csv: an alias, no noise


def test_export_refuses_more_rows_than_an_excel_sheet(scenario, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    assert sweep(scenario, out) == 0
    capsys.readouterr()
    monkeypatch.setattr(export_module, "EXCEL_ROWS", 10)
    assert cli.main(["export", str(out), "--format", "xlsx"]) == 2
    assert "an Excel sheet holds 9" in one_error(capsys)
    assert not (out / "xlsx").exists()


# ------------------------------------------------------------------- sweep summary


def test_sweep_ends_with_a_table_by_type_and_regime(scenario, tmp_path, capsys):
    assert sweep(scenario, tmp_path / "sweep") == 0
    out = capsys.readouterr().out
    head = next(line for line in out.splitlines() if line.startswith("technology"))
    assert head.split("  ")[0] == "technology" and "median quarter" in head
    rows = [line.split() for line in out.splitlines() if line.startswith("key_generic")]
    assert [r[1] for r in rows] == ["spiral", "jungle"]
    assert all(r[2] == "2" for r in rows)


def test_the_median_quarter_is_when_half_the_runs_had_broken_through(tmp_path, monkeypatch):
    runs = pd.DataFrame(
        {
            "technology": ["t"] * 4 + ["u"] * 3,
            "regime": ["r"] * 7,
            "status": ["ok"] * 7,
            "broke_through": [True, True, True, False, True, False, False],
            "breakthrough_tick": [9, 3, 5, None, 2, None, None],
        }
    )
    monkeypatch.setattr("kctsim.experiment.store.load_results", lambda *a, **k: {"runs": runs})
    monkeypatch.setattr("kctsim.experiment.store.read_manifest", lambda *a, **k: {})
    table = cli.breakthrough_table(tmp_path).splitlines()
    assert table[1].split() == ["t", "r", "4", "0.75", "5"]  # 2 of 4 by quarter 5
    assert table[2].split() == ["u", "r", "3", "0.33", "-"]  # never half


def test_a_sweep_of_cells_is_summarised_by_technology_type(tmp_path, capsys):
    (tmp_path / "cells.csv").write_text(
        "id,name,type\n1,alpha,key_generic\n2,beta,key_generic\n3,gamma,cutting_edge\n"
    )
    path = tmp_path / "cells.toml"
    path.write_text(
        'name = "cells"\nhorizon = 4\nreplicates = 2\nseed = 1\n[cells]\nfile = "cells.csv"\n'
        '[cells.regimes]\nkey_generic = "dislocated"\ncutting_edge = "path_dependent"\n'
    )
    assert sweep(path, tmp_path / "sweep") == 0
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()]
    assert ["key_generic", "dislocated", "4"] in rows  # two cells x two replicates
    assert ["cutting_edge", "path_dependent", "2"] in rows
