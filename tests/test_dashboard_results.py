"""Results page: sweep and propositions directories, and clear messages for anything else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from matplotlib.figure import Figure
from solara.components.datatable import DataTableWidget

from kctsim.config import load_regime, load_technology
from kctsim.dashboard.app import Standalone
from kctsim.dashboard.results_browser import (
    PropositionsView,
    ResultsError,
    SweepView,
    find_result_dirs,
    open_results,
)
from kctsim.dashboard.results_page import ResultsPage
from kctsim.dashboard.state import Session
from kctsim.experiment.runner import run_sweep
from kctsim.experiment.spec import RunSpec

TINY = {
    "n_leader_firms": 1,
    "n_smes": 2,
    "n_state_orgs": 1,
    "n_universities": 1,
    "n_scientists": 2,
    "n_users": 5,
}
META = {
    "name": "dash",
    "hash": "sha256:dashboard-test",
    "text": "# dashboard test\n",
    "seed": 7,
    "design": {"kind": "list", "factors": {}},
}


def tiny_sweep(out: Path) -> Path:
    tech = load_technology("key_generic")
    children = np.random.SeedSequence(7).spawn(2)
    specs = [
        RunSpec(
            run_id=2 * r + i,
            technology="key_generic",
            regime=regime,
            point=0,
            replicate=i,
            tech_spec=tech,
            levers=load_regime(regime),
            overrides={**TINY, "horizon": 3},
            seed_entropy=int(child.entropy),
            spawn_key=tuple(child.spawn_key),
        )
        for r, regime in enumerate(("spiral", "dislocated"))
        for i, child in enumerate(children)
    ]
    run_sweep(specs, META, out, executor="sequential", progress=False)
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    return tiny_sweep(tmp_path_factory.mktemp("results") / "sweeps" / "dash")


@pytest.fixture(scope="module")
def propositions_dir(sweep_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("props") / "propositions"
    (out / "figures").mkdir(parents=True)
    shutil.copytree(sweep_dir, out / "suite")
    shutil.copytree(sweep_dir, out / "robustness" / "key_generic")  # the suite's layout
    (out / "manifest.json").write_text(json.dumps({"format": "kctsim-propositions/1"}))
    (out / "verdicts.csv").write_text(
        "proposition,claim,technology,comparison,effect,ci_low,ci_high,p_logrank,p_value,"
        "p_adjusted,verdict,robustness_share\n"
        "P1,subject dislocation weakens key generic,key_generic,dislocated vs spiral,"
        "-0.2,-0.3,-0.1,0.01,0.03,0.21,supported,0.8\n"
    )
    (out / "report.md").write_text("# Propositions report\n\nP1 is supported.\n")
    (out / "report.html").write_text("<h1>Propositions report</h1>")
    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1], [0, 1])
    figure.savefig(out / "figures" / "fit_matrix.png")
    return out


def test_a_sweep_directory_opens_with_its_runs_and_cells(sweep_dir):
    view = open_results(sweep_dir)
    assert isinstance(view, SweepView)
    assert len(view.runs) == 4
    cells = view.cells()
    assert set(cells["regime"]) == {"spiral", "dislocated"}
    assert cells["runs"].tolist() == [2, 2]
    assert view.run_metrics(0)["tick"].tolist() == [0, 1, 2, 3]


def test_a_propositions_directory_opens_with_verdicts_figures_and_its_suite(propositions_dir):
    view = open_results(propositions_dir)
    assert isinstance(view, PropositionsView)
    assert view.verdicts["verdict"].tolist() == ["supported"]
    assert [f.name for f in view.figures] == ["fit_matrix.png"]
    assert set(view.sweeps) == {"suite", "robustness/key_generic"}
    assert len(view.sweeps["suite"].runs) == 4


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing", "No such directory"),
        (lambda p: _file(p / "a_file"), "is a file"),
        (lambda p: _dir(p / "empty"), "has no manifest.json"),
        (lambda p: _manifest(p / "foreign", {"format": "other-tool/3"}), "unknown results format"),
        (lambda p: _manifest(p / "run", {"technology": "key_generic"}), "single run"),
        (lambda p: _broken(p / "broken"), "cannot be read as JSON"),
        (lambda p: _manifest(p / "props", {"format": "kctsim-propositions/1"}), "verdicts.csv"),
    ],
)
def test_anything_else_gets_a_clear_message(tmp_path, make, message):
    with pytest.raises(ResultsError, match=message):
        open_results(make(tmp_path))


def _file(path: Path) -> Path:
    path.write_text("x")
    return path


def _dir(path: Path) -> Path:
    path.mkdir()
    return path


def _manifest(path: Path, data: dict) -> Path:
    path.mkdir()
    (path / "manifest.json").write_text(json.dumps(data))
    return path


def _broken(path: Path) -> Path:
    path.mkdir()
    (path / "manifest.json").write_text("{not json")
    return path


def test_result_directories_under_results_are_offered(sweep_dir, propositions_dir):
    assert find_result_dirs(sweep_dir.parent.parent) == [str(sweep_dir)]
    assert find_result_dirs(propositions_dir.parent) == [str(propositions_dir)]


def render_with(path: str):
    session = Session.new()
    session.results_dir.value = path
    _, rc = solara.render(Standalone(ResultsPage, session), handle_error=False)
    return rc


def alerts(rc) -> str:
    return " ".join(str(c) for w in rc.find(v.Alert).widgets for c in w.children)


def test_page_shows_the_verdict_table_and_figures(propositions_dir):
    rc = render_with(str(propositions_dir))
    tables = rc.find(DataTableWidget).widgets
    assert any("supported" in str(t.items) for t in tables)
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) == 1 and bytes(images[0].value).startswith(b"\x89PNG")
    rc.close()


def test_page_shows_a_message_for_a_foreign_directory(tmp_path):
    rc = render_with(str(_manifest(tmp_path / "foreign", {"format": "other-tool/3"})))
    assert "unknown results format" in alerts(rc)
    rc.close()


def test_page_opens_a_typed_path(sweep_dir):
    rc = render_with("")
    field = rc.find(v.TextField, label="path").widget
    field.v_model = str(sweep_dir)
    rc.find(v.Btn, children=["Open"]).widget.click()
    tables = rc.find(DataTableWidget).widgets
    assert any("dislocated" in str(t.items) for t in tables)
    rc.close()


def test_the_results_page_starts_on_results_propositions_when_make_run_wrote_it(
    tmp_path, monkeypatch
):
    from kctsim.analysis.suite import FORMAT

    monkeypatch.chdir(tmp_path)
    assert Session.new().results_dir.value == ""  # nothing there: nothing opened
    target = tmp_path / "results" / "propositions"
    target.mkdir(parents=True)
    (target / "manifest.json").write_text('{"format": "some-other-tool/1"}')
    assert Session.new().results_dir.value == ""  # not ours: left alone
    (target / "manifest.json").write_text(json.dumps({"format": FORMAT}))
    assert Session.new().results_dir.value == "results/propositions"


def test_a_propositions_directory_with_a_missing_or_incomplete_sweep_is_refused(
    propositions_dir, tmp_path
):
    """As `kctsim report`: the Results page shows only complete, intact sweeps."""
    copy = tmp_path / "propositions"
    shutil.copytree(propositions_dir, copy)
    manifest = {"format": "kctsim-propositions/1", "sweeps": {"suite": {}}}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert isinstance(open_results(copy), PropositionsView)  # complete: opens
    # A robustness sweep the job ran but that is gone would otherwise go unnoticed.
    manifest["sweeps"]["robustness/cutting_edge"] = {}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match="robustness/cutting_edge: missing"):
        open_results(copy)
