"""Explore page settings: presets as defaults, changed levers, clear messages for bad values."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kctsim.config import LEVER_NAMES, load_regime, regime_names
from kctsim.dashboard.settings import (
    LEVER_GROUPS,
    ExploreSettings,
    parse_weights,
    preset_levers,
    validate,
)
from kctsim.model import KCTModel

SMALL = {
    "n_leader_firms": 1,
    "n_smes": 3,
    "n_state_orgs": 1,
    "n_universities": 1,
    "n_scientists": 3,
    "n_users": 10,
}


def test_every_lever_is_in_exactly_one_group():
    grouped = [name for names in LEVER_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(LEVER_NAMES)


@pytest.mark.parametrize("regime", regime_names())
def test_switching_regime_takes_the_presets_values(regime):
    settings = ExploreSettings().with_lever("ip_protection", 0.01).with_regime(regime)
    assert settings.levers == preset_levers(regime)
    assert settings.changed_levers() == []
    assert validate(settings) == {}


def test_a_changed_lever_is_reported_and_passed_to_the_model():
    settings = ExploreSettings(regime="jungle").with_lever("ip_protection", 0.05)
    assert settings.changed_levers() == ["ip_protection"]
    kwargs = settings.model_kwargs()
    assert kwargs["ip_protection"] == 0.05
    assert "social_trust" not in kwargs  # unchanged levers come from the preset
    model = KCTModel(**{**kwargs, **SMALL})
    assert model.levers == load_regime("jungle").replace(ip_protection=0.05)


def test_unchanged_settings_build_the_preset_under_its_own_name():
    model = KCTModel(**{**ExploreSettings(regime="main_layout").model_kwargs(), **SMALL})
    assert model.regime_name == "main_layout"


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_a_probability_outside_the_unit_interval_gets_a_message(value):
    errors = validate(ExploreSettings().with_lever("risk_tolerance", value))
    assert list(errors) == ["risk_tolerance"]
    assert "outside the allowed range [0.0, 1.0]" in errors["risk_tolerance"]


def test_zero_organisations_gets_a_message():
    settings = ExploreSettings()
    for name in ("n_leader_firms", "n_smes", "n_state_orgs", "n_universities"):
        settings = settings.with_population(name, 0)
    errors = validate(settings)
    assert "at least one organisation" in errors["population"]


def test_a_negative_population_or_seed_and_a_zero_horizon_get_messages():
    settings = replace(ExploreSettings().with_population("n_users", -5), horizon=0, seed=-1)
    errors = validate(settings)
    assert set(errors) == {"n_users", "horizon", "seed"}
    assert "users" in errors["n_users"]


def test_stage_weights_must_match_the_chain():
    settings = ExploreSettings(technology="major_strategic").with_lever("stage_weights", (0.5, 0.5))
    assert "one weight per stage" in validate(settings)["stage_weights"]


def test_weights_that_do_not_parse_get_a_message():
    assert parse_weights("0.2, 0.3,0.5") == (0.2, 0.3, 0.5)
    errors = validate(ExploreSettings().with_lever("stage_weights", parse_weights("a, b")))
    assert "stage_weights" in errors


def test_an_unknown_choice_gets_a_message():
    errors = validate(ExploreSettings().with_lever("core_subject", "nobody"))
    assert "core_subject" in errors and "allowed" in errors["core_subject"]
