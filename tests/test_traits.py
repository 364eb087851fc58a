"""The paper's traits of the technology types, as data and mechanisms (docs/ODD.md,
sections 2.1, 7.1, 7.3 and 7.7).

* Key generic technologies (关键共性技术) have an externality: their designs leak more
  readily than the other types' (``externality``).
* Cutting-edge technologies (前沿引领技术) are a race: a foreign rival that reaches the
  target first makes its design a foreign frontier (imitable unless blockaded) and
  takes its share of the technology premium (``rival_market_share``).
* Major strategic technologies (重大战略技术) are a chain that needs coordination: work on
  a stage counts only as far as the upstream design the organisation holds or sees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kctsim.config import load_technology, technology_names
from kctsim.mechanisms import spillover
from kctsim.mechanisms.rnd import _chain_caps
from kctsim.model import KCTModel
from kctsim.state import Terrain

SEEDS = range(700, 720)  # a block no other test uses


def _run(technology, regime: str, seed: int, ticks: int | None = None, **overrides) -> KCTModel:
    model = KCTModel(technology, regime, rng=seed, **overrides)
    while model.running and (ticks is None or model.tick < ticks):
        model.step()
    return model


# ----------------------------------------------------------------- externality


def test_key_generic_has_the_highest_externality():
    externality = {t: load_technology(t).externality for t in technology_names()}
    others = [v for t, v in externality.items() if t != "key_generic"]
    assert externality["key_generic"] > max(others)


def test_leak_chance_scales_with_the_externality():
    model = KCTModel("key_generic", "spiral", rng=1)
    tech = model.tech
    base = spillover.constants(model.levers, model.params, tech).leak
    tech.spec = tech.spec.replace(externality=tech.spec.externality / 2)
    assert spillover.constants(model.levers, model.params, tech).leak == pytest.approx(base / 2)


def test_a_higher_externality_leaks_more_designs():
    def leaks(externality: float) -> float:
        tech = load_technology("key_generic").replace(externality=externality)
        total = 0
        for seed in SEEDS:
            model = KCTModel(tech, "dislocated", rng=seed)
            for _ in range(20):
                model.step()
                total += model.tick_leaks
        return total

    assert leaks(3.0) > 1.5 * leaks(1.0)


# ------------------------------------------------------------------------ race

# The rival arrives in the first quarter, before anyone could break through.
RIVAL_NOW = load_technology("cutting_edge").replace(rival_hazard=1.0)


def _premium_paid(model: KCTModel, tick: int) -> float:
    ledger = model.ledger.frame()
    paid = ledger[(ledger["kind"] == "premium_revenue") & (ledger["tick"] == tick)]
    return float(paid["amount"].sum())


@pytest.mark.parametrize("share", [0.0, 0.58, 1.0])
def test_a_rival_first_takes_its_share_of_the_premium(share):
    tech = RIVAL_NOW.replace(rival_market_share=share)
    model = _run(tech, "jungle", 3, ticks=3)
    assert model.rival_tick == 1 and model.breakthrough_tick < 0
    size = model.params.market_size
    for tick in (1, 2, 3):
        assert _premium_paid(model, tick) == pytest.approx(size * (1 - share), abs=1e-9)


def test_without_a_rival_the_whole_premium_is_paid():
    tech = load_technology("cutting_edge").replace(rival_hazard=0.0)
    model = _run(tech, "jungle", 3, ticks=3)
    for tick in (1, 2, 3):
        assert _premium_paid(model, tick) == pytest.approx(model.params.market_size, rel=1e-12)


def test_a_rival_first_makes_its_design_the_foreign_frontier():
    before = KCTModel(RIVAL_NOW, "jungle", rng=4)
    assert (before.tech.foreign < 0).all()
    model = _run(RIVAL_NOW, "jungle", 4, ticks=1)
    foreign = model.tech.foreign
    assert (foreign == model.tech.rival_design).all()
    # The rival's design is past the gate: it reached the target.
    table = model.tech.fitness_table()
    for s, design in enumerate(foreign):
        assert table[s, design] >= model.tech.gates[s]
    # Start designs still keep their distance from the original frontier only.
    assert (model.tech.frontier < 0).all()


def test_only_a_rival_makes_foreign_knowledge_available():
    def foreign_gain(tech) -> float:
        gain = 0.0
        for seed in SEEDS:
            model = _run(tech, "path_dependent", seed, ticks=30)
            gain += model.spill_matrix[-1].sum()  # the foreign source's row
        return gain

    no_rival = load_technology("cutting_edge").replace(rival_hazard=0.0)
    assert foreign_gain(no_rival) == 0.0
    assert foreign_gain(RIVAL_NOW.replace(blockade=0.0)) > 0.0


def test_a_domestic_lead_keeps_the_premium():
    # Find a run that breaks through before a rival arriving at rate 0.05 a quarter.
    tech = load_technology("cutting_edge").replace(rival_hazard=0.05)
    for seed in range(200):
        model = _run(tech, "jungle", seed)
        if 0 <= model.breakthrough_tick < model.rival_tick:
            break
    else:
        pytest.skip("no run broke through before the rival")
    assert (model.tech.foreign < 0).all()  # the rival arrived second: nothing to imitate
    size = model.params.market_size
    assert _premium_paid(model, model.rival_tick) == pytest.approx(size, rel=1e-12)
    assert model.latest["lead"] == 1.0


# ----------------------------------------------------------------------- chain


def _terrain(gates: np.ndarray, table: np.ndarray) -> Terrain:
    S = len(gates)
    return Terrain(
        table, np.full(S, 2, np.int64), gates, np.full(S, -1, np.int64), np.full(S, -1, np.int64)
    )


def test_chain_caps_count_only_upstream_knowledge_a_row_holds_or_sees():
    # Three stages, gates 1; designs 0..3 with fitness 0.2, 0.5, 0.8, 1.0 on every stage.
    table = np.tile(np.array([0.2, 0.5, 0.8, 1.0]), (3, 1))
    gates = np.ones(3)
    raw = np.array(
        [
            [1.0, 1.0, 0.2],  # holds the best upstream designs itself
            [0.2, 0.2, 0.2],  # holds poor ones and sees nothing
            [0.2, 0.2, 0.2],  # holds poor ones but sees design 2 (0.8) on both stages
        ]
    )
    progress = np.array([1.0, 1.0, 0.2])  # the system has passed the first two stages
    visible = np.array([[0, 0, 0], [0, 0, 0], [2, 2, 0]], dtype=np.int64)
    visible_row = np.array([[-1, -1, -1], [-1, -1, -1], [0, 0, -1]], dtype=np.int64)
    caps = _chain_caps(3, 3, raw, progress, _terrain(gates, table), visible, visible_row)
    assert np.isinf(caps[:, 0]).all()
    assert caps[0, 1:] == pytest.approx([1.0, 1.0])
    assert caps[1, 1:] == pytest.approx([0.2, 0.2])
    assert caps[2, 1:] == pytest.approx([0.8, 0.8])


def test_a_seen_design_counts_only_as_far_as_the_system_has_come():
    table = np.tile(np.array([0.2, 0.5, 0.8, 1.0]), (3, 1))
    raw = np.full((1, 3), 0.2)
    progress = np.array([0.5, 1.0, 0.0])  # stage 1's best counts only up to 0.5
    visible = np.array([[0, 3, 0]], dtype=np.int64)
    visible_row = np.array([[-1, 0, -1]], dtype=np.int64)
    caps = _chain_caps(1, 3, raw, progress, _terrain(np.ones(3), table), visible, visible_row)
    assert caps[0, 2] == pytest.approx(0.5)


def test_a_single_stage_is_never_capped():
    raw = np.array([[0.1], [0.9]])
    caps = _chain_caps(
        2,
        1,
        raw,
        np.array([0.9]),
        _terrain(np.ones(1), np.array([[0.1, 0.9, 0.5, 0.2]])),
        np.zeros((2, 1), np.int64),
        np.full((2, 1), -1, np.int64),
    )
    assert np.isinf(caps).all()


# ------------------------------------------------------------------ race table


def test_race_table_counts_who_came_first():
    from kctsim.analysis.propositions import Proposition
    from kctsim.analysis.race import race_table

    runs = pd.DataFrame(
        {
            "technology": "cutting_edge",
            "regime": ["jungle"] * 4 + ["spiral"] * 4,
            # jungle: two domestic leads, one rival first, one neither
            "lead": [1.0, 1.0, 0.0, np.nan, 0.0, 0.0, 0.0, np.nan],
            # a domestic breakthrough after the rival still counts as a breakthrough
            "breakthrough_tick": [3.0, 9.0, 40.0, np.nan, 50.0, np.nan, np.nan, np.nan],
        }
    )
    props = [
        Proposition("P5", "", "", "cutting_edge", "jungle", ("spiral",)),
        Proposition("P4", "", "", "key_generic", "spiral", ("jungle",)),  # no rival
    ]
    table = race_table(runs, props).set_index("regime")
    assert list(table["proposition"].unique()) == ["P5"]
    assert table.loc["jungle", "domestic_first"] == 0.5
    assert table.loc["jungle", "rival_first"] == 0.25
    assert table.loc["jungle", "neither"] == 0.25
    assert table.loc["jungle", "lead"] == pytest.approx(2 / 3)
    assert table.loc["spiral", "lead"] == 0.0
