"""Design points: grid, Latin hypercube, Sobol' (SALib) and explicit lists."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kctsim.config import ConfigError
from kctsim.experiment import design

UNIT_LEVERS = ["ip_protection", "social_trust", "risk_tolerance", "user_participation"]


# ---------------------------------------------------------------------- grid


def test_grid_size_is_the_product_of_the_factor_sizes():
    points = design.grid(
        {"ip_protection": [0.2, 0.5, 0.8], "cost_scale": [100.0, 200.0], "n_smes": [10, 20, 30, 40]}
    )
    assert len(points) == 3 * 2 * 4
    assert len({tuple(p.items()) for p in points}) == len(points)


def test_grid_varies_the_last_factor_fastest():
    points = design.grid({"ip_protection": [0.2, 0.8], "spillover": [0.1, 0.3]})
    assert [(p["ip_protection"], p["spillover"]) for p in points] == [
        (0.2, 0.1),
        (0.2, 0.3),
        (0.8, 0.1),
        (0.8, 0.3),
    ]


def test_grid_range_with_num_includes_both_ends():
    values = design.factor_values("spillover", {"start": 0.1, "stop": 0.5, "num": 5})
    assert values == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_grid_range_with_step_runs_up_to_stop():
    assert design.factor_values("n_smes", {"start": 10, "stop": 40, "step": 10}) == [10, 20, 30, 40]
    assert design.factor_values("spillover", {"start": 0.1, "stop": 0.35, "step": 0.1}) == (
        pytest.approx([0.1, 0.2, 0.3])
    )


def test_grid_range_rounds_integer_factors_and_drops_repeats():
    values = design.factor_values("n_smes", {"start": 1, "stop": 3, "num": 5})
    assert values == [1, 2, 3]
    assert all(isinstance(v, int) for v in values)


def test_grid_accepts_names_and_stage_weight_lists():
    points = design.grid(
        {"core_subject": ["leader_firm", "none"], "stage_weights": [[1, 1, 1], [0.2, 0.3, 0.5]]}
    )
    assert len(points) == 4
    assert points[1]["stage_weights"] == [0.2, 0.3, 0.5]


def test_grid_written_integer_factor_must_be_an_integer():
    with pytest.raises(ConfigError, match=r"design.factors.n_smes\[0\]: expected an integer"):
        design.grid({"n_smes": [10.5]})


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ({}, "at least one factor"),
        ({"spillover": []}, "empty list"),
        ({"spillover": 0.3}, "expected a list of values or a range table"),
        ({"spilover": [0.3]}, "did you mean 'spillover'"),
        ({"spillover": [1.5]}, r"outside the allowed range \[0.0, 1.0\]"),
        ({"spillover": {"start": 0.1, "stop": 0.2}}, "range table has keys"),
        ({"spillover": {"start": 0.3, "stop": 0.1, "step": 0.1}}, "step > 0 and start <= stop"),
        ({"core_subject": {"start": 0, "stop": 1, "num": 2}}, "needs a numeric factor"),
        ({"core_subject": ["leader_frim"]}, "did you mean 'leader_firm'"),
        ({"spillover": {"start": 0.0, "stop": 1.0, "step": 1e-300}}, "too many values"),
    ],
)
def test_grid_refuses_a_bad_factor(factors, message):
    with pytest.raises(ConfigError, match=message):
        design.grid(factors)


def test_grid_refuses_a_combinatorial_explosion():
    factors = {name: list(np.linspace(0, 1, 10)) for name in UNIT_LEVERS + ["spillover", "bass_p"]}
    with pytest.raises(ConfigError, match="the grid has 1000000 points"):
        design.grid(factors)


# ----------------------------------------------------------------------- lhs


def test_lhs_has_one_sample_per_stratum_in_each_dimension():
    bounds = {"ip_protection": {"min": 0.2, "max": 0.8}, "cost_scale": {"min": 50.0, "max": 300.0}}
    n = 40
    points = design.lhs(bounds, n, np.random.default_rng(1))
    assert len(points) == n
    for name, b in bounds.items():
        unit = (np.array([p[name] for p in points]) - b["min"]) / (b["max"] - b["min"])
        strata = np.floor(unit * n).astype(int)
        assert sorted(strata) == list(range(n))


def test_lhs_is_reproducible_from_its_seed():
    bounds = {"spillover": (0.1, 0.5)}
    assert design.lhs(bounds, 8, 7) == design.lhs(bounds, 8, 7)
    assert design.lhs(bounds, 8, 7) != design.lhs(bounds, 8, 8)


def test_lhs_rounds_integer_factors():
    points = design.lhs({"n_smes": {"min": 5, "max": 50}}, 10, 3)
    assert all(isinstance(p["n_smes"], int) and 5 <= p["n_smes"] <= 50 for p in points)


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({}, "at least one factor"),
        ({"spillover": [0.1, 0.5]}, r"expected bounds \{min = ..., max = ...\}"),
        ({"spillover": {"min": 0.5, "max": 0.1}}, "must be below max"),
        ({"spillover": {"min": 0.1, "max": 2.0}}, r"spillover.max: 2.0 is outside"),
        ({"spillover": {"low": 0.1, "max": 0.5}}, "exactly min and max"),
        ({"core_subject": {"min": 0, "max": 1}}, "only numeric factors"),
    ],
)
def test_lhs_refuses_bad_bounds(bounds, message):
    with pytest.raises(ConfigError, match=message):
        design.lhs(bounds, 4, 0)


# --------------------------------------------------------------------- sobol


def test_sobol_returns_n_times_d_plus_2_points_within_bounds():
    bounds = {
        "cost_scale": (75.0, 300.0),
        "spillover": (0.1, 0.5),
        "bass_p": (0.003, 0.03),
    }
    points, problem = design.sobol(bounds, 16, seed=3)
    assert len(points) == 16 * (3 + 2)
    assert problem == {
        "num_vars": 3,
        "names": ["cost_scale", "spillover", "bass_p"],
        "bounds": [[75.0, 300.0], [0.1, 0.5], [0.003, 0.03]],
    }
    for name, (lo, hi) in bounds.items():
        assert all(lo <= p[name] <= hi for p in points)


def test_sobol_points_feed_salib_analysis():
    from SALib.analyze import sobol as salib_analyze

    points, problem = design.sobol({"spillover": (0.0, 1.0), "bass_q": (0.0, 1.0)}, 256, seed=1)
    y = np.array([p["spillover"] + 0.1 * p["bass_q"] for p in points])
    indices = salib_analyze.analyze(problem, y, calc_second_order=False)
    assert indices["S1"][0] > 0.9 > indices["S1"][1]


def test_sobol_needs_a_power_of_two():
    with pytest.raises(ConfigError, match="not a power of 2"):
        design.sobol({"spillover": (0.1, 0.5)}, 12, seed=0)


# ------------------------------------------------------------------ explicit


def test_explicit_points_are_validated_and_kept_in_order():
    points = design.explicit([{"ip_protection": 0.9}, {}, {"n_smes": 10, "core_subject": "none"}])
    assert points == [{"ip_protection": 0.9}, {}, {"n_smes": 10, "core_subject": "none"}]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([], "at least one"),
        ([{"ip_protection": 2}], r"design.points\[0\].ip_protection: 2 is outside"),
        ([{}, {"spilover": 0.1}], r"design.points\[1\]: unknown key 'spilover'"),
        ([3], "expected a table"),
    ],
)
def test_explicit_refuses_bad_points(points, message):
    with pytest.raises(ConfigError, match=message):
        design.explicit(points)


def test_every_factor_has_a_kind():
    kinds = {design.factor_kind(name) for name in design.FACTOR_NAMES}
    assert kinds == {"lever", "parameter", "population", "technology"}


# -------------------------------------------------------------- hypothesis

_outside_unit = st.one_of(
    st.floats(max_value=-1e-9, allow_nan=False),
    st.floats(min_value=1.000001, allow_nan=False),
    st.just(math.nan),
    st.just(math.inf),
)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(UNIT_LEVERS), value=_outside_unit)
def test_out_of_range_unit_values_are_refused_by_every_method(name, value):
    for call in (
        lambda: design.grid({name: [value]}),
        lambda: design.explicit([{name: value}]),
        lambda: design.lhs({name: {"min": value, "max": 1.0}}, 4, 0),
        lambda: design.sobol({name: {"min": 0.0, "max": value}}, 4, 0),
    ):
        with pytest.raises(ConfigError):
            call()


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20).filter(lambda s: s not in design.FACTOR_NAMES),
    spec=st.one_of(st.floats(), st.text(), st.lists(st.floats(), max_size=3)),
)
def test_unknown_factor_names_are_refused(name, spec):
    with pytest.raises(ConfigError, match="unknown key"):
        design.grid({name: spec})
