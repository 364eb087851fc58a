"""`kctsim propositions` and `kctsim report` end to end on a tiny suite."""

import dataclasses
import json

import pandas as pd
import pytest

from kctsim import load_results
from kctsim.analysis import ablation as abl
from kctsim.analysis.propositions import evaluate, load_propositions
from kctsim.analysis.suite import FORMAT, PropositionsDirError, Settings, run_suite, verdict_cells
from kctsim.cli import main

TINY = [
    "--replicates", "3",
    "--ticks", "8",
    "--cost-scale", "60",
    "--robustness-samples", "2",
    "--robustness-replicates", "2",
    "--ablation-replicates", "2",
    "--executor", "sequential",
    "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("prop") / "p"
    assert main(["propositions", *TINY, "--out", str(out)]) == 0
    return out


def test_the_suite_writes_the_report_tables_and_figures(suite):
    manifest = json.loads((suite / "manifest.json").read_text())
    assert manifest["format"] == FORMAT
    assert manifest["settings"]["cost_scale"] == 60.0
    assert manifest["ended"] is not None
    for name in (
        "report.md",
        "report.html",
        "verdicts.csv",
        "mechanisms.csv",
        "fit_matrix.csv",
        "ablation.csv",
    ):
        assert (suite / name).is_file(), name
    for stem in (
        "breakthrough_curves",
        "fit_matrix",
        "spillover_free_riding",
        "flows_sankey",
        "flows_heatmap",
        "stages_major_strategic",
        "diversity_lock_in",
        "robustness",
        "difference_curves",
        "ablation",
    ):
        assert (suite / "figures" / f"{stem}.png").stat().st_size > 1000, stem
        assert (suite / "figures" / f"{stem}.svg").is_file(), stem
    assert sorted(p.name for p in (suite / "robustness").iterdir()) == [
        "cutting_edge", "key_generic", "major_strategic"
    ]  # fmt: skip
    assert sorted(p.name for p in (suite / "ablation").iterdir()) == [
        "cutting_edge", "key_generic", "major_strategic"
    ]  # fmt: skip
    assert set(manifest["sweeps"]) >= {"ablation/key_generic", "suite"}


def test_the_ablation_attributes_every_verdict_to_the_lever_groups(suite):
    table = pd.read_csv(suite / "ablation.csv")
    assert list(table.columns) == list(abl.COLUMNS)
    assert len(table) == 9 * 5  # nine steps (P4 to P6: two rivals each), five groups
    assert (table["replicates"] == 2).all() and (table["tau"] == 8).all()
    sums = table.groupby(["proposition", "start"]).agg(
        total=("shapley", "sum"), e=("effect", "first")
    )
    assert sums["total"].to_numpy() == pytest.approx(sums["e"].to_numpy())  # efficiency
    assert table.groupby("proposition")["binding"].any().all()
    text = (suite / "report.md").read_text()
    section = text.split("## Which levers carry each verdict")[1].split("\n## ")[0]
    for key in ("P1", "P2", "P3", "P4", "P5", "P6"):
        assert f"**{key}**" in section
    assert "Shapley" in section and "figures/ablation.png" in section


def test_the_ablation_ends_are_the_suites_own_runs(suite):
    # The horizon is 8 < 20, so the ablation runs to 8 too: its end regimes are the
    # suite's runs of the same replicates, to the bit.
    key = ["technology", "regime", "replicate"]
    columns = [*key, "breakthrough_tick", "best_fitness"]
    ablation = load_results(suite / "ablation" / "key_generic", tables=("runs",))["runs"]
    ends = ablation[ablation["regime"].isin(["dislocated", "spiral"])][columns]
    runs = load_results(suite / "suite", tables=("runs",))["runs"]
    same = runs[
        (runs["technology"] == "key_generic")
        & runs["regime"].isin(["dislocated", "spiral"])
        & (runs["replicate"] < 2)
    ][columns]
    pd.testing.assert_frame_equal(
        ends.sort_values(key).reset_index(drop=True), same.sort_values(key).reset_index(drop=True)
    )


def test_the_report_opens_with_the_verdicts_in_words_and_a_table(suite):
    text = (suite / "report.md").read_text()
    first = text.split("## Verdicts")[1].split("\n## ")[0]
    paragraphs = first.strip().split("\n\n")
    keys = [f"P{i}" for i in range(1, 7)] + ["C"]
    assert [p.split("**")[1] for p in paragraphs[:7]] == keys
    assert "Spiral Progressive (螺旋递进) breaks through key generic" in paragraphs[0]
    table = paragraphs[7].splitlines()
    assert table[0].startswith("| Proposition | The paper's claim |")
    assert [line.split("|")[1].strip() for line in table[2:]] == keys
    assert "How to read this" in first and "Bonferroni" in first
    assert str(suite) in text and "manifest.json" in text
    assert "Cost scale 60 (--cost-scale)" in text


def test_every_number_comes_from_the_stored_runs(suite):
    runs = load_results(suite / "suite", tables=("runs",))["runs"]
    recomputed = evaluate(runs)
    stored = pd.read_csv(suite / "verdicts.csv")
    for column in ("effect", "ci_low", "ci_high", "p_value", "p_adjusted", "p_logrank"):
        expected = recomputed[column].to_numpy()
        assert stored[column].to_numpy() == pytest.approx(expected, nan_ok=True), column
    assert stored["verdict"].tolist() == recomputed["verdict"].tolist()


def test_report_rebuilds_the_same_numbers_without_running(suite):
    before = {n: (suite / n).read_bytes() for n in ("verdicts.csv", "mechanisms.csv", "report.md")}
    runs_before = sorted(p.name for p in (suite / "suite" / "runs").iterdir())
    assert main(["report", str(suite), "--quiet"]) == 0
    for name, content in before.items():
        assert (suite / name).read_bytes() == content, name
    assert sorted(p.name for p in (suite / "suite" / "runs").iterdir()) == runs_before


def test_the_html_report_is_self_contained(suite):
    page = (suite / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 7
    assert 'src="figures/' not in page and "http://" not in page and "https://" not in page
    assert "<table>" in page and "P6" in page


def test_the_same_suite_again_needs_resume_and_then_runs_nothing(suite, capsys):
    assert main(["propositions", *TINY, "--out", str(suite)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["propositions", *TINY, "--out", str(suite), "--resume"]) == 0


def test_other_settings_into_the_same_directory_are_refused_and_nothing_changes(suite, capsys):
    manifest = (suite / "manifest.json").read_bytes()
    args = [a if a != "8" else "9" for a in TINY]  # --ticks 9
    assert main(["propositions", *args, "--out", str(suite), "--resume"]) == 2
    assert "other settings" in capsys.readouterr().err
    assert (suite / "manifest.json").read_bytes() == manifest


def test_a_foreign_directory_is_refused_and_left_alone(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["propositions", *TINY, "--out", str(tmp_path)]) == 2
    assert "holds no kctsim propositions results" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--replicates", "1"], "--replicates"),
        (["--pilot", "1"], "--pilot"),
        (["--ablation-replicates", "1"], "--ablation-replicates"),
        (["--max-replicates", "x"], "--max-replicates"),
        (["--cost-scale", "-3"], "positive number"),
        (["--ticks", "0"], "--ticks"),
        (["--executor", "threads"], "allowed: sequential, processes, dask"),
        (["--scheduler", "tcp://x:1"], "only used with --executor dask"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "p"
    assert main(["propositions", *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_report_of_something_else_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no kctsim propositions results" in capsys.readouterr().err


def test_stored_results_built_to_fail_give_no_support(tmp_path):
    # R&D so expensive that nothing ever breaks through: no regime can beat another.
    settings = Settings(
        replicates=3,
        ticks=4,
        cost_scale=1e6,
        robustness_samples=0,
        ablation_replicates=2,
        quick=True,
    )
    run_suite(tmp_path / "p", settings, executor="sequential", progress=False)
    assert main(["report", str(tmp_path / "p"), "--quiet"]) == 0
    verdicts = pd.read_csv(tmp_path / "p" / "verdicts.csv")
    assert set(verdicts["verdict"]) == {"equivalent"}  # every paired difference is 0
    assert verdicts["effect"].to_numpy() == pytest.approx(0.0, abs=1e-12)
    ablation = pd.read_csv(tmp_path / "p" / "ablation.csv")
    assert (ablation[["shapley", "ci_low", "ci_high", "effect"]].to_numpy() == 0).all()
    assert ablation["share"].isna().all()  # no share of nothing
    assert "cannot be told from 0" in (tmp_path / "p" / "report.md").read_text()
    assert (
        "Not run (--quick or --robustness-samples 0)." in (tmp_path / "p" / "report.md").read_text()
    )


def test_replicates_chosen_for_precision_extend_the_pilot_with_the_same_seeds(tmp_path):
    # A pilot of 3 cannot be decisive: the plan asks for more, capped at 5.
    base = dict(ticks=8, cost_scale=15.0, robustness_samples=0, ablation_replicates=0)
    adaptive = Settings(pilot=3, max_replicates=5, **base)
    run_suite(tmp_path / "a", adaptive, executor="sequential", progress=False)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    design = manifest["design"]
    assert design["pilot"] == 3 and design["replicates"] == 5
    assert design["capped"] and design["needed"] > 5 and "at most 5" in design["rule"]
    fixed = Settings(replicates=5, **base)
    run_suite(tmp_path / "f", fixed, executor="sequential", progress=False)
    key = ["technology", "regime", "replicate"]
    columns = [*key, "breakthrough_tick", "best_fitness"]
    pilot = load_results(tmp_path / "a" / "suite", tables=("runs",))["runs"]
    extension = load_results(tmp_path / "a" / "extension", tables=("runs",))["runs"]
    # Only the cells a verdict compares are extended.
    cells = verdict_cells(load_propositions())
    extended = set(zip(extension["technology"], extension["regime"], strict=True))
    assert extended == cells
    both = pd.concat([pilot, extension])[columns]
    in_cells = [c in cells for c in zip(both["technology"], both["regime"], strict=True)]
    both = both[in_cells].sort_values(key).reset_index(drop=True)
    direct = load_results(tmp_path / "f" / "suite", tables=("runs",))["runs"]
    in_cells = [c in cells for c in zip(direct["technology"], direct["regime"], strict=True)]
    direct = direct[in_cells][columns].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(both, direct)  # replicate i keeps its seed
    assert main(["report", str(tmp_path / "a"), "--quiet"]) == 0
    verdicts = pd.read_csv(tmp_path / "a" / "verdicts.csv")
    assert set(verdicts["replicates"]) == {5}
    assert "cap of 5 was reached" in (tmp_path / "a" / "report.md").read_text()


def test_resuming_an_adaptive_suite_keeps_its_recorded_design(tmp_path):
    settings = Settings(
        pilot=3,
        max_replicates=4,
        ticks=6,
        cost_scale=60.0,
        robustness_samples=0,
        ablation_replicates=0,
    )
    run_suite(tmp_path / "a", settings, executor="sequential", progress=False)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest["design"]["replicates"] = 3  # as if the rule had asked for nothing more
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    run_suite(tmp_path / "a", settings, executor="sequential", progress=False, resume=True)
    again = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert again["design"]["replicates"] == 3  # read back, never planned again


def test_quick_is_a_pilot_labelled_not_decisive(tmp_path):
    settings = Settings(
        pilot=3, ticks=6, cost_scale=60.0, robustness_samples=0, ablation_replicates=0, quick=True
    )
    run_suite(tmp_path / "q", settings, executor="sequential", progress=False)
    assert not (tmp_path / "q" / "extension").exists()
    full = dataclasses.replace(settings, quick=False)  # the same pilot sweep, another design
    with pytest.raises(PropositionsDirError, match="other settings"):
        run_suite(tmp_path / "q", full, executor="sequential", progress=False, resume=True)
    assert main(["report", str(tmp_path / "q"), "--quiet"]) == 0
    text = (tmp_path / "q" / "report.md").read_text()
    assert "**Not decisive**" in text.split("## Verdicts")[0]


def test_verdict_cells_are_the_compared_cells_and_the_modes_on_every_type():
    propositions = load_propositions()
    cells = verdict_cells(propositions)
    for p in propositions:
        assert {(p.technology, r) for r in p.regimes} <= cells
    modes = {p.better for p in propositions if len(p.worse) > 1}
    types = {p.technology for p in propositions}
    assert {(t, m) for t in types for m in modes} <= cells
    # A cause regime is run further only on the type whose proposition names it.
    assert ("key_generic", "path_dependent") not in cells
    assert ("cutting_edge", "dislocated") not in cells
