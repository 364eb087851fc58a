"""The lever table is the one list of levers, and every lever in it has a rule."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from kctsim.config import LEVER_GROUPS, LEVER_NAMES, LEVERS, ConfigError, Levers, load_regime

MECHANISMS = Path(__file__).resolve().parents[1] / "kctsim" / "mechanisms"
LEVER_OBJECTS = {"lev", "levers"}  # what the mechanisms call a Levers object
NOT_LEVERS = {"replace", "as_dict", "from_mapping"}


def levers_read_by_rules() -> dict[str, set[str]]:
    """Lever name -> the mechanism modules that read it (``levers.x``, ``model.levers.x``)."""
    read: dict[str, set[str]] = {}
    for path in sorted(MECHANISMS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Attribute) or node.attr in NOT_LEVERS:
                continue
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name in LEVER_OBJECTS:
                read.setdefault(node.attr, set()).add(path.name)
    return read


def test_every_lever_in_the_table_is_read_by_a_rule():
    unused = sorted(set(LEVER_NAMES) - set(levers_read_by_rules()))
    assert not unused, f"levers in kctsim/data/levers.toml that no mechanism reads: {unused}"


def test_every_lever_a_rule_reads_is_in_the_table():
    unknown = {k: v for k, v in levers_read_by_rules().items() if k not in LEVERS}
    assert not unknown, f"mechanisms read levers missing from kctsim/data/levers.toml: {unknown}"


def test_levers_fields_are_the_table_in_its_order():
    assert tuple(f.name for f in fields(Levers)) == LEVER_NAMES
    assert sorted(n for names in LEVER_GROUPS.values() for n in names) == sorted(LEVER_NAMES)


def test_a_regime_that_does_not_set_a_lever_gets_its_default():
    spiral = load_regime("spiral").as_dict()
    del spiral["entry_rate"], spiral["stage_weights"]
    levers = Levers.from_mapping(spiral)
    assert levers.entry_rate == LEVERS["entry_rate"].default == 0.0
    assert levers.stage_weights == ()  # an even split over the stages


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("targeted_share", 1.5, r"levers\.targeted_share: 1\.5 is outside the allowed range"),
        ("consortium", "club", r"levers\.consortium: 'club' is not allowed"),
        ("stage_weights", [0, 0], r"levers\.stage_weights: weights must not all be zero"),
        ("no_such_lever", 1, r"levers: unknown key 'no_such_lever'"),
    ],
)
def test_a_bad_lever_value_names_the_lever(name, value, message):
    with pytest.raises(ConfigError, match=message):
        Levers.from_mapping(load_regime("spiral").as_dict() | {name: value})
