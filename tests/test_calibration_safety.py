"""Calibration never writes into the package; a fit is chosen explicitly and flagged if weak."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
from test_calibration import synthetic_grid

import kctsim
from kctsim import cli
from kctsim.analysis import calibration as cal
from kctsim.analysis.suite import new_manifest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(kctsim.__file__).resolve().parent


def package_hashes() -> dict[str, str]:
    """Every file of the installed package with its hash (numba's kernel cache aside:
    __pycache__ is the interpreter's and numba's, written by any import or run)."""
    return {
        str(p.relative_to(PACKAGE)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(PACKAGE.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_calibrate_with_two_replicates_changes_no_file_in_the_package(tmp_path, capsys):
    before = package_hashes()
    out = tmp_path / "cal"
    argv = ["calibrate", str(ROOT / "scenarios" / "chokepoints_2018.toml"), "--replicates", "2"]
    assert cli.main([*argv, "--out", str(out), "--quiet", "--workers", "2"]) in (0, 1)
    assert package_hashes() == before
    record = json.loads((out / "calibration.json").read_text())
    assert record["replicates"] == 2
    assert any("only 2 replicates" in w for w in record["warnings"])
    assert "kctsim: warning: only 2 replicates" in capsys.readouterr().err


def test_a_fit_of_few_replicates_is_flagged():
    fit = cal.fit(synthetic_grid(100.0, replicates=4), target=17.5)
    assert any("only 4 replicates" in w for w in cal.fit_warnings(fit))


def test_an_estimate_on_the_edge_of_its_interval_is_flagged():
    fit = cal.fit(synthetic_grid(100.0, replicates=30), target=17.5)
    assert cal.fit_warnings(fit) == []  # a good fit carries no warning
    fit.ci_high = fit.cost_scale
    assert any("sits on the edge of its interval" in w for w in cal.fit_warnings(fit))


def test_the_shipped_calibration_reads_as_a_record():
    record = cal.calibration_record()
    assert record["cost_scale"] > 0 and "shipped" in record["file"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"a paragraph, not a calibration", "neither JSON nor TOML"),
        (b'{"cost_scale": null}', "not a positive number"),
        (b'{"cost_scale": -3}', "not a positive number"),
        (b"[1, 2]", "has no cost_scale"),
        (b'{"other": 1}', "has no cost_scale"),
    ],
)
def test_a_file_that_is_not_a_calibration_is_refused(tmp_path, content, message):
    path = tmp_path / "fit.json"
    path.write_bytes(content)
    with pytest.raises(cal.CalibrationFileError, match=message):
        cal.calibration_record(path)


def test_propositions_uses_the_chosen_calibration_and_records_it(tmp_path, monkeypatch, capsys):
    import kctsim.analysis.suite as suite

    fit = tmp_path / "fit.json"
    fit.write_text(
        json.dumps(
            {
                "cost_scale": 42.0,
                "ci_low": 40.0,
                "ci_high": 42.0,
                "scenario": "chokepoints_2018",
                "created": "2026-12-04",
                "warnings": ["the estimate 42 sits on the edge"],
            }
        )  # fmt: skip
    )
    seen = {}
    monkeypatch.setattr(suite, "run_suite", lambda out, settings, **kw: seen.update(s=settings))
    monkeypatch.setattr(cli, "_report", lambda out, quiet: 0)
    assert cli.main(["propositions", "--quick", "--calibration", str(fit)]) == 0
    settings = seen["s"].resolved()
    assert settings.cost_scale == 42.0
    assert str(fit) in settings.cost_scale_source
    manifest = new_manifest(settings, {})
    assert str(fit) in manifest["settings"]["cost_scale_source"]  # the report prints this
    assert "sits on the edge" in capsys.readouterr().err


def test_calibrate_save_says_what_replaced_it(tmp_path, capsys):
    argv = ["calibrate", str(ROOT / "scenarios" / "chokepoints_2018.toml"), "--save"]
    assert cli.main([*argv, "--out", str(tmp_path / "cal")]) == 2
    assert "--calibration" in capsys.readouterr().err
    assert not (tmp_path / "cal").exists()


def _update_script():
    spec = importlib.util.spec_from_file_location(
        "update_shipped_calibration", ROOT / "scripts" / "update_shipped_calibration.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_developer_script_refuses_a_flagged_fit_unless_forced(tmp_path, monkeypatch, capsys):
    script = _update_script()
    target = tmp_path / "calibration.toml"
    monkeypatch.setattr(script, "SHIPPED", target)
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"cost_scale": 50.0, "warnings": ["only 2 replicates"]}))
    assert script.main([str(fit)]) == 2
    assert "only 2 replicates" in capsys.readouterr().err and not target.exists()
    assert script.main([str(fit), "--force"]) == 0
    assert cal.calibration_record(target)["cost_scale"] == 50.0
