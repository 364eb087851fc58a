"""Money is conserved: every change of an organisation's capital is a ledger row.

Booking convention checked here (see ``kctsim.mechanisms.people.seed_capital``):
organisations present at tick 0 start with ``capital0`` that is *not* in the
ledger; organisations that enter later (start-ups) receive their starting
capital as a ``seed_capital`` row from the market. So for every organisation
row, exited ones included:

    capital_final == (capital0 if born at tick 0 else 0) + ledger net inflow(uid)

The government row starts at 0, so its balance equals its net ledger inflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kctsim.ledger import ACCOUNT_TYPES, NO_ID
from kctsim.model import KCTModel

HORIZON = 30
SEED = 3
TECHNOLOGIES = ("key_generic", "cutting_edge", "major_strategic")
# spiral: matching, benefit sharing; main_layout: soft budgets, state hub;
# jungle: open teams, many start-ups; dislocated: the government's own research.
REGIMES = ("spiral", "main_layout", "jungle", "dislocated")
CASES = [(t, g) for t in TECHNOLOGIES for g in REGIMES]
ORG_TYPES = ACCOUNT_TYPES[:5]
NON_AGENT = ("treasury", "market", "rnd")

RTOL, ATOL = 1e-10, 1e-8


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], KCTModel]:
    out = {}
    for technology, regime in CASES:
        model = KCTModel(technology, regime, horizon=HORIZON, rng=SEED)
        while model.running:
            model.step()
        out[technology, regime] = model
    return out


@pytest.mark.parametrize(("technology", "regime"), CASES)
def test_every_organisations_capital_equals_its_ledger_balance(runs, technology, regime):
    model = runs[technology, regime]
    o = model.orgs
    net = model.ledger.net_by_account()
    uid, born = o.view("uid"), o.view("born")
    capital, capital0 = o.view("capital"), o.view("capital0")
    start = np.where(born == 0, capital0, 0.0)
    booked = np.array([net.get(int(u), 0.0) for u in uid])
    expected = start + booked
    bad = ~np.isclose(capital, expected, rtol=RTOL, atol=ATOL)
    assert not bad.any(), (
        f"{bad.sum()} of {o.n} rows off; first: row {np.flatnonzero(bad)[0]}, "
        f"type {o.type[np.flatnonzero(bad)[0]]}, born {born[bad][0]}, alive {o.alive[bad][0]}, "
        f"capital {capital[bad][0]!r} vs start+ledger {expected[bad][0]!r}"
    )


@pytest.mark.parametrize(("technology", "regime"), CASES)
def test_government_balance_equals_its_ledger_balance(runs, technology, regime):
    model = runs[technology, regime]
    gov = model.government_row
    net = model.ledger.net_by_account()
    assert model.orgs.capital0[gov] == 0.0
    assert np.isclose(model.orgs.capital[gov], net[int(model.orgs.uid[gov])], rtol=RTOL, atol=ATOL)
    assert model.orgs.capital[gov] >= -ATOL, "the government never runs a negative balance"


@pytest.mark.parametrize(("technology", "regime"), CASES)
def test_ledger_is_double_entry_with_positive_amounts(runs, technology, regime):
    ledger = runs[technology, regime].ledger.frame()
    assert len(ledger) > 0
    amount = ledger["amount"].to_numpy()
    assert np.isfinite(amount).all()
    assert (amount > 0).all(), "zero or negative amounts in the ledger"
    # Inflows minus outflows over every account (agents, treasury, market, rnd, users) is zero.
    flows = pd.DataFrame(
        {
            "type": np.concatenate(
                [ledger["to_type"].astype(str), ledger["from_type"].astype(str)]
            ),
            "id": np.concatenate([ledger["to_id"], ledger["from_id"]]),
            "flow": np.concatenate([amount, -amount]),
        }
    )
    balance = flows.groupby(["type", "id"])["flow"].sum()
    assert np.isclose(balance.sum(), 0.0, atol=1e-9 * amount.sum())
    # The external accounts' net equals minus the money that ended up inside.
    kind = balance.index.get_level_values("type")
    external = balance[kind.isin((*NON_AGENT, "user"))].sum()
    inside = balance[kind.isin(ORG_TYPES)].sum()
    assert np.isclose(external, -inside, rtol=RTOL, atol=1e-9 * amount.sum())


@pytest.mark.parametrize(("technology", "regime"), CASES)
def test_ledger_parties_are_real_accounts_of_the_stated_type(runs, technology, regime):
    model = runs[technology, regime]
    ledger = model.ledger.frame()
    o, u = model.orgs, model.users
    org_type = dict(zip(o.view("uid").tolist(), o.view("type").tolist(), strict=True))
    user_ids = set(u.view("uid").tolist())
    for side in ("from", "to"):
        types = ledger[f"{side}_type"].astype(str).to_numpy()
        ids = ledger[f"{side}_id"].to_numpy()
        external = np.isin(types, NON_AGENT)
        assert (ids[external] == NO_ID).all(), f"{side}: a treasury/market/rnd row carries an id"
        users = types == "user"
        assert set(ids[users].tolist()) <= user_ids
        for t, i in zip(types[~external & ~users], ids[~external & ~users], strict=True):
            assert i in org_type, f"{side}: unknown organisation id {i}"
            assert ORG_TYPES[org_type[i]] == t, f"{side}: id {i} booked as {t}"
    # Money leaves the system only into R&D and comes only from the treasury.
    assert (ledger["to_type"] != "treasury").all()
    assert (ledger["from_type"] != "rnd").all()
    assert (ledger["from_type"] != "government").any()
    assert (ledger["to_type"] != "user").all(), "users pay; they are never paid"


@pytest.mark.parametrize(("technology", "regime"), CASES)
def test_users_pay_price_times_adopters_each_tick(runs, technology, regime):
    model = runs[technology, regime]
    ledger = model.ledger.frame()
    metrics = model.datacollector.get_model_vars_dataframe()
    paid = (
        ledger[ledger["kind"] == "user_revenue"]
        .groupby("tick")["amount"]
        .sum()
        .reindex(metrics["tick"].to_numpy(), fill_value=0.0)
        .to_numpy()
    )
    expected = model.params.price * metrics["adoption_share"].to_numpy() * metrics["n_user"]
    np.testing.assert_allclose(paid, expected.to_numpy(), rtol=1e-9, atol=1e-9)


def test_the_runs_exercise_every_kind_of_transfer(runs):
    # Otherwise the identities above would be checked on too little.
    kinds = set()
    for model in runs.values():
        kinds |= set(model.ledger.frame()["kind"].astype(str))
    needed = {
        "budget",
        "grant",
        "block_grant",
        "matching",
        "contract",
        "consortium_contribution",
        "benefit_share",
        "user_revenue",
        "base_revenue",
        "premium_revenue",
        "operating_cost",
        "rnd_spend",
        "bailout",
        "soft_budget",
        "seed_capital",
    }
    assert needed <= kinds, f"never booked: {sorted(needed - kinds)}"
    exits = sum(int((m.orgs.view("died") >= 0).sum()) for m in runs.values())
    entries = sum(int((m.orgs.view("born") > 0).sum()) for m in runs.values())
    assert exits > 0 and entries > 0
