"""The catalogue of bad input: every bad scenario file and bad command line gives one line.

``tests/catalogue/bad_scenarios/*.toml`` are scenario files that must be refused
(the first line of each, ``# expect: ...``, is a fragment of the message);
``tests/catalogue/bad_cli.txt`` is a table of command lines with their exit code
and a fragment. Each case runs in-process through ``kctsim.cli.main`` and must
print exactly one line ``kctsim: error: ...`` (no traceback, no file content),
exit with the listed code, write nothing and change none of the files that were
there before.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import socket
from pathlib import Path

import pytest

from kctsim.cli import main

CATALOGUE = Path(__file__).parent / "catalogue"
BAD_SCENARIOS = sorted((CATALOGUE / "bad_scenarios").glob("*.toml"))
SECRET = "SECRET-CONTENT"  # written into bad data files; must never appear in an error
UNWRITABLE = "/sys/kctsim_catalogue/out"  # refused to every user, root included


def _cases() -> list[tuple[int, str, str]]:
    rows = []
    for line in (CATALOGUE / "bad_cli.txt").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, fragment, argv = (part.strip() for part in line.split("|", 2))
            rows.append((int(code), fragment, argv))
    return rows


BAD_CLI = _cases()


def test_the_catalogue_is_as_large_as_promised():
    assert len(BAD_SCENARIOS) >= 90
    assert len(BAD_CLI) >= 75


def _tree(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with a hash of its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("kctsim: error: "), lines[0]
    assert "Traceback" not in err and SECRET not in err
    assert len(lines[0]) < 1500, "too long: it echoes input (the longest allowed-list is ~1100)"
    return lines[0]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a default --out would land here, and be seen
    return tmp_path


@pytest.mark.parametrize("path", BAD_SCENARIOS, ids=lambda p: p.stem)
def test_bad_scenario_is_refused_in_one_line(path, in_tmp, capsys):
    expect = path.read_text("utf-8").splitlines()[0].removeprefix("# expect: ")
    before = _tree(CATALOGUE)
    out = in_tmp / "out"
    code = main(["sweep", str(path), "--out", str(out), "--executor", "sequential", "--quiet"])
    line = _one_error(capsys)
    assert code == 2, line
    assert expect in line
    assert str(path) in line  # the message names the file
    assert not any(in_tmp.iterdir())  # nothing written
    assert _tree(CATALOGUE) == before


# ------------------------------------------------------------------ command lines

SCENARIO = 'name = "cat"\ntechnologies = ["key_generic"]\nregimes = ["spiral"]\n'
SCENARIO += "replicates = 2\nseed = 1\nhorizon = 4\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files and directories the command lines refer to (made once: one tiny sweep)."""
    root = tmp_path_factory.mktemp("world")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario.toml").write_text(SCENARIO)
    (scenarios / "other.toml").write_text(SCENARIO.replace("seed = 1", "seed = 2"))
    (scenarios / "cells.csv").write_text(
        "id,name,type\n1,alpha,key_generic\n2,beta,key_generic\n3,gamma,cutting_edge\n"
    )
    (scenarios / "cells.toml").write_text(
        'name = "cells"\nhorizon = 4\nreplicates = 2\nseed = 1\n[cells]\nfile = "cells.csv"\n'
        '[cells.regimes]\nkey_generic = "dislocated"\ncutting_edge = "path_dependent"\n'
    )
    sweep = root / "sweep"
    args = ["sweep", str(scenarios / "scenario.toml"), "--out", str(sweep)]
    assert main([*args, "--executor", "sequential", "--quiet"]) == 0
    run = root / "run"
    assert main(["run", "--ticks", "2", "--out", str(run)]) == 0
    (root / "file.txt").write_text(f"{SECRET}: a text file, not a scenario\n")
    foreign = root / "foreign"
    foreign.mkdir()
    (foreign / "calibration.json").write_text('{"mine": "a researcher\'s own file"}\n')
    (foreign / "curve.csv").write_text("x,y\n1,2\n")
    (foreign / "notes.txt").write_text(SECRET)
    for name, damage in {
        "corrupt": lambda d: (d / "manifest.json").write_text(f"{{{SECRET}"),
        "dirmanifest": lambda d: ((d / "manifest.json").unlink(), (d / "manifest.json").mkdir()),
        "badlog": lambda d: (d / "status.log").open("a").write(f"{SECRET} not json\n"),
        "noparts": lambda d: (d / "runs" / "part-00000.parquet").unlink(),
    }.items():
        shutil.copytree(sweep, root / name)
        damage(root / name)
    props = root / "props"
    props.mkdir()
    (props / "manifest.json").write_text(json.dumps({"format": "kctsim-propositions/1"}))
    (root / "nocost.json").write_text('{"cost_scale_typo": 3}\n')
    (root / "calibration.json").write_text('{"cost_scale": 90.0}\n')
    with socket.socket() as s:  # a loopback port that nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {
        "root": str(root),
        "scenario_dir": str(scenarios),
        "scenario": str(scenarios / "scenario.toml"),
        "other": str(scenarios / "other.toml"),
        "cells": str(scenarios / "cells.toml"),
        "sweep": str(sweep),
        "run": str(run),
        "file": str(root / "file.txt"),
        "foreign": str(foreign),
        "corrupt": str(root / "corrupt"),
        "dirmanifest": str(root / "dirmanifest"),
        "badlog": str(root / "badlog"),
        "noparts": str(root / "noparts"),
        "props": str(props),
        "nocost": str(root / "nocost.json"),
        "cal": str(root / "calibration.json"),
        "port": str(port),
        "unwritable": UNWRITABLE,
        "long": "x" * 5000,
        "huge": "9" * 5000,
        "longname": "n" * 300,
    }


@pytest.mark.parametrize(("code", "fragment", "argv"), BAD_CLI, ids=[c[2][:80] for c in BAD_CLI])
def test_bad_command_line_is_refused_in_one_line(world, in_tmp, capsys, code, fragment, argv):
    values = world | {"tmp": str(in_tmp)}
    args = [arg.format(**values) for arg in shlex.split(argv)]
    fragment = fragment.format(**values)
    root = Path(world["root"])
    before = _tree(root)
    result = main(args)
    line = _one_error(capsys)
    assert result == code, line
    assert fragment in line
    assert not any(in_tmp.iterdir())  # nothing written here (nor a default results/)
    assert _tree(root) == before  # nothing that was there changed or lost
    assert not Path(UNWRITABLE).parent.exists()
