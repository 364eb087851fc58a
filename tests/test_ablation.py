"""The ablation over lever groups: its design and its Shapley attribution, against
games whose answer is known (analysis/ablation.py)."""

from itertools import permutations

import numpy as np
import pandas as pd
import pytest

from kctsim.analysis import ablation as ab
from kctsim.analysis.propositions import Proposition, load_propositions
from kctsim.config import LEVER_GROUPS, load_regime
from kctsim.experiment.scenario import parse_scenario

N = len(ab.GROUPS)


def _game(v, n=N):
    """The values of every coalition (by mask) of a game given as a function of sets."""
    return np.array([v({j for j in range(n) if m >> j & 1}) for m in range(1 << n)], float)


def _shapley_by_orderings(values, n):
    """The definition: each player's marginal contribution averaged over every order."""
    out = np.zeros(n)
    orders = list(permutations(range(n)))
    for order in orders:
        mask = 0
        for j in order:
            out[j] += values[mask | 1 << j] - values[mask]
            mask |= 1 << j
    return out / len(orders)


# ------------------------------------------------------------------ Shapley


def test_an_additive_game_gives_each_group_its_own_effect():
    own = np.array([3.0, -1.0, 0.5, 0.0, 2.0])
    assert ab.shapley(_game(lambda s: own[list(s)].sum())) == pytest.approx(own)


def test_a_pure_interaction_is_split_equally_between_the_two_groups():
    values = _game(lambda s: 4.0 if {0, 2} <= s else 0.0)
    assert ab.shapley(values) == pytest.approx([2.0, 0.0, 2.0, 0.0, 0.0])


def test_the_shapley_values_add_up_to_the_whole_effect():
    rng = np.random.default_rng(3)
    values = rng.normal(size=1 << N)
    values[0] = 0.0
    assert ab.shapley(values).sum() == pytest.approx(values[-1])


def test_shapley_matches_the_average_over_every_order_of_switching():
    rng = np.random.default_rng(4)
    values = rng.normal(size=1 << 4)
    assert ab.shapley(values) == pytest.approx(_shapley_by_orderings(values, 4))


def test_a_group_that_changes_nothing_gets_nothing():
    values = _game(lambda s: 2.0 * (1 in s) + 1.5 * (1 in s and 3 in s))
    phi = ab.shapley(values)
    assert phi[[0, 2, 4]] == pytest.approx(0.0)
    assert phi[1] == pytest.approx(2.75) and phi[3] == pytest.approx(0.75)


def test_shapley_carries_the_replicate_axis_along():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(1 << 3, 7))
    values[0] = 0.0
    per_replicate = ab.shapley(values)
    assert per_replicate.shape == (3, 7)
    assert per_replicate.mean(axis=1) == pytest.approx(ab.shapley(values.mean(axis=1)))


def test_shapley_refuses_a_table_that_is_not_every_coalition():
    with pytest.raises(ValueError, match="2\\^n"):
        ab.shapley(np.zeros(6))


# ----------------------------------------------------------------- intervals


def _additive_replicates(rng, own, n_rep, sd=1.0):
    """v_i(S) = sum over S of (own_g + noise_ig): each replicate an additive game."""
    noisy = own[:, None] + rng.normal(scale=sd, size=(len(own), n_rep))
    masks = np.arange(1 << len(own))
    members = (masks[:, None] >> np.arange(len(own))) & 1  # (coalitions, groups)
    return members @ noisy


def test_the_attribution_is_conserved_and_its_intervals_bracket_the_estimates():
    rng = np.random.default_rng(6)
    own = np.array([2.0, 0.0, -1.0, 0.5, 1.0])
    a = ab.attribute(_additive_replicates(rng, own, 60), np.random.default_rng(0))
    assert a.shapley.sum() == pytest.approx(a.effect)
    assert np.all(a.low <= a.shapley) and np.all(a.shapley <= a.high)
    assert a.effect_low <= a.effect <= a.effect_high
    assert a.replicates == 60


def test_the_intervals_cover_an_additive_game_at_about_their_level():
    rng = np.random.default_rng(7)
    own = np.array([1.0, -0.5, 0.0, 2.0, 0.3])
    trials, covered = 200, np.zeros(len(own))
    for _ in range(trials):
        values = _additive_replicates(rng, own, 40)
        a = ab.attribute(values, rng, n_resamples=999)
        covered += (a.low <= own) & (own <= a.high)
    coverage = covered / trials
    # Nominal 95%; the percentile bootstrap of a mean of 40 runs slightly under it.
    assert np.all(coverage > 0.88) and np.all(coverage < 0.995), coverage


def test_a_game_without_noise_has_zero_width_intervals():
    values = np.repeat(_game(lambda s: float(len(s)))[:, None], 5, axis=1)
    a = ab.attribute(values, np.random.default_rng(0))
    assert a.shapley == pytest.approx(np.ones(N)) and np.all(a.low == a.high)


def test_one_replicate_gives_no_interval():
    with pytest.raises(ValueError, match="two replicates"):
        ab.attribute(np.zeros((1 << N, 1)), np.random.default_rng(0))


# -------------------------------------------------------------------- design


def test_there_are_five_lever_groups_and_every_lever_is_in_one():
    assert len(ab.GROUPS) == 5
    assert sum(len(LEVER_GROUPS[g]) for g in ab.GROUPS) == len(
        {n for g in ab.GROUPS for n in LEVER_GROUPS[g]}
    )


def test_each_proposition_steps_from_each_worse_regime_to_its_mode():
    steps = ab.steps(load_propositions())
    assert [(s.proposition, s.start, s.mode) for s in steps[:3]] == [
        ("P1", "dislocated", "spiral"),
        ("P2", "path_dependent", "jungle"),
        ("P3", "misallocated", "main_layout"),
    ]
    assert len(steps) == 9  # P4 to P6: two rivals each


@pytest.mark.parametrize("step", ab.steps(load_propositions()), ids=str)
def test_a_coalition_takes_exactly_its_groups_levers_from_the_mode(step):
    start, mode = load_regime(step.start), load_regime(step.mode)
    coalitions = ab.design(step)
    assert [c.mask for c in coalitions] == list(range(1 << N))
    assert coalitions[0].regime == step.start and coalitions[0].changes == {}
    assert coalitions[-1].regime == step.mode
    assert start.replace(**coalitions[-1].changes) == mode
    for c in coalitions:
        levers = start.replace(**c.changes)
        for j, group in enumerate(ab.GROUPS):
            source = mode if c.mask >> j & 1 else start
            for name in LEVER_GROUPS[group]:
                assert getattr(levers, name) == getattr(source, name), (c.regime, name)


def test_coalitions_that_differ_only_in_shared_groups_are_one_regime():
    # Subject dislocation and Spiral Progressive set the same entry rate.
    step = ab.Step("P1", "key_generic", "dislocated", "spiral")
    coalitions = ab.design(step)
    entry = 1 << ab.GROUPS.index("Entry")
    assert all(coalitions[m].regime == coalitions[m | entry].regime for m in range(1 << N))
    assert len({c.regime for c in coalitions}) == 16
    assert coalitions[0b00101].regime == "dislocated-spiral-10100"


def test_the_ablation_scenario_runs_every_coalition_with_common_seeds():
    steps = [s for s in ab.steps(load_propositions()) if s.technology == "key_generic"]
    designs = {s: ab.design(s) for s in steps}
    text = ab.scenario_text("key_generic", designs, 20, 4, 99, 1.5)
    scenario = parse_scenario(text, "<ablation>")
    assert scenario.horizon == 20 and scenario.parameters["cost_scale"] == 1.5
    assert scenario.output.metrics == "none" and scenario.output.ledger == "none"
    for step, coalitions in designs.items():
        start = load_regime(step.start)
        for c in coalitions:
            assert scenario.regime_levers[c.regime] == start.replace(**c.changes)
    runs = scenario.runs()
    seeds = {(s.regime, s.replicate): (s.seed_entropy, s.spawn_key) for s in runs}
    assert {seeds[(r, 2)] for r in scenario.regimes} == {(99, (2,))}
    with pytest.raises(ValueError, match="not a step on"):
        ab.scenario_text("cutting_edge", designs, 20, 4, 99, 1.5)


# --------------------------------------------------------------- from runs


def _runs(effects: dict[str, float], n_rep: int, technology: str) -> pd.DataFrame:
    """Runs whose breakthrough tick is 10 minus the regime's effect, plus replicate noise."""
    rng = np.random.default_rng(11)
    noise = rng.integers(-2, 3, size=n_rep)
    rows = [
        {
            "run_id": k,
            "technology": technology,
            "regime": regime,
            "replicate": i,
            "status": "ok",
            "horizon": 20,
            "breakthrough_tick": float(10 - gain + noise[i]),
        }
        for k, (regime, gain, i) in enumerate(
            (r, g, i) for r, g in effects.items() for i in range(n_rep)
        )
    ]
    return pd.DataFrame(rows)


def test_the_table_recovers_group_effects_built_into_the_runs():
    prop = Proposition("P1", "", "", "key_generic", "spiral", ("dislocated",))
    step = ab.steps([prop])[0]
    own = {"Who leads and funds": 3.0, "Collaboration": 1.0, "Appropriability and culture": -1.0}
    own |= {"Chain and timing (major strategic)": 0.0}
    gains = {}
    for c in ab.design(step):
        gains[c.regime] = sum(v for j, (g, v) in enumerate(own.items()) if c.mask >> j & 1)
    table = ab.ablation_table(_runs(gains, 8, "key_generic"), [prop], tau=20)
    assert list(table.columns) == list(ab.COLUMNS)
    by_group = table.set_index("group")
    for group, value in own.items():
        assert by_group.loc[group, "shapley"] == pytest.approx(value)
    assert by_group.loc["Entry", "shapley"] == 0.0  # the two regimes share the entry rate
    assert table["effect"].iloc[0] == pytest.approx(3.0)
    assert by_group["share"].sum() == pytest.approx(1.0)
    assert ab.leading_group(table)["group"] == "Who leads and funds"
    assert table["binding"].all() and (table["replicates"] == 8).all()


def test_the_binding_rival_is_the_one_the_mode_beats_by_least():
    prop = Proposition("P4", "", "", "key_generic", "spiral", ("jungle", "main_layout"))
    # Spiral breaks through at 10 - 5, jungle at 10 - 3 (2 quarters later), main layout
    # at 10 - 4 (1 quarter later); every coalition between them at its start's tick.
    gains = {"spiral": 5.0, "jungle": 3.0, "main_layout": 4.0}
    for step in ab.steps([prop]):
        for c in ab.design(step):
            gains.setdefault(c.regime, gains[step.start])
    runs = _runs(gains, 6, "key_generic")
    table = ab.ablation_table(runs, [prop], tau=20)
    effects = table.groupby("start")["effect"].first()
    assert effects["jungle"] == pytest.approx(2.0) and effects["main_layout"] == pytest.approx(1.0)
    assert set(table.loc[table["binding"], "start"]) == {"main_layout"}
    assert ab.binding_rivals(runs, [prop], tau=20) == {"P4": "main_layout"}
