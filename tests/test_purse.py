"""One public purse (docs/ODD.md, 7.2 and 7.10): every public payment comes out of the
government's budget, so at the defaults every regime spends the same public money, and
nothing tops the purse up; with ``budget_neutral = false`` the treasury covers rescues
and top-ups without limit, as before."""

from __future__ import annotations

import numpy as np
import pytest

from kctsim.config import ConfigError, default_parameters, regime_names, technology_names
from kctsim.experiment.scenario import ScenarioError, load_scenario
from kctsim.model import KCTModel

REPLICATES = 10
SEEDS = range(500, 500 + REPLICATES)  # a block no other test uses
TOLERANCE = 0.05  # the brief: within 5% of the regimes' mean


def _run(technology: str, regime: str, seed: int, **overrides) -> KCTModel:
    model = KCTModel(technology, regime, rng=seed, **overrides)
    while model.running:
        model.step()
    return model


def _public_spend(model: KCTModel) -> float:
    ledger = model.ledger.frame()
    return float(ledger.loc[ledger["from_type"] == "government", "amount"].sum())


def _treasury(model: KCTModel) -> float:
    ledger = model.ledger.frame()
    return float(ledger.loc[ledger["from_type"] == "treasury", "amount"].sum())


def _budget(model: KCTModel) -> float:
    """The budget over the horizon: the profile's mean is 1."""
    return float(model.params.budget * model.allocation.budget_profile.sum())


@pytest.mark.parametrize("technology", technology_names())
def test_every_regime_spends_the_same_public_money(technology):
    spend = {
        regime: np.mean([_public_spend(_run(technology, regime, s)) for s in SEEDS])
        for regime in regime_names()
    }
    mean = np.mean(list(spend.values()))
    off = {r: round(v / mean - 1, 4) for r, v in spend.items() if abs(v / mean - 1) > TOLERANCE}
    assert not off, f"{technology}: public spend off the regimes' mean {mean:.1f} by {off}"


@pytest.mark.parametrize("regime", ["jungle", "main_layout", "spiral"])
def test_no_treasury_money_beyond_the_budget_when_neutral(regime):
    # jungle rescues most, main_layout tops up state orgs, spiral withholds by matching.
    model = _run("key_generic", regime, 3)
    assert _treasury(model) == pytest.approx(_budget(model), rel=1e-12)
    assert _public_spend(model) <= _treasury(model) * (1 + 1e-12)
    assert model.orgs.capital[model.government_row] >= -1e-9


@pytest.mark.parametrize("regime", ["jungle", "main_layout"])
def test_without_neutrality_the_treasury_covers_rescues_without_limit(regime):
    neutral = _run("key_generic", regime, 3)
    unlimited = _run("key_generic", regime, 3, budget_neutral=False)
    assert _treasury(unlimited) > _budget(unlimited) * 1.01
    assert _public_spend(unlimited) > _public_spend(neutral)


def test_with_no_budget_nobody_is_rescued_or_topped_up():
    ledger = _run("key_generic", "jungle", 4, budget=0.0).ledger.frame()
    kinds = set(ledger["kind"].astype(str))
    assert not kinds & {"bailout", "soft_budget", "budget"}
    ledger = _run("key_generic", "jungle", 4, budget=0.0, budget_neutral=False).ledger.frame()
    assert {"bailout", "soft_budget"} <= set(ledger["kind"].astype(str))


def test_the_switch_is_on_by_default_and_must_be_a_boolean():
    assert default_parameters().budget_neutral is True
    for bad in (0, 1, "false", None):
        with pytest.raises(ConfigError, match="budget_neutral"):
            KCTModel("key_generic", "spiral", horizon=1, rng=0, budget_neutral=bad)


def test_a_scenario_can_switch_neutrality_off(tmp_path):
    text = 'name = "s"\nreplicates = 1\nseed = 0\n'
    text += 'technologies = ["key_generic"]\nregimes = ["jungle"]\n'
    path = tmp_path / "s.toml"
    path.write_text(text + "[parameters]\nbudget_neutral = false\n")
    assert load_scenario(path).parameters == {"budget_neutral": False}
    path.write_text(text + '[parameters]\nbudget_neutral = "no"\n')
    with pytest.raises((ConfigError, ScenarioError), match="budget_neutral"):
        load_scenario(path)
