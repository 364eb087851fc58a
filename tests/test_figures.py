"""Every report figure, drawn from small synthetic tables: readable as the paper's words,
with a colour bar wherever colour encodes a value and a legend wherever lines or bars
are told apart by colour."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.image import AxesImage

from kctsim import names
from kctsim.analysis.propositions import load_propositions
from kctsim.config import regime_names, technology_names
from kctsim.fonts import FAMILY
from kctsim.report import figures as fg

HORIZON = 20
PROPOSITIONS = load_propositions()
CODE_NAMES = [
    *regime_names(),
    *technology_names(),
    "k_shift",
    "bass_p",
    "passive_absorption",
    "crowding_out",
    "treasury",
    "rnd",
    "leader_firm",
    "state_org",
]


def _runs(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for tech in technology_names():
        for k, regime in enumerate(regime_names()):
            for _ in range(12):
                tick = float(rng.integers(1, HORIZON)) if rng.random() < 0.4 + 0.08 * k else np.nan
                rows.append((len(rows), tech, regime, "ok", tick))
    return pd.DataFrame(
        rows, columns=["run_id", "technology", "regime", "status", "breakthrough_tick"]
    )


def _means(stage_progress_flat: bool) -> pd.DataFrame:
    rows = []
    for tech in technology_names():
        for k, regime in enumerate(regime_names()):
            for tick in range(HORIZON + 1):
                values = {
                    "spillover_share": 0.5 + 0.01 * k + 0.01 * tick,
                    "free_riding_share": 0.02 * tick * (1 + k / 10),
                    "crowding_out": 0.0,  # flat everywhere: its row is left out
                    "chain_blocked": 0.1 * k * (tick > 3),
                    "misallocation_index": 0.05 * k,
                }
                for s in range(3):
                    values[f"stage_funding_{s + 1}"] = 0.2 + 0.05 * s + 0.01 * k
                    values[f"stage_progress_{s + 1}"] = (
                        1.0 if stage_progress_flat else min(1.0, 0.5 + 0.02 * tick + 0.01 * k)
                    )
                rows += [(tech, regime, m, tick, v) for m, v in values.items()]
    return pd.DataFrame(rows, columns=["technology", "regime", "metric", "tick", "value"])


def _flows() -> pd.DataFrame:
    pairs = [("treasury", "government", 900.0), ("government", "leader_firm", 300.0)]
    pairs += [("leader_firm", "rnd", 250.0), ("market", "sme", 40.0), ("sme", "rnd", 3.0)]
    return pd.DataFrame(
        [
            (tech, regime, a, b, "grant", amount)
            for tech in technology_names()
            for regime in regime_names()
            for a, b, amount in pairs
        ],
        columns=["technology", "regime", "from_type", "to_type", "kind", "amount"],
    )


def _fit(rng: np.random.Generator) -> pd.DataFrame:
    matched = {p.technology: p.better for p in PROPOSITIONS if len(p.worse) > 1}
    return pd.DataFrame(
        [
            {
                "technology": tech,
                "regime": regime,
                "n": 20,
                "p_breakthrough": float(rng.uniform(0.76, 1.0)),
                "rmst": float(rng.uniform(5, HORIZON)),
                "matched": matched[tech] == regime,
            }
            for tech in technology_names()
            for regime in names.modes()
        ]
    )


def _robustness() -> tuple[pd.DataFrame, pd.DataFrame]:
    verdicts = pd.DataFrame(
        {
            "proposition": [p.key for p in PROPOSITIONS],
            "verdict": ["supported", "not supported", "contradicted"] * 2,
            "robustness_share": np.linspace(0.2, 0.9, 6),
        }
    )
    factors = ["cost_scale", "bass_p", "k_shift", "passive_absorption"]
    drivers = pd.DataFrame(
        [
            {"proposition": p.key, "factor": f, "rho": 0.8 - 0.4 * i, "p": 0.01, "rank": i + 1}
            for p in PROPOSITIONS
            for i, f in enumerate(factors)
        ]
    )
    return verdicts, drivers


def _calibration():
    grid = np.geomspace(30, 300, 7)
    curve = pd.DataFrame(
        {"cost_scale": grid, "mean": 35 - 0.1 * grid, "low": 30 - 0.1 * grid, "high": 35}
    )
    record = {
        "target_broken_through": 21,
        "cost_scale": 140.0,
        "ci_low": 120.0,
        "ci_high": 160.0,
        "technologies": 35,
        "horizon": 20,
    }
    return curve, record


def _figures():
    rng = np.random.default_rng(3)
    means = _means(stage_progress_flat=False)
    pairs = [("key_generic", "spiral"), ("key_generic", "dislocated")]
    verdicts, drivers = _robustness()
    curve, record = _calibration()
    return {
        "breakthrough_curves": lambda: fg.plot_breakthrough_curves(_runs(rng), HORIZON),
        "fit_matrix": lambda: fg.plot_fit_matrix(_fit(rng)),
        "metrics_over_time": lambda: fg.plot_metrics_over_time(
            means, ["spillover_share", "free_riding_share", "crowding_out"], "Spillover"
        ),
        "stages": lambda: fg.plot_stages(means, "major_strategic", 3),
        "flows_heatmap": lambda: fg.plot_flow_heatmaps(_flows(), pairs),
        "flows_sankey": lambda: fg.plot_flow_sankeys(_flows(), pairs),
        "robustness": lambda: fg.plot_robustness(verdicts, drivers),
        "calibration": lambda: fg.plot_calibration(curve, record),
    }


FIGURES = _figures()
# The Sankey labels every node in place (name and amount): its colours only group a
# payer's bands, and the labels are their legend.
LABELLED_IN_PLACE = {"flows_sankey"}


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _has_legend(fig) -> bool:
    return bool(fig.legends) or any(ax.get_legend() is not None for ax in fig.axes)


def _colour_bars(fig) -> list:
    return [ax for ax in fig.axes if hasattr(ax, "_colorbar")]


def _distinct_colours(ax) -> int:
    colours = {tuple(np.round(matplotlib.colors.to_rgba(line.get_color()), 3)) for line in ax.lines}
    colours |= {
        tuple(np.round(p.get_facecolor(), 3))
        for p in ax.patches
        if isinstance(p, matplotlib.patches.Rectangle) and p.get_fill()
    }
    return len(colours)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_has_a_colour_bar_or_legend_for_what_its_colours_encode(name, tmp_path):
    fig = FIGURES[name]()
    plot_axes = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
    images = [im for ax in plot_axes for im in ax.get_images() if isinstance(im, AxesImage)]
    if images:
        bars = _colour_bars(fig)
        assert bars, f"{name}: colour encodes a value but there is no colour bar"
        assert all(bar.get_ylabel() or bar.get_xlabel() for bar in bars), "unlabelled colour bar"
        assert any("(" in (bar.get_ylabel() or bar.get_xlabel()) for bar in bars), "no unit"
    if name not in LABELLED_IN_PLACE and any(_distinct_colours(ax) > 1 for ax in plot_axes):
        assert _has_legend(fig), f"{name}: several colours and no legend"
    paths = fg.save_figure(fig, tmp_path / name)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figures_speak_the_papers_words_not_code_names(name):
    fig = FIGURES[name]()
    text = " ".join(_texts(fig))
    for code in CODE_NAMES:
        assert not re.search(rf"\b{code}\b", text), f"{name} shows the code name {code!r}"
    matplotlib.pyplot.close(fig)


def test_regimes_are_named_in_english_and_chinese():
    text = " ".join(_texts(FIGURES["breakthrough_curves"]()))
    for mode in names.modes():
        assert names.regime(mode) in text
    assert "Subject dislocation (主体错位)" in text


def test_the_chinese_terms_are_drawn_with_the_bundled_font():
    fig = FIGURES["fit_matrix"]()
    from matplotlib import font_manager

    found = font_manager.fontManager._find_fonts_by_props(
        matplotlib.font_manager.FontProperties(family=matplotlib.rcParams["font.family"])
    )
    assert any("noto-sans-sc-kctsim" in str(path) for path in found), FAMILY
    matplotlib.pyplot.close(fig)


def test_the_fit_matrix_is_coloured_by_rmst_and_writes_the_share():
    fit = _fit(np.random.default_rng(5))
    fig = fg.plot_fit_matrix(fit)
    image = fig.axes[0].get_images()[0].get_array()
    rmst = fit.pivot(index="technology", columns="regime", values="rmst")
    assert sorted(np.asarray(image).ravel()) == pytest.approx(sorted(rmst.to_numpy().ravel()))
    text = " ".join(_texts(fig))
    for share in fit["p_breakthrough"]:
        assert f"{share:.0%} broke through" in text
    assert "RMST" in _colour_bars(fig)[0].get_ylabel()


def test_each_proposition_has_its_panel_with_only_its_regimes_in_colour():
    fig = FIGURES["breakthrough_curves"]()
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split(" · ")[0] for ax in panels] == [p.key for p in PROPOSITIONS]
    colours = fg.regime_colours()
    for ax, prop in zip(panels, PROPOSITIONS, strict=True):
        coloured = {
            tuple(matplotlib.colors.to_rgba(line.get_color()))
            for line in ax.lines
            if line.get_color() != fg.FAINT
        }
        assert coloured == {tuple(matplotlib.colors.to_rgba(colours[r])) for r in prop.regimes}
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == len(prop.regimes)  # bands only for the compared regimes


def test_a_stage_progress_row_flat_at_the_gate_is_left_out_and_said_in_words():
    flat = fg.plot_stages(_means(stage_progress_flat=True), "major_strategic", 3)
    moving = fg.plot_stages(_means(stage_progress_flat=False), "major_strategic", 3)
    label = names.entry("metrics", "stage_progress").name
    assert not any(label in ax.get_ylabel().replace("\n", " ") for ax in flat.axes)
    assert any(label in ax.get_ylabel().replace("\n", " ") for ax in moving.axes)
    assert any("not drawn" in t for t in _texts(flat))


def test_a_metric_that_never_moves_gets_no_row():
    fig = FIGURES["metrics_over_time"]()
    labels = " ".join(ax.get_ylabel().replace("\n", " ") for ax in fig.axes)
    assert names.name("metrics", "crowding_out") not in labels
    assert names.name("metrics", "spillover_share") in labels


def test_the_calibration_axis_reads_plain_numbers():
    fig = FIGURES["calibration"]()
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"\d+", label) for label in labels), labels


def test_no_glyph_of_the_papers_terms_is_missing_when_a_figure_is_saved(tmp_path):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fg.save_figure(FIGURES["breakthrough_curves"](), tmp_path / "curves")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
