"""Scenario files: every shipped one loads and expands; bad ones fail clearly, writing nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kctsim.config import ConfigError, load_regime
from kctsim.experiment.scenario import (
    TOP_KEYS,
    ScenarioError,
    load_scenario,
    parse_scenario,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))
SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "chokepoints_2018.csv"

BASE = """\
technologies = ["key_generic"]
regimes = ["spiral"]
replicates = 2
seed = 1
"""


def _load_text(tmp_path: Path, text: str, name: str = "bad.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


# ------------------------------------------------------------ shipped files


def test_the_required_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {
        "default",
        "p1_subject_dislocation",
        "p2_path_dependence",
        "p3_resource_misallocation",
        "p4_spiral",
        "p5_jungle",
        "p6_main_layout",
        "fit_matrix",
        "sensitivity",
        "chokepoints_2018",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_loads_and_expands(path):
    scenario = load_scenario(path)
    runs = scenario.runs()
    combos = (
        sum(len(c.regimes) for c in scenario.cells)
        if scenario.cells
        else len(scenario.technologies) * len(scenario.regimes)
    )
    assert len(runs) == combos * len(scenario.design.points) * scenario.replicates
    assert len(runs) == scenario.n_runs
    assert [r.run_id for r in runs] == list(range(len(runs)))
    assert scenario.name == path.stem
    assert scenario.text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["p4_spiral", "p5_jungle", "p6_main_layout"])
def test_mode_propositions_compare_the_three_modes(name):
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    assert scenario.regimes == ("spiral", "jungle", "main_layout")
    assert (scenario.horizon, scenario.replicates) == (80, 50)


@pytest.mark.parametrize(
    ("name", "technology", "regimes"),
    [
        ("p1_subject_dislocation", "key_generic", {"spiral", "dislocated"}),
        ("p2_path_dependence", "cutting_edge", {"jungle", "path_dependent"}),
        ("p3_resource_misallocation", "major_strategic", {"main_layout", "misallocated"}),
    ],
)
def test_cause_propositions_compare_cause_with_mode(name, technology, regimes):
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    assert scenario.technologies == (technology,)
    assert set(scenario.regimes) == regimes


def test_fit_matrix_is_three_types_by_three_modes():
    scenario = load_scenario(SCENARIOS / "fit_matrix.toml")
    assert len(scenario.combinations()) == 9


def test_sensitivity_is_a_sobol_design_with_a_salib_problem():
    scenario = load_scenario(SCENARIOS / "sensitivity.toml")
    d = scenario.design
    assert d.method == "sobol"
    assert len(d.points) == d.samples * (len(d.factors) + 2)
    assert d.problem["names"] == list(d.factors)
    assert {"cost_scale", "spillover", "bass_p", "bass_q"} <= set(d.factors)


def test_chokepoints_run_35_technologies_under_their_cause_regime_for_20_quarters():
    scenario = load_scenario(SCENARIOS / "chokepoints_2018.toml")
    assert len(scenario.cells) == 35
    assert scenario.horizon == 20
    status_quo = {
        "key_generic": "dislocated",
        "cutting_edge": "path_dependent",
        "major_strategic": "misallocated",
    }
    assert all(c.regimes == (status_quo[c.technology],) for c in scenario.cells)
    runs = scenario.runs()
    assert runs[0].technology == "01_lithography_machines"
    assert runs[0].tech_spec.name == "key_generic"
    assert all(r.overrides["horizon"] == 20 for r in runs)
    assert "data/chokepoints_2018.csv" in scenario.data_files


def test_chokepoint_cells_of_one_type_get_their_own_random_streams():
    scenario = load_scenario(SCENARIOS / "chokepoints_2018.toml")
    first = [r for r in scenario.runs() if r.replicate == 0]
    assert len({r.spawn_key for r in first}) == len(scenario.cells)


@pytest.mark.skipif(not SHARED_CSV.exists(), reason="the shared data folder is not present")
def test_chokepoints_csv_is_a_copy_of_the_shared_data():
    assert (SCENARIOS / "data" / "chokepoints_2018.csv").read_bytes() == SHARED_CSV.read_bytes()


# --------------------------------------------------------------- expansion


def test_replicate_i_shares_its_seed_across_regimes_and_points():
    scenario = load_scenario(SCENARIOS / "ablation_spiral_users.toml")
    reps = np.random.SeedSequence(scenario.seed).spawn(scenario.replicates)
    for run in scenario.runs():
        expected = reps[run.replicate]
        assert run.seed_entropy == expected.entropy
        assert run.spawn_key == tuple(expected.spawn_key)
        seq = run.seed_sequence()
        assert seq.generate_state(4).tolist() == expected.generate_state(4).tolist()


def test_expanding_twice_gives_identical_specs():
    scenario = load_scenario(SCENARIOS / "sensitivity.toml")
    assert scenario.runs() == scenario.runs()
    assert load_scenario(SCENARIOS / "sensitivity.toml").runs() == scenario.runs()


def test_runs_are_ordered_technology_regime_point_replicate():
    scenario = parse_scenario(
        """
        technologies = ["key_generic", "cutting_edge"]
        regimes = ["spiral", "jungle"]
        replicates = 2
        seed = 5
        [design]
        method = "grid"
        factors.spillover = [0.1, 0.2, 0.3]
        """,
        "order.toml",
    )
    keys = [(r.technology, r.regime, r.point, r.replicate) for r in scenario.runs()]
    assert keys == sorted(
        keys,
        key=lambda k: (
            ["key_generic", "cutting_edge"].index(k[0]),
            ["spiral", "jungle"].index(k[1]),
            k[2],
            k[3],
        ),
    )
    assert len(keys) == 2 * 2 * 3 * 2


def test_levers_are_preset_then_scenario_levers_then_design_point():
    scenario = parse_scenario(
        BASE
        + """
        [levers]
        ip_protection = 0.1
        social_trust = 0.2
        [design]
        method = "list"
        [[design.points]]
        social_trust = 0.9
        cost_scale = 99.0
        [[design.points]]
        """,
        "levers.toml",
    )
    first, second = scenario.runs()[0], scenario.runs()[2]
    preset = load_regime("spiral")
    assert first.levers == preset.replace(ip_protection=0.1, social_trust=0.9)
    assert second.levers == preset.replace(ip_protection=0.1, social_trust=0.2)
    assert first.overrides == {"horizon": 80, "cost_scale": 99.0}
    assert first.factors == {"social_trust": 0.9, "cost_scale": 99.0}
    assert second.overrides == {"horizon": 80}


def test_a_custom_regime_needs_no_code():
    scenario = parse_scenario(
        """
        technologies = ["key_generic"]
        regimes = ["spiral", "quiet_spiral"]
        replicates = 1
        seed = 0
        [regimes_custom.quiet_spiral]
        base = "spiral"
        info_sharing = 0.1
        """,
        "custom.toml",
    )
    assert scenario.regime_levers["quiet_spiral"] == load_regime("spiral").replace(info_sharing=0.1)
    assert [r.regime for r in scenario.runs()] == ["spiral", "quiet_spiral"]


def test_a_custom_technology_and_a_technology_factor():
    scenario = parse_scenario(
        """
        technologies = ["open_generic"]
        regimes = ["spiral"]
        replicates = 1
        seed = 0
        [technologies_custom.open_generic]
        base = "key_generic"
        blockade = 0.2
        [design]
        method = "grid"
        factors.turbulence = [0.0, 0.1]
        """,
        "tech.toml",
    )
    runs = scenario.runs()
    assert [r.tech_spec.blockade for r in runs] == [0.2, 0.2]
    assert [r.tech_spec.turbulence for r in runs] == [0.0, 0.1]
    assert runs[0].tech_spec.name == "open_generic"


def test_a_run_spec_builds_the_model_it_describes():
    scenario = parse_scenario(
        BASE + "horizon = 3\n[population]\nn_smes = 7\n[parameters]\ncost_scale = 80.0\n", "m.toml"
    )
    model = scenario.runs()[1].build_model()
    assert model.horizon == 3
    assert model.params.population["n_smes"] == 7
    assert model.params.cost_scale == 80.0
    assert model.seed_spawn_key == (1,)


def test_the_hash_is_of_the_exact_text():
    import hashlib

    scenario = parse_scenario(BASE, "h.toml")
    assert scenario.sha256 == hashlib.sha256(BASE.encode()).hexdigest()
    assert parse_scenario(BASE + "# comment\n", "h.toml").sha256 != scenario.sha256


def test_meta_is_plain_data_for_the_manifest():
    scenario = load_scenario(SCENARIOS / "sensitivity.toml")
    meta = json.loads(json.dumps(scenario.meta()))
    assert meta["hash"] == f"sha256:{scenario.sha256}"
    assert meta["text"] == scenario.text
    assert meta["seed"] == scenario.seed
    assert meta["design"]["method"] == "sobol"
    assert meta["design"]["problem"]["names"] == list(scenario.design.factors)


# ------------------------------------------------------ catalogue of errors

CATALOGUE = [
    # (id, text, key named in the message, further text in the message)
    ("unknown top-level key", BASE + "horizn = 5\n", "horizn", "did you mean 'horizon'"),
    ("unknown lever", BASE + "[levers]\nip_protecton = 0.5\n", "levers", "'ip_protection'"),
    ("unknown parameter", BASE + "[parameters]\ncost_scal = 5.0\n", "parameters", "'cost_scale'"),
    ("unknown population", BASE + "[population]\nn_sme = 5\n", "population", "'n_smes'"),
    ("wrong type", BASE.replace("replicates = 2", 'replicates = "2"'), "replicates", "integer"),
    ("float replicates", BASE.replace("replicates = 2", "replicates = 2.5"), "replicates", ""),
    (
        "out-of-range probability",
        BASE + "[levers]\nip_protection = 1.5\n",
        "ip_protection",
        "[0.0, 1.0]",
    ),
    (
        "negative replicates",
        BASE.replace("replicates = 2", "replicates = -3"),
        "replicates",
        "outside",
    ),
    ("negative seed", BASE.replace("seed = 1", "seed = -1"), "seed", "outside"),
    ("missing seed", BASE.replace("seed = 1", ""), "seed", "missing"),
    ("huge integer", BASE.replace("seed = 1", "seed = 99999999999999999999"), "seed", "64-bit"),
    ("nan parameter", BASE + "[parameters]\nspillover = nan\n", "spillover", "expected a number"),
    (
        "empty grid list",
        BASE + '[design]\nmethod = "grid"\nfactors.spillover = []\n',
        "spillover",
        "empty",
    ),
    ("grid with no factors", BASE + '[design]\nmethod = "grid"\n', "design.factors", "missing"),
    (
        "lhs without bounds",
        BASE + '[design]\nmethod = "lhs"\nsamples = 4\n',
        "design.factors",
        "missing",
    ),
    (
        "lhs with a list",
        BASE + '[design]\nmethod = "lhs"\nsamples = 4\nfactors.spillover = [0.1, 0.2]\n',
        "spillover",
        "{min",
    ),
    (
        "lhs without samples",
        BASE + '[design]\nmethod = "lhs"\nfactors.spillover = {min = 0.1, max = 0.2}\n',
        "design.samples",
        "missing",
    ),
    (
        "sobol not a power of 2",
        BASE
        + '[design]\nmethod = "sobol"\nsamples = 6\nfactors.spillover = {min = 0.1, max = 0.2}\n',
        "design.samples",
        "power of 2",
    ),
    (
        "unknown method",
        BASE + '[design]\nmethod = "latin"\n',
        "design.method",
        "allowed: none, grid, lhs, sobol, list",
    ),
    ("missing method", BASE + "[design]\nsamples = 4\n", "design.method", "missing"),
    (
        "key unused by method",
        BASE + '[design]\nmethod = "grid"\nsamples = 4\nfactors.spillover = [0.1]\n',
        "design.samples",
        "not used by method 'grid'",
    ),
    (
        "unknown factor",
        BASE + '[design]\nmethod = "grid"\nfactors.spilover = [0.1]\n',
        "design.factors",
        "did you mean 'spillover'",
    ),
    (
        "empty list design",
        BASE + '[design]\nmethod = "list"\npoints = []\n',
        "design.points",
        "at least one",
    ),
    (
        "unknown technology",
        BASE.replace('"key_generic"', '"key_generc"'),
        "technologies",
        "did you mean 'key_generic'",
    ),
    ("unknown regime", BASE.replace('"spiral"', '"spirall"'), "regimes", "did you mean 'spiral'"),
    (
        "regime listed twice",
        BASE.replace('["spiral"]', '["spiral", "spiral"]'),
        "regimes[1]",
        "twice",
    ),
    (
        "no technologies",
        BASE.replace('technologies = ["key_generic"]', ""),
        "technologies",
        "missing",
    ),
    ("empty technologies", BASE.replace('["key_generic"]', "[]"), "technologies", "non-empty"),
    ("regimes not an array", BASE.replace('["spiral"]', "3"), "regimes", "array"),
    (
        "custom regime with bad base",
        BASE.replace('["spiral"]', '["mine"]') + '[regimes_custom.mine]\nbase = "spirl"\n',
        "regimes_custom.mine.base",
        "did you mean 'spiral'",
    ),
    (
        "custom regime bad lever",
        BASE.replace('["spiral"]', '["mine"]')
        + '[regimes_custom.mine]\nbase = "spiral"\nsocial_trust = 3\n',
        "regimes_custom.mine.social_trust",
        "outside",
    ),
    (
        "custom regime without base",
        BASE.replace('["spiral"]', '["mine"]') + "[regimes_custom.mine]\nsocial_trust = 0.3\n",
        "regimes_custom.mine",
        "every lever",
    ),
    (
        "custom regime shadows preset",
        BASE + '[regimes_custom.jungle]\nbase = "spiral"\n',
        "regimes_custom.jungle",
        "preset",
    ),
    (
        "unused custom regime",
        BASE + '[regimes_custom.mine]\nbase = "spiral"\n',
        "regimes_custom.mine",
        "not used",
    ),
    (
        "custom technology bad base",
        BASE.replace('["key_generic"]', '["kg"]') + '[technologies_custom.kg]\nbase = "generic"\n',
        "technologies_custom.kg.base",
        "allowed",
    ),
    (
        "custom technology bad stages",
        BASE.replace('["key_generic"]', '["kg"]')
        + '[technologies_custom.kg]\nbase = "key_generic"\nstages = [1]\n',
        "technologies_custom.kg.stages",
        "[[stages]]",
    ),
    (
        "bad enum lever",
        BASE + '[levers]\ncore_subject = "firms"\n',
        "levers.core_subject",
        "allowed: leader_firm",
    ),
    (
        "stage weights mismatch",
        BASE.replace('"key_generic"', '"major_strategic"')
        + "[levers]\nstage_weights = [0.5, 0.5]\n",
        "stage_weights",
        "one weight per stage",
    ),
    (
        "no organisations",
        BASE
        + "[population]\nn_leader_firms = 0\nn_smes = 0\nn_state_orgs = 0\nn_universities = 0\n",
        "population",
        "at least one organisation",
    ),
    (
        "levers in parameters",
        BASE + "[parameters]\nip_protection = 0.5\n",
        "parameters.ip_protection",
        "[levers]",
    ),
    ("horizon out of range", BASE + "horizon = 0\n", "horizon", "outside"),
    ("levers not a table", BASE + "levers = 3\n", "levers", "expected a table"),
    ("cells and technologies", BASE + '[cells]\nfile = "x.csv"\n', "technologies", "[cells]"),
    (
        "cells file missing",
        'replicates = 1\nseed = 1\n[cells]\nfile = "nope.csv"\n',
        "cells.file",
        "no such file",
    ),
    ("bad name", BASE + 'name = "a b"\n', "name", "not a valid name"),
    ("TOML syntax error", BASE + "horizon = = 3\n", "line 5", "TOML syntax error"),
]


@pytest.mark.parametrize(
    ("text", "key", "detail"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_a_bad_scenario_fails_with_one_clear_message_and_writes_nothing(
    tmp_path, text, key, detail
):
    with pytest.raises(ScenarioError) as info:
        _load_text(tmp_path, text)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'bad.toml'}: ")
    assert key in message
    assert detail in message
    assert "\n" not in message
    assert sorted(tmp_path.rglob("*")) == [tmp_path / "bad.toml"]  # nothing written


def test_a_missing_file_is_named_with_a_suggestion(tmp_path):
    (tmp_path / "default.toml").write_text(BASE)
    with pytest.raises(
        ScenarioError, match=r"defualt.toml: no such file \(did you mean 'default.toml'\?\)"
    ):
        load_scenario(tmp_path / "defualt.toml")


def test_a_directory_is_not_a_scenario(tmp_path):
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(BASE.encode() + b'description = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(path)


def test_a_toml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(ScenarioError, match=r"bad.toml: TOML syntax error: .*line 3"):
        _load_text(tmp_path, 'seed = 1\nreplicates = 1\ntechnologies = ["a" "b"]\n')


CELLS = 'replicates = 1\nseed = 1\n[cells]\nfile = "{file}"\n[cells.regimes]\n{regimes}\n'


def test_a_bad_cells_file_names_the_row(tmp_path):
    (tmp_path / "rows.csv").write_text("id,name,type\n1,a,key_generic\n2,b,generic_key\n")
    text = CELLS.format(file="rows.csv", regimes='key_generic = "spiral"')
    with pytest.raises(ScenarioError, match=r"cells.file: rows.csv row 3: type 'generic_key'"):
        _load_text(tmp_path, text)


def test_a_cells_type_without_a_regime_is_refused(tmp_path):
    (tmp_path / "rows.csv").write_text("id,name,type\n1,a,key_generic\n2,b,cutting_edge\n")
    text = CELLS.format(file="rows.csv", regimes='key_generic = "spiral"')
    with pytest.raises(
        ScenarioError, match="cells.regimes: missing an entry for type 'cutting_edge'"
    ):
        _load_text(tmp_path, text)


def test_cells_can_be_selected_by_a_column(tmp_path):
    text = (SCENARIOS / "chokepoints_2018.toml").read_text() + ""
    text = text.replace(
        '# select = { manufacturing = "yes" }', 'select = { manufacturing = "yes" }'
    )
    scenario = parse_scenario(text, "c.toml", base_dir=SCENARIOS)
    assert len(scenario.cells) == 28


def test_scenario_error_is_a_config_error():
    assert issubclass(ScenarioError, ConfigError)


# ------------------------------------------------------- generated bad input

_outside_unit = st.one_of(
    st.floats(max_value=-1e-9),
    st.floats(min_value=1.000001),
    st.just(math.inf),
)
_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)


def _toml(value) -> str:
    """A TOML inline value for a Python value (bool, int, float, str, list, dict)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        _text,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=6,
)

_UNIT_LEVERS = ["ip_protection", "social_trust", "targeted_share", "risk_tolerance"]
_FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(lever=st.sampled_from(_UNIT_LEVERS), value=_outside_unit | st.just(math.nan))
def test_out_of_range_unit_levers_always_raise_config_error(lever, value):
    for text in (
        BASE + f"[levers]\n{lever} = {_toml(value)}\n",
        BASE.replace('["spiral"]', '["r"]')
        + f'[regimes_custom.r]\nbase = "jungle"\n{lever} = {_toml(value)}\n',
        BASE + f'[design]\nmethod = "list"\n[[design.points]]\n{lever} = {_toml(value)}\n',
        BASE + f'[design]\nmethod = "grid"\nfactors.{lever} = [0.5, {_toml(value)}]\n',
        BASE + '[design]\nmethod = "lhs"\nsamples = 3\n'
        f"factors.{lever} = {{min = 0.0, max = {_toml(value)}}}\n",
    ):
        with pytest.raises(ConfigError, match=lever):
            parse_scenario(text, "gen.toml")


@_FAST
@given(
    template=st.sampled_from(
        [
            'technologies = ["{}"]\nregimes = ["spiral"]\nreplicates = 1\nseed = 1\n',
            'technologies = ["key_generic"]\nregimes = ["{}"]\nreplicates = 1\nseed = 1\n',
            BASE + '[design]\nmethod = "{}"\n',
            BASE + '[levers]\ncore_subject = "{}"\n',
            BASE + '[levers]\nconsortium = "{}"\n',
            BASE.replace('["spiral"]', '["x"]') + '[regimes_custom.x]\nbase = "{}"\n',
            BASE + '[design]\nmethod = "grid"\nfactors.core_subject = ["{}"]\n',
        ]
    ),
    word=st.text(
        st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\')
    ).filter(
        lambda s: (
            s
            not in {
                "key_generic",
                "cutting_edge",
                "major_strategic",
                "spiral",
                "jungle",
                "main_layout",
                "dislocated",
                "path_dependent",
                "misallocated",
                "none",
                "grid",
                "lhs",
                "sobol",
                "list",
                "leader_firm",
                "state_org",
                "government",
                "open",
            }
        )
    ),
)
def test_random_strings_for_enum_keys_always_raise_config_error(template, word):
    with pytest.raises(ConfigError, match="allowed"):
        parse_scenario(template.replace("{}", word), "gen.toml")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(st.sampled_from([*TOP_KEYS, "horizn", "factors"]), _values, max_size=6))
def test_random_documents_either_load_or_raise_config_error(doc):
    text = "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in doc.items())
    try:
        scenario = parse_scenario(text, "gen.toml")
    except ConfigError as exc:
        assert str(exc).startswith("gen.toml: ")
    else:
        assert scenario.n_runs == len(scenario.runs())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    section=st.sampled_from(
        ["levers", "parameters", "population", "design", "regimes_custom", "technologies_custom"]
    ),
    table=st.dictionaries(
        st.sampled_from(
            [
                "ip_protection",
                "stage_weights",
                "cost_scale",
                "n_smes",
                "method",
                "factors",
                "points",
                "samples",
                "base",
                "x",
                "blockade",
                "stages",
            ]
        ),
        _values,
        max_size=4,
    ),
)
def test_random_sections_either_load_or_raise_config_error(section, table):
    text = BASE + f"{section} = {_toml(table)}\n"
    try:
        parse_scenario(text, "gen.toml")
    except ConfigError as exc:
        assert str(exc).startswith("gen.toml: ")
