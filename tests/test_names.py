"""The one table of display names: complete for what kctsim shows, and drawable."""

from __future__ import annotations

import pytest

from kctsim import fonts, names
from kctsim.analysis.suite import ABSOLUTE_FACTORS, RELATIVE_FACTORS, TECHNOLOGY_FACTORS
from kctsim.config import AGENT_TYPES, LEVER_NAMES, TYPE_EFFICIENCY, regime_names, technology_names
from kctsim.ledger import ACCOUNT_TYPES, KINDS
from kctsim.metrics import RUN_METRICS


@pytest.mark.parametrize(
    "section, keys", [("regimes", regime_names()), ("technologies", technology_names())]
)
def test_every_preset_has_the_papers_name_in_english_and_chinese_and_a_sentence(section, keys):
    for key in keys:
        entry = names.entry(section, key)
        assert entry.name and entry.name != key.replace("_", " "), key
        assert entry.chinese and entry.description and entry.plain and entry.quote, key
        assert entry.bilingual == f"{entry.name} ({entry.chinese})"


def test_the_three_modes_are_the_regimes_the_paper_proposes():
    assert names.modes() == ["spiral", "jungle", "main_layout"]
    assert {names.entry("regimes", r).pairs_with for r in names.modes()} == set(technology_names())


@pytest.mark.parametrize(
    "section, keys",
    [
        ("agents", (*AGENT_TYPES, *ACCOUNT_TYPES)),
        ("ledger", KINDS),
        ("levers", LEVER_NAMES),
        (
            "parameters",
            (
                *RELATIVE_FACTORS,
                *ABSOLUTE_FACTORS,
                *TYPE_EFFICIENCY,
                *TECHNOLOGY_FACTORS,
                "k_shift",
                "blockade",
            ),
        ),
    ],
)
def test_everything_a_figure_or_page_labels_has_a_display_name(section, keys):
    missing = [k for k in keys if k not in names.table()[section]]
    assert not missing, f"names.toml [{section}] lacks {missing}"


def test_metrics_shown_as_numbers_carry_a_unit():
    shown = [m for m in RUN_METRICS if m in names.table()["metrics"]]
    assert len(shown) >= 25
    assert all(names.entry("metrics", m).unit for m in shown)
    assert names.metric("spillover_share") == "Spillover share (share of fitness gained)"


def test_stage_metrics_are_named_by_their_stage_number():
    assert names.name("metrics", "stage_funding_2") == "Stage 2: funding share"


def test_an_unknown_name_reads_as_words():
    assert names.regime("spiral_without_users") == "spiral without users"
    with pytest.raises(KeyError, match="unknown names section"):
        names.entry("colours", "spiral")


def test_the_bundled_font_draws_every_chinese_character_kctsim_shows():
    missing = fonts.needed_characters() - fonts.covered_characters()
    assert not missing, f"run `python -m kctsim.fonts` to add {''.join(sorted(missing))}"
    assert fonts.font_path().stat().st_size < 200_000  # a subset, not the whole font


def test_run_help_explains_every_regime_and_type_in_the_papers_words():
    from kctsim.cli import build_parser

    run = (
        next(a for a in build_parser()._actions if a.dest == "command").choices["run"].format_help()
    )
    flat = " ".join(run.split())
    for regime in regime_names():
        assert f"{regime} = {names.regime(regime)}" in flat
    for tech in technology_names():
        assert f"{tech} = {names.technology(tech)}" in flat
    assert "the paper's cause of missing key generic technology" in flat
