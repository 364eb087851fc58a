"""docs/ARCHITECTURE.md stays true: its recipes and its map of the code."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from kctsim.compiled_tick import TickConstants, tick_constants
from kctsim.config import default_parameters, load_regime
from kctsim.model import KCTModel

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text("utf-8")
MECHANISMS = sorted(
    p.stem for p in (ROOT / "kctsim" / "mechanisms").glob("*.py") if p.stem != "__init__"
)


def test_every_mechanism_module_is_on_the_map():
    missing = [m for m in MECHANISMS if f"kctsim/mechanisms/{m}.py" not in ARCHITECTURE]
    assert not missing, f"docs/ARCHITECTURE.md does not list {missing}"


def test_every_path_the_map_names_exists():
    paths = set(re.findall(r"`(kctsim/[\w/.]+|docs/[\w/.]+|tests/[\w/.]+)`", ARCHITECTURE))
    assert paths, "no paths found"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_mechanisms_constants_are_part_of_the_tick():
    kinds = {type(v) for v in tick_constants(
        load_regime("spiral"), default_parameters(), KCTModel(horizon=1, rng=0).tech
    )}  # fmt: skip
    for name in MECHANISMS:
        module = importlib.import_module(f"kctsim.mechanisms.{name}")
        constants = getattr(module, "Constants", None)
        if constants is not None:
            assert constants in kinds, f"{name}.Constants is not a field of TickConstants"
            assert callable(module.constants), f"{name} has Constants but no constants()"
    assert len(kinds) == len(TickConstants._fields)


def test_no_function_of_the_package_takes_more_than_twenty_parameters():
    too_long = []
    for path in sorted((ROOT / "kctsim").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                count = len(node.args.posonlyargs) + len(node.args.args)
                count += len(node.args.kwonlyargs)
                if count > 20:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.name} ({count})")
    assert not too_long, f"functions with more than 20 parameters: {too_long}"


def test_no_attribute_is_added_to_the_model_outside_model_py():
    """Every attribute a KCTModel has after a run was made in its __init__ (model.py)."""
    model = KCTModel(technology="major_strategic", regime="jungle", horizon=30, rng=3)
    made = set(vars(model))
    while model.running:
        model.step()
    assert set(vars(model)) <= made | {"_census", "_fitness_current"}, set(vars(model)) - made
