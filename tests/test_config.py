"""Inputs are validated once, before a model is built, with messages that help."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kctsim.config import (
    AGENT_TYPES,
    ConfigError,
    default_parameters,
    load_regime,
    load_technology,
    regime_names,
    technology_names,
)
from kctsim.model import KCTModel


def build(**kwargs):
    return KCTModel(**({"horizon": 2} | kwargs))


# ------------------------------------------------------------ unknown keys


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("cost_scal", "cost_scale"),  # a parameter
        ("n_sme", "n_smes"),  # a population size
        ("ip_protectoin", "ip_protection"),  # a lever
        ("risk_tolerence", "risk_tolerance"),  # a lever
    ],
)
def test_unknown_model_keyword_names_the_key_and_suggests_the_right_one(key, meant):
    with pytest.raises(ConfigError) as err:
        build(**{key: 0.5})
    message = str(err.value)
    assert repr(key) in message
    assert f"did you mean {meant!r}" in message


def test_unknown_lever_in_a_replace_suggests_the_lever():
    with pytest.raises(ConfigError, match=r"did you mean 'ip_protection'"):
        load_regime("spiral").replace(ip_protectoin=0.2)


def test_unknown_parameter_in_parameters_replace_suggests_the_parameter():
    with pytest.raises(ConfigError, match=r"did you mean 'bass_q'"):
        default_parameters().replace(bass_qq=0.1)


def test_unknown_regime_names_the_allowed_regimes():
    with pytest.raises(ConfigError) as err:
        KCTModel(regime="nosuch")
    message = str(err.value)
    assert "'nosuch'" in message
    for name in regime_names():
        assert name in message


def test_misspelt_regime_and_technology_get_a_suggestion():
    with pytest.raises(ConfigError, match=r"did you mean 'spiral'"):
        KCTModel(regime="spiarl")
    with pytest.raises(ConfigError) as err:
        KCTModel(technology="key_genric")
    assert "did you mean 'key_generic'" in str(err.value)
    for name in technology_names():
        assert name in str(err.value)


# ------------------------------------------------------------ out of range


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bass_p", -0.1),  # a negative probability
        ("spillover", 1.2),  # a probability above 1
        ("usable_fraction", -0.5),
        ("ip_protection", 1.5),  # a lever in [0, 1]
        ("risk_tolerance", -0.01),
        ("risk_tolerance", math.nan),
        ("imitation_bias", math.inf),
        ("n_smes", -1),
        ("n_users", -5),
        ("horizon", 0),
        ("horizon", 2.5),  # not an integer
        ("cost_scale", 0.0),
        ("bass_q", "0.1"),  # not a number
    ],
)
def test_out_of_range_value_raises_naming_the_key(key, value):
    with pytest.raises(ConfigError) as err:
        build(**{key: value})
    assert key in str(err.value)


def test_choice_lever_outside_its_set_names_the_allowed_values():
    with pytest.raises(ConfigError) as err:
        build(core_subject="leaderfirm")
    message = str(err.value)
    assert "core_subject" in message and "did you mean 'leader_firm'" in message


def test_a_model_without_any_organisation_is_refused():
    with pytest.raises(ConfigError):
        build(n_leader_firms=0, n_smes=0, n_state_orgs=0, n_universities=0)


def test_stage_weights_must_match_the_chain():
    with pytest.raises(ConfigError, match="stage_weights"):
        build(technology="major_strategic", stage_weights=[0.5, 0.5])


# ------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", ["abc", -3, 1.5, [1, 2]])
def test_a_bad_seed_fails_clearly(seed):
    with pytest.raises(ConfigError, match="rng"):
        build(rng=seed)


def test_a_numeric_string_seed_is_the_integer_seed():
    # Dashboards hand seeds over as text (MESA_NOTES.md): "7" must mean 7.
    a, b = build(rng="7"), build(rng=7)
    a.step()
    b.step()
    assert a.datacollector.get_model_vars_dataframe().equals(
        b.datacollector.get_model_vars_dataframe()
    )


# ------------------------------------------------------------------ frozen


def test_levers_are_frozen():
    levers = load_regime("spiral")
    with pytest.raises(dataclasses.FrozenInstanceError):
        levers.ip_protection = 0.3  # type: ignore[misc]
    assert levers.replace(ip_protection=0.3).ip_protection == 0.3
    assert levers.ip_protection == load_regime("spiral").ip_protection


def test_technology_types_are_frozen():
    spec = load_technology("key_generic")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.blockade = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.stages[0].k = 1  # type: ignore[misc]


def test_levers_replace_validates():
    with pytest.raises(ConfigError, match="ip_protection"):
        load_regime("spiral").replace(ip_protection=2.0)


def test_one_types_rnd_efficiency_is_a_parameter_by_its_flat_name():
    params = default_parameters().replace(rnd_efficiency_state_org=2.0)
    assert params.agent_types["state_org"].rnd_efficiency == 2.0
    others = [t for t in params.agent_types if t != "state_org"]
    assert all(params.agent_types[t] == default_parameters().agent_types[t] for t in others)
    model = KCTModel(technology="key_generic", horizon=1, rng=0, rnd_efficiency_state_org=2.0)
    rows = model.orgs.type[: len(model.org_agents)] == AGENT_TYPES.index("state_org")
    assert (model.orgs.efficiency[: len(model.org_agents)][rows] == 2.0).all()
    with pytest.raises(ConfigError, match="rnd_efficiency_sme"):
        default_parameters().replace(rnd_efficiency_sme=-1.0)


def test_robustness_varies_imitation_cost_around_the_evidence_and_each_types_efficiency():
    from kctsim.analysis.suite import robustness_factors

    bounds = robustness_factors("key_generic", 94.87)
    assert bounds["imitation_cost"] == (0.3, 1.0)
    assert all(bounds[f"rnd_efficiency_{t}"] == (0.5, 2.0) for t in AGENT_TYPES)
