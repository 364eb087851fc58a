"""The kctsim command line: `kctsim run`, its help and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import kctsim
from kctsim import cli
from kctsim.config import ConfigError, default_parameters, regime_names, technology_names
from kctsim.results import RESULT_FILES

TICKS = "5"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory so the default --out lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to show nothing changed)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("kctsim: error: ")
    return lines[0]


def test_run_writes_every_file_with_the_right_columns(in_tmp, capsys):
    assert cli.main(["run", "--ticks", TICKS, "--seed", "7"]) == 0
    out = in_tmp / "results" / "run"
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert metrics.columns[0] == "tick" and metrics["tick"].tolist() == list(range(6))
    assert {"hazard", "p_breakthrough", "best_fitness", "spillover_share"} <= set(metrics)
    assert list(pd.read_csv(out / "metrics.csv").columns) == list(metrics.columns)
    ledger = pd.read_parquet(out / "ledger.parquet")
    assert list(ledger.columns) == [
        "tick",
        "from_type",
        "from_id",
        "to_type",
        "to_id",
        "kind",
        "stage",
        "amount",
    ]
    spill = pd.read_csv(out / "spillover.csv")
    assert list(spill.columns) == ["source_type", "receiver_type", "gain"]
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == 1 and summary["seed"].iloc[0] == 7
    assert summary["horizon"].iloc[0] == 5 and summary["technology"].iloc[0] == "key_generic"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["horizon"] == 5
    assert manifest["kctsim"] == kctsim.__version__
    assert all(manifest[k] for k in ("mesa", "numpy", "pandas", "python", "platform"))
    printed = capsys.readouterr().out
    for label in ("Technology type", "Broke through", "P(breakthrough) by the horizon", "Exits"):
        assert label in printed
    assert "Key generic (关键共性)" in printed and "Spiral Progressive (螺旋递进)" in printed
    assert "results/run" in printed


def test_summary_table_is_aligned(in_tmp, capsys):
    assert cli.main(["run", "--ticks", "2", "--tech", "major_strategic", "--out", "x"]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()
    # Every value starts in the same column.
    starts = {len(line) - len(line.split("  ")[-1].lstrip()) for line in table}
    assert len(starts) == 1, table
    assert "Major strategic (重大战略)" in table[0]


def test_same_seed_same_metrics_different_seed_different(in_tmp):
    for out, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert cli.main(["run", "--ticks", TICKS, "--seed", seed, "--out", out]) == 0
    a, b, c = (pd.read_parquet(in_tmp / d / "metrics.parquet") for d in "abc")
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(a, c)


BAD_INPUT = [
    (["run", "--tech", "quantum"], ["--tech", "quantum", *technology_names()]),
    (["run", "--tech", "key-generic"], ["did you mean 'key_generic'", *technology_names()]),
    (["run", "--regime", "anarchy"], ["--regime", "anarchy", *regime_names()]),
    (["run", "--ticks", "0"], ["--ticks", "'0'", "from 1 to"]),
    (["run", "--ticks", "-4"], ["--ticks", "'-4'", "from 1 to"]),
    (["run", "--ticks", "ten"], ["--ticks", "'ten'", "integer"]),
    (["run", "--ticks", "2.5"], ["--ticks", "'2.5'", "integer"]),
    (["run", "--seed", "-1"], ["--seed", "'-1'", "an integer from 0 to"]),
    (["run", "--seed", "abc"], ["--seed", "'abc'", "an integer from 0 to"]),
    (["run", "--colour", "red"], ["unrecognized arguments", "--colour", "--help"]),
    (["fly"], ["invalid choice", "'fly'", "run"]),
    ([], ["COMMAND", "run"]),
]


@pytest.mark.parametrize(("argv", "mentions"), BAD_INPUT, ids=lambda v: " ".join(v))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(in_tmp, capsys, argv, mentions):
    assert cli.main(argv) == 2
    line = _one_error_line(capsys)
    for text in mentions:
        assert text in line
    assert list(in_tmp.iterdir()) == []


def test_out_that_is_a_file_is_refused(in_tmp, capsys):
    (in_tmp / "taken").write_text("keep me")
    assert cli.main(["run", "--ticks", "2", "--out", "taken"]) == 2
    line = _one_error_line(capsys)
    assert "--out" in line and "taken" in line and "directory" in line
    assert _tree(in_tmp) == {"taken": b"keep me"}


def test_existing_results_need_overwrite(in_tmp, capsys):
    assert cli.main(["run", "--ticks", "2", "--seed", "1", "--out", "r"]) == 0
    before = _tree(in_tmp)
    capsys.readouterr()
    assert cli.main(["run", "--ticks", "2", "--seed", "2", "--out", "r"]) == 2
    line = _one_error_line(capsys)
    assert "--overwrite" in line and "r " in line
    assert _tree(in_tmp) == before
    assert cli.main(["run", "--ticks", "2", "--seed", "2", "--out", "r", "--overwrite"]) == 0
    assert json.loads((in_tmp / "r" / "manifest.json").read_text())["seed"] == 2


def test_config_errors_from_the_model_are_one_line(in_tmp, capsys, monkeypatch):
    def bad_model(**kwargs):
        raise ConfigError("parameters.horizon: 0 is outside the allowed range [1, 100000]")

    monkeypatch.setattr(cli, "run_model", bad_model)
    assert cli.main(["run", "--ticks", "2"]) == 2
    assert "parameters.horizon" in _one_error_line(capsys)
    assert list(in_tmp.iterdir()) == []


def test_a_failed_write_is_one_line_exit_1_and_leaves_nothing(in_tmp, capsys, monkeypatch):
    from kctsim import results

    def no_space(frame, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(results._WRITERS, "csv", no_space)
    assert cli.main(["run", "--ticks", "2"]) == 1
    assert "No space left" in _one_error_line(capsys)
    assert list(in_tmp.iterdir()) == []


def test_help_lists_commands_and_every_option(capsys):
    assert cli.main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert cli.main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    for option in ("--tech", "--regime", "--ticks", "--seed", "--out", "--overwrite"):
        assert option in text
    horizon = str(default_parameters().horizon)
    for name in (*technology_names(), *regime_names(), "results/run", horizon):
        assert name in text


def test_python_m_kctsim_help_runs_as_a_program():
    proc = subprocess.run(
        [sys.executable, "-m", "kctsim", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: kctsim run")
    assert "--overwrite" in proc.stdout and "major_strategic" in proc.stdout
