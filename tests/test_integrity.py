"""Nothing silently wrong: damaged parts, changed inputs, bad [output] (issue 19)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_runner import META, tiny_specs

import kctsim
from kctsim.cli import main
from kctsim.experiment import provenance
from kctsim.experiment import store as store_module
from kctsim.experiment.runner import run_sweep
from kctsim.experiment.store import (
    ProvenanceChangedError,
    SweepCorruptError,
    committed_parts,
    load_results,
    read_log,
)

N = 8
PART_RUNS = 2

CELLS_CSV = "id,name_en,tech_type\nc1,Chip A,key_generic\nc2,Engine B,cutting_edge\n"
CELLS_TOML = """
name = "cells_test"
horizon = 2
replicates = 2
seed = 7

[population]
n_leader_firms = 1
n_smes = 2
n_state_orgs = 1
n_universities = 1
n_scientists = 5
n_users = 5

[cells]
file = "cells.csv"
id_column = "id"
name_column = "name_en"
type_column = "tech_type"

[cells.regimes]
key_generic = "dislocated"
cutting_edge = "path_dependent"
"""


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> Path:
    """A complete sweep of 8 tiny runs in 4 part sets, never modified (copy it)."""
    out = tmp_path_factory.mktemp("complete") / "out"
    report = run_sweep(
        tiny_specs(n=N, horizon=2), META, out, "sequential", progress=False, part_runs=PART_RUNS
    )
    assert report.status == "complete"
    return out


@pytest.fixture
def sweep(complete, tmp_path) -> Path:
    copy = tmp_path / "sweep"
    shutil.copytree(complete, copy)
    return copy


def flip_bytes(path: Path, at: int = 200, n: int = 20) -> None:
    data = bytearray(path.read_bytes())
    for i in range(at, at + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "flipped": lambda p: flip_bytes(p),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "emptied": lambda p: p.write_bytes(b""),
    "deleted": lambda p: p.unlink(),
}


# ------------------------------------------------------------ damaged parts


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_load_results_names_a_damaged_part_in_one_line(sweep, damage):
    DAMAGE[damage](sweep / "metrics" / "part-00001.parquet")
    with pytest.raises(SweepCorruptError) as info:
        load_results(sweep)
    message = str(info.value)
    assert "metrics/part-00001.parquet (part 1)" in message and "\n" not in message
    # Tables whose parts are intact can still be read.
    assert len(load_results(sweep, tables=("runs",))["runs"]) == N


def test_open_results_refuses_flipped_bytes_before_any_query(sweep):
    flip_bytes(sweep / "ledger" / "part-00002.parquet")
    with pytest.raises(SweepCorruptError, match=r"ledger/part-00002.parquet \(part 2\)"):
        kctsim.open_results(sweep)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_moves_a_damaged_part_aside_and_runs_its_runs_again(sweep, complete, damage):
    DAMAGE[damage](sweep / "ledger" / "part-00001.parquet")
    report = run_sweep(
        tiny_specs(n=N, horizon=2), META, sweep, "sequential", resume=True, progress=False
    )
    assert (report.status, report.n_skipped, report.n_ok) == ("complete", N - 2, 2)
    discard = [e for e in read_log(sweep) if e["event"] == "discard"]
    assert [e["part"] for e in discard] == [1]
    assert "ledger/part-00001.parquet" in discard[0]["reason"]
    assert all(f.startswith("damaged/part-00001-") for f in discard[0]["files"])
    for table in ("runs", "metrics", "ledger", "spillover"):
        name = f"{table}/part-00001.parquet"
        assert (sweep / name).read_bytes() == (complete / name).read_bytes()
    assert sorted(committed_parts(sweep)) == [0, 1, 2, 3]


def test_verify_reports_complete_then_the_damaged_part(sweep, capsys):
    assert main(["verify", str(sweep)]) == 0
    assert "complete: 8 of 8 runs committed" in capsys.readouterr().out
    (sweep / "runs" / "part-00003.parquet").unlink()
    assert main(["verify", str(sweep)]) == 1
    out = capsys.readouterr().out
    assert "damaged" in out and "runs/part-00003.parquet (part 3) is missing" in out


def test_verify_reports_an_incomplete_sweep_with_its_counts(tmp_path, capsys):
    specs = tiny_specs(n=N, horizon=1)
    run_sweep(specs[:6], META, tmp_path / "s", "sequential", progress=False, part_runs=PART_RUNS)
    assert main(["verify", str(tmp_path / "s")]) == 0
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    manifest["n_runs"] += 2  # as if two runs were never committed
    manifest["runs"] += [{"run_id": 6, "seed_entropy": "1", "spawn_key": [6]}]
    manifest["runs"] += [{"run_id": 7, "seed_entropy": "1", "spawn_key": [7]}]
    (tmp_path / "s" / "manifest.json").write_text(json.dumps(manifest))
    assert main(["verify", str(tmp_path / "s")]) == 1
    assert "incomplete: 6 of 8 runs committed (0 failed, 2 missing)" in capsys.readouterr().out


def test_verify_of_a_directory_without_a_sweep_is_exit_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "holds no kctsim sweep" in capsys.readouterr().err


# ----------------------------------------------------------- changed inputs


def test_resume_refuses_when_the_cells_csv_changed_after_a_kill(tmp_path, capsys):
    (tmp_path / "cells.csv").write_text(CELLS_CSV)
    scenario = tmp_path / "cells.toml"
    scenario.write_text(CELLS_TOML)
    out = tmp_path / "out"
    assert main(["sweep", str(scenario), "--out", str(out), "--executor", "sequential"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    # As a kill -9 leaves it: the manifest still says "running", the log has no end line.
    log = out / "status.log"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines()[:-1]))
    (out / "manifest.json").write_text(json.dumps(manifest | {"status": "running"}))
    (tmp_path / "cells.csv").write_text(CELLS_CSV.replace("Chip A", "Chip A2"))
    capsys.readouterr()

    code = main(["sweep", str(scenario), "--out", str(out), "--resume", "--quiet"])

    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot resume: the data file cells.csv changed since the sweep started" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"


def test_resume_refuses_when_a_regime_preset_in_the_package_changed(tmp_path, monkeypatch):
    package = tmp_path / "kctsim"  # a copy of the package's data and model code
    shutil.copytree(provenance.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE", package)
    specs = tiny_specs(n=4, horizon=1)
    run_sweep(specs[:2], META, tmp_path / "out", "sequential", progress=False)
    preset = package / "data" / "regimes" / "spiral.toml"
    preset.write_text(preset.read_text() + "\n# edited\n")
    with pytest.raises(
        ProvenanceChangedError,
        match=r"the package data file kctsim/data/regimes/spiral.toml changed",
    ):
        run_sweep(specs[:2], META, tmp_path / "out", "sequential", resume=True, progress=False)


def test_resume_refuses_when_the_model_code_changed(tmp_path, monkeypatch):
    package = tmp_path / "kctsim"
    shutil.copytree(provenance.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE", package)
    specs = tiny_specs(n=2, horizon=1)
    run_sweep(specs, META, tmp_path / "out", "sequential", progress=False)
    rule = package / "mechanisms" / "spillover.py"
    rule.write_text(rule.read_text() + "\n# edited\n")
    with pytest.raises(ProvenanceChangedError, match=r"model code kctsim/mechanisms/spillover.py"):
        run_sweep(specs, META, tmp_path / "out", "sequential", resume=True, progress=False)


def test_manifest_records_the_digest_of_every_input(complete):
    provenance = json.loads((complete / "manifest.json").read_text())["provenance"]
    assert provenance["scenario"] == META["hash"]
    assert "data/regimes/spiral.toml" in provenance["package_data"]
    assert "data/defaults.toml" in provenance["package_data"]
    assert "model.py" in provenance["model_code"]
    assert "mechanisms/spillover.py" in provenance["model_code"]
    assert "cli.py" not in provenance["model_code"]


# ------------------------------------------------------- one directory check


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--ticks", "1", "--out", "{dir}"],
        ["run", "--ticks", "1", "--overwrite", "--out", "{dir}"],
        ["sweep", "scenarios/default.toml", "--out", "{dir}"],
        ["propositions", "--quick", "--out", "{dir}"],
    ],
    ids=["run", "run-overwrite", "sweep", "propositions"],
)
def test_every_writer_refuses_a_directory_of_other_files(argv, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    root = Path(__file__).resolve().parent.parent
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    argv = [str(root / a) if a.endswith(".toml") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is not empty (notes.txt) and holds no kctsim" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


# ---------------------------------------------------------- earlier format


def as_format_1(sweep: Path, drop_last_part: bool = False) -> None:
    """Rewrite a sweep's manifest and log as kctsim-sweep/1 wrote them (no digests)."""
    manifest = json.loads((sweep / "manifest.json").read_text())
    manifest = {k: v for k, v in manifest.items() if k not in ("output", "provenance")}
    (sweep / "manifest.json").write_text(json.dumps(manifest | {"format": "kctsim-sweep/1"}))
    lines = []
    for entry in read_log(sweep):
        if entry["event"] == "part":
            entry["files"] = [f["path"] for f in entry["files"] if "spillover" not in f["path"]]
            entry.pop("wall_time")
        lines.append(json.dumps(entry))
    if drop_last_part:
        lines = [line for line in lines if '"part": 3' not in line]
    (sweep / "status.log").write_text("".join(line + "\n" for line in lines))


def test_a_complete_format_1_sweep_is_read_and_resumes_as_complete_untouched(sweep):
    as_format_1(sweep)
    before = {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()}
    assert load_results(sweep, tables=("runs",))["runs"]["run_id"].tolist() == list(range(N))
    report = run_sweep(
        tiny_specs(n=N, horizon=2), META, sweep, "sequential", resume=True, progress=False
    )
    assert (report.status, report.n_skipped, report.n_ok) == ("complete", N, 0)
    assert {p: p.read_bytes() for p in sweep.rglob("*") if p.is_file()} == before


def test_an_incomplete_format_1_sweep_is_refused_with_one_clear_line(sweep):
    as_format_1(sweep, drop_last_part=True)
    with pytest.raises(store_module.SweepExistsError, match=r"older kctsim \(kctsim-sweep/1\)"):
        run_sweep(tiny_specs(n=N, horizon=2), META, sweep, "sequential", resume=True)


def test_verify_of_a_propositions_directory_reports_each_sweep(complete, tmp_path, capsys):
    shutil.copytree(complete, tmp_path / "suite")
    shutil.copytree(complete, tmp_path / "robustness" / "key_generic")
    flip_bytes(tmp_path / "robustness" / "key_generic" / "runs" / "part-00000.parquet")
    assert main(["verify", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("suite: complete: 8 of 8 runs")
    assert lines[1].startswith("robustness/key_generic: damaged:")
    assert "runs/part-00000.parquet (part 0) does not match its committed SHA-256" in lines[1]
