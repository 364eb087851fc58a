"""The honesty rule (docs/ODD.md, section 4): mechanisms read levers, never names.

Regimes and technology types are data; the code that simulates must not
branch on which preset it was given. The source of every module in
``kctsim/`` is parsed with ``ast`` and checked for

* a string literal equal to a regime preset name or a technology type name
  (allowed only as a function parameter's default value, which picks the
  preset to load when the caller gives none, and in the modules that only
  load presets or print them: :data:`FRONT_END`);
* a comparison, ``if``/``while``/``match`` test, subscript or string method
  call involving ``regime_name`` or a technology spec's ``name`` (anywhere
  but :data:`FRONT_END`), and any use of them at all inside
  ``kctsim/mechanisms``.
"""

from __future__ import annotations

import ast
import dataclasses
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import kctsim
from kctsim.config import (
    Levers,
    TechnologyType,
    load_regime,
    load_technology,
    regime_names,
    technology_names,
)
from kctsim.model import KCTModel

PACKAGE = Path(kctsim.__file__).parent
FRONT_END = {"config.py", "cli.py", "__main__.py"}
"""Modules that load presets or print them; they may name presets."""

NAME_HOLDERS = {"regime_name"}
SPEC_HOLDERS = {"tech_spec", "spec"}


def names_of_presets() -> set[str]:
    return set(regime_names()) | set(technology_names())


def is_name_reference(node: ast.AST) -> bool:
    """``regime_name`` / ``x.regime_name`` or ``tech_spec.name`` / ``x.spec.name``."""
    if isinstance(node, ast.Name) and node.id in NAME_HOLDERS:
        return True
    if isinstance(node, ast.Attribute):
        if node.attr in NAME_HOLDERS:
            return True
        if node.attr == "name":
            holder = node.value
            held = holder.attr if isinstance(holder, ast.Attribute) else getattr(holder, "id", "")
            return held in SPEC_HOLDERS
    return False


def mentions_name(node: ast.AST | None) -> bool:
    return node is not None and any(is_name_reference(n) for n in ast.walk(node))


def default_values(tree: ast.AST) -> set[int]:
    """ids of the nodes that are function parameters' default values."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for d in [*node.args.defaults, *node.args.kw_defaults]:
                if d is not None:
                    out |= {id(n) for n in ast.walk(d)}
    return out


def violations(source: str, preset_names: set[str], in_mechanisms: bool) -> list[str]:
    """Every breach of the rule in one module's source, as 'line: what'."""
    tree = ast.parse(source)
    defaults = default_values(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in preset_names
            and id(node) not in defaults
        ):
            found.append(f"{line}: string literal {node.value!r}")
        if isinstance(node, ast.Compare) and mentions_name(node):
            found.append(f"{line}: comparison involving a regime/technology name")
        if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert) and mentions_name(
            node.test
        ):
            found.append(f"{line}: test on a regime/technology name")
        if isinstance(node, ast.Match) and mentions_name(node.subject):
            found.append(f"{line}: match on a regime/technology name")
        if isinstance(node, ast.Subscript) and mentions_name(node.slice):
            found.append(f"{line}: look-up keyed by a regime/technology name")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and is_name_reference(node.func.value)
        ):
            found.append(f"{line}: method call on a regime/technology name")
        if in_mechanisms and is_name_reference(node):
            found.append(f"{line}: a mechanism reads a regime/technology name")
    return found


def checked_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name not in FRONT_END)


# --------------------------------------------------------------------- rule


def test_the_checker_catches_name_branching():
    presets = {"spiral", "key_generic"}
    bad = {
        'if model.regime_name == "x":\n    pass\n': 1,
        'x = 1 if "spiral" in names else 0\n': 1,
        "y = table[model.regime_name]\n": 1,
        "match model.tech_spec.name:\n    case _:\n        pass\n": 1,
        "if self.spec.name.startswith('k'):\n    pass\n": 2,
        'ok = kind == "key_generic"\n': 1,
    }
    for source, at_least in bad.items():
        assert len(violations(source, presets, in_mechanisms=False)) >= at_least, source
    good = [
        'def f(regime="spiral", technology="key_generic"):\n    return regime\n',
        'label = f"{model.regime_name}*"\n',
        'text = "spiral and jungle"\n',
    ]
    for source in good:
        assert violations(source, presets, in_mechanisms=False) == [], source
    assert violations("r = model.regime_name\n", presets, in_mechanisms=True)


def test_the_checked_modules_include_every_mechanism():
    checked = {p.relative_to(PACKAGE).as_posix() for p in checked_modules()}
    assert {"model.py", "technology.py", "landscape.py", "metrics.py"} <= checked
    mechanisms = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("mechanisms/*.py")}
    assert mechanisms and mechanisms <= checked


@pytest.mark.parametrize("path", checked_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_module_branches_on_a_regime_or_technology_name(path):
    in_mechanisms = "mechanisms" in path.relative_to(PACKAGE).parts
    found = violations(path.read_text(encoding="utf-8"), names_of_presets(), in_mechanisms)
    assert not found, f"{path.relative_to(PACKAGE)}:\n" + "\n".join(found)


# --------------------------------------------------------- regimes are data


def test_a_new_regime_given_as_levers_runs_without_code_change(run_to_end):
    levers = load_regime("spiral").replace(ip_protection=0.95)
    model = run_to_end("key_generic", levers, horizon=4, seed=1)
    assert model.levers == levers
    assert model.levers.ip_protection == 0.95
    assert len(model.datacollector.get_model_vars_dataframe()) == 5


def test_a_regime_unlike_any_preset_runs(run_to_end):
    levers = Levers(
        core_subject="state_org",
        targeted_share=0.3,
        matching_ratio=2.0,
        consortium="open",
        result_sharing=0.9,
        ip_protection=0.0,
        risk_tolerance=1.0,
        people_orientation=1.0,
        user_participation=1.0,
        imitation_bias=0.0,
        entry_rate=3.0,
        selection_noise=0.5,
        direction_setting=0.5,
        info_sharing=0.1,
        social_trust=0.9,
        platform=1.0,
        stage_weights=(0.6, 0.3, 0.1),
        bottleneck_following=0.2,
        front_loading=2.0,
    )
    presets = {name: load_regime(name) for name in regime_names()}
    assert levers not in presets.values()
    for technology in technology_names():
        model = run_to_end(technology, levers, horizon=4, seed=2)
        assert model.levers == levers


def test_lever_overrides_by_keyword_equal_a_replaced_preset():
    model = KCTModel("key_generic", "spiral", horizon=2, rng=0, ip_protection=0.95)
    assert model.levers == load_regime("spiral").replace(ip_protection=0.95)


def test_a_new_technology_given_as_data_runs(run_to_end):
    spec = load_technology("key_generic").replace(turbulence=0.5, name="my_technology")
    assert isinstance(spec, TechnologyType)
    model = run_to_end(spec, "spiral", horizon=4, seed=3)
    assert model.tech_spec == spec


@pytest.mark.parametrize(
    ("folder", "names", "loader"),
    [
        ("regimes", regime_names, load_regime),
        ("technologies", technology_names, load_technology),
    ],
)
def test_presets_are_toml_data_files_inside_the_package(folder, names, loader):
    directory = resources.files("kctsim").joinpath("data", folder)
    files = sorted(p.name for p in directory.iterdir() if p.name.endswith(".toml"))
    assert (PACKAGE / "data" / folder).is_dir()
    assert [f[: -len(".toml")] for f in files] == names()
    for file in files:
        with directory.joinpath(file).open("rb") as fh:
            data = tomllib.load(fh)
        assert data["name"] == file[: -len(".toml")]
        loaded = loader(data["name"])
        assert dataclasses.is_dataclass(loaded)


def test_the_presets_of_the_paper_are_shipped():
    assert set(regime_names()) >= {
        "spiral",
        "jungle",
        "main_layout",
        "dislocated",
        "path_dependent",
        "misallocated",
    }
    assert set(technology_names()) >= {"key_generic", "cutting_edge", "major_strategic"}
