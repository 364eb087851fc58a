"""What the explore panels read from a running model, and the paper's explanations."""

from __future__ import annotations

import numpy as np
import pytest

from kctsim.config import regime_names, technology_names
from kctsim.dashboard import explain
from kctsim.dashboard.series import FlowTally, network_view, series, ticks
from kctsim.ledger import ACCOUNT_TYPES
from kctsim.model import KCTModel

SMALL = {
    "n_leader_firms": 2,
    "n_smes": 5,
    "n_state_orgs": 2,
    "n_universities": 2,
    "n_scientists": 4,
    "n_users": 20,
}


@pytest.fixture
def model() -> KCTModel:
    return KCTModel(technology="key_generic", regime="spiral", horizon=20, rng=3, **SMALL)


def test_flow_tally_read_tick_by_tick_equals_the_whole_ledger(model):
    tally = FlowTally(model.ledger)
    for _ in range(6):
        model.step()
        tally.update()
    frame = model.ledger.frame()
    whole = frame.groupby(["from_type", "to_type"], observed=True)["amount"].sum()
    for (a, b), amount in whole.items():
        got = tally.totals[ACCOUNT_TYPES.index(a), ACCOUNT_TYPES.index(b)]
        assert got == pytest.approx(amount)
    assert tally.totals.sum() == pytest.approx(frame["amount"].sum())


def test_top_pairs_are_between_agent_types_largest_first(model):
    for _ in range(3):
        model.step()
    pairs = FlowTally(model.ledger).top_pairs(5)
    amounts = [amount for _, amount in pairs]
    assert amounts == sorted(amounts, reverse=True) and all(a > 0 for a in amounts)
    assert not any("treasury" in label or "market" in label for label, _ in pairs)


def test_network_view_has_a_node_per_organisation_in_the_network(model):
    model.step()
    graph = model.collaboration_graph()
    view = network_view(model)
    assert len(view.x) == graph.number_of_nodes() == sum(view.counts.values())
    assert view.edge_x.shape == (graph.number_of_edges(), 2)
    assert np.allclose(view.x**2 + view.y**2, 1.0)


def test_series_grow_by_one_value_per_step(model):
    model.step()
    model.step()
    s = series(model, "p_breakthrough", "adoption_share")
    assert ticks(model).tolist() == [0, 1, 2]
    assert all(len(values) == 3 for values in s.values())


def test_every_shipped_type_and_regime_has_the_papers_explanation():
    assert set(explain.technologies()) == set(technology_names())
    assert set(explain.regimes()) == set(regime_names())
    for item in [*explain.technologies().values(), *explain.regimes().values()]:
        assert item.plain and item.quote
    assert set(explain.default_compare_regimes()) <= set(regime_names())


def test_a_regime_without_a_paper_entry_falls_back_to_its_data_description(monkeypatch):
    monkeypatch.setattr(explain, "regimes", lambda: {})
    assert "open self-organised teams" in explain.regime_explanation("jungle").plain
