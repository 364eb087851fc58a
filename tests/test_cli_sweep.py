"""`kctsim sweep` and `kctsim export` from the command line."""

from pathlib import Path

import pandas as pd

from kctsim.cli import main

TINY = """
name = "tiny"
technologies = ["key_generic"]
regimes = ["spiral", "dislocated"]
horizon = 3
replicates = 2
seed = 7
[population]
n_smes = 5
n_users = 20
n_scientists = 5
"""


def write(tmp_path: Path, text: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sweep_runs_every_run_and_export_writes_csv(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "sweep",
                str(write(tmp_path, TINY)),
                "--out",
                str(out),
                "--quiet",
                "--executor",
                "sequential",
            ]
        )
        == 0
    )
    assert not (out / "csv").exists()  # CSV copies only on export
    assert main(["export", str(out), "--csv"]) == 0
    runs = pd.read_csv(out / "csv" / "runs.csv")
    assert sorted(runs.run_id) == [0, 1, 2, 3]
    assert set(runs.regime) == {"spiral", "dislocated"}


def test_bad_scenario_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = write(tmp_path, TINY.replace("replicates = 2", "replicatess = 2"))
    out = tmp_path / "sweep"
    assert main(["sweep", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "tiny.toml" in err and "replicatess" in err and "replicates" in err
    assert not out.exists()


def test_scheduler_without_dask_is_refused(tmp_path, capsys):
    code = main(
        [
            "sweep",
            str(write(tmp_path, TINY)),
            "--scheduler",
            "tcp://127.0.0.1:1",
            "--out",
            str(tmp_path / "s"),
            "--quiet",
        ]
    )
    assert code == 2
    assert "--scheduler" in capsys.readouterr().err


def test_a_different_sweep_in_the_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["--out", str(out), "--quiet", "--executor", "sequential"]
    assert main(["sweep", str(write(tmp_path, TINY)), *args]) == 0
    before = sorted(p.name for p in out.rglob("*"))
    other = write(tmp_path, TINY.replace("seed = 7", "seed = 8"), "other.toml")
    assert main(["sweep", str(other), *args]) == 2
    assert "different sweep" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before


def test_export_of_a_non_sweep_directory_is_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--csv"]) == 2
    assert "not a kctsim sweep directory" in capsys.readouterr().err
