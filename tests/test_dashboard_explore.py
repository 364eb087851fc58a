"""Explore page, rendered without a browser (solara.render): steps, controls, isolation."""

from __future__ import annotations

import time

import bqplot
import ipyvuetify as v
import numpy as np
import pytest
import solara

from kctsim.dashboard.app import Standalone
from kctsim.dashboard.explore_page import ExplorePage
from kctsim.dashboard.settings import ExploreSettings
from kctsim.dashboard.state import Session

SMALL = {
    "n_leader_firms": 2,
    "n_smes": 6,
    "n_state_orgs": 2,
    "n_universities": 2,
    "n_scientists": 6,
    "n_users": 20,
}


def small_session(**changes) -> Session:
    settings = ExploreSettings(population=dict(SMALL), horizon=30, **changes)
    return Session.new(settings)


@pytest.fixture
def page():
    session = small_session()
    _, rc = solara.render(Standalone(ExplorePage, session), handle_error=False)
    yield session, rc
    rc.close()


def click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def open_group(rc, title: str) -> None:
    rc.find(v.Btn, children=[f"▸ {title}"]).widget.click()


def select(rc, label: str, value: str) -> None:
    rc.find(v.Select, label=label).widget.v_model = value


def text_input(rc, label: str, value: str) -> None:
    field = rc.find(v.TextField, label=label).widget
    field.v_model = value
    field.fire_event("focusout")  # continuous_update=False: the value counts on leaving it


def first_line_y(rc, title: str) -> np.ndarray:
    figure = rc.find(bqplot.Figure, title=title).widget
    return np.asarray(figure.marks[0].y)


def shows(rc, fragment: str) -> bool:
    """Whether some text or message on the page contains ``fragment``."""
    widgets = [*rc.find(v.Html).widgets, *rc.find(v.Alert).widgets]
    return any(fragment in str(c) for w in widgets for c in w.children)


def test_stepping_advances_the_model_and_redraws_the_plots(page):
    session, rc = page
    before = first_line_y(rc, "Breakthrough probability over time")
    for _ in range(3):
        click(rc, "Step")
    assert session.model.value.steps == 3
    after = first_line_y(rc, "Breakthrough probability over time")
    assert len(before) == 1 and len(after) == 4
    assert shows(rc, "Tick 3 of 30")


def test_every_live_panel_is_drawn(page):
    _, rc = page
    for title in (
        "Breakthrough probability over time",
        "Best fitness against the target",
        "Spillover and free-riding",
        "Resource flows between agent types",
        "Collaboration network",
        "Diversity and lock-in",
        "Adoption by users",
    ):
        rc.find(bqplot.Figure, title=title).assert_single()


def test_changing_the_regime_resets_levers_to_the_preset_and_waits_for_reset(page):
    session, rc = page
    select(rc, "Regime preset", "jungle")
    assert session.settings.value.levers["consortium"] == "open"
    assert session.model.value.regime_name == "spiral"  # not applied yet
    assert shows(rc, "Settings changed: press Reset to apply them.")
    click(rc, "Reset")
    assert session.model.value.regime_name == "jungle"
    assert session.model.value.steps == 0


def test_changing_the_technology_shows_its_explanation_and_per_stage_fitness(page):
    session, rc = page
    select(rc, "Technology type", "major_strategic")
    assert shows(rc, "Major strategic technology (重大战略技术)")
    click(rc, "Reset")
    assert session.model.value.tech_spec.name == "major_strategic"
    rc.find(bqplot.Figure, title="Best fitness per stage, as a share of its target").assert_single()


def test_a_changed_lever_is_marked_with_its_preset_value(page):
    session, rc = page
    open_group(rc, "Appropriability and culture")
    text_input(rc, "IP protection (0–1)", "0.1")
    assert session.settings.value.changed_levers() == ["ip_protection"]
    rc.find(v.TextField, label="IP protection (0–1) ●").assert_single()
    assert shows(rc, "changed; preset value 0.6")
    rc.find(v.Btn, children=["▾ Appropriability and culture (1 changed)"]).assert_single()
    click(rc, "Reset")
    assert session.model.value.levers.ip_protection == 0.1


def test_a_bad_value_is_explained_and_reset_keeps_the_last_valid_settings(page):
    session, rc = page
    open_group(rc, "Appropriability and culture")
    text_input(rc, "Risk tolerance (0–1)", "1.7")
    assert shows(rc, "risk_tolerance: 1.7 is outside the allowed range [0.0, 1.0]")
    click(rc, "Reset")  # must not raise
    assert session.model.value.levers.risk_tolerance == 0.5
    open_group(rc, "Population, horizon, seed")
    for name in ("leader firms", "SMEs", "state-managed orgs", "universities"):
        text_input(rc, name, "0")
    assert shows(rc, "at least one organisation")
    click(rc, "Reset")
    assert session.model.value.orgs.n > 1


def test_two_tabs_do_not_share_a_model():
    first, second = small_session(), small_session()
    _, rc1 = solara.render(Standalone(ExplorePage, first), handle_error=False)
    _, rc2 = solara.render(Standalone(ExplorePage, second), handle_error=False)
    click(rc1, "Step")
    click(rc1, "Step")
    select(rc1, "Regime preset", "jungle")
    assert first.model.value is not second.model.value
    assert (first.model.value.steps, second.model.value.steps) == (2, 0)
    assert second.settings.value.regime == "spiral"
    rc1.close()
    rc2.close()


def test_reset_applies_the_seed_and_clears_the_pending_notice(page):
    session, rc = page
    select(rc, "Regime preset", "jungle")
    runs = []
    for _ in range(2):
        click(rc, "Reset")
        assert not shows(rc, "press Reset")
        for _ in range(3):
            click(rc, "Step")
        runs.append(first_line_y(rc, "Breakthrough probability over time").tolist())
    assert session.model.value.built_with["rng"] == 0
    assert runs[0] == runs[1]  # the same seed gives the same run


def test_play_steps_on_its_own_until_paused(page):
    session, rc = page
    click(rc, "▶")
    deadline = time.monotonic() + 30
    while session.model.value.steps < 2:
        assert time.monotonic() < deadline, "Play did not step"
        time.sleep(0.05)
    click(rc, "❚❚")
    paused_at = session.model.value.steps
    time.sleep(0.5)
    assert session.model.value.steps <= paused_at + 1  # a step under way may finish
