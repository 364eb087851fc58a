"""Plain-language explanations of the technology types and regimes, from the paper.

The texts are data (``explanations.toml`` beside this module): a short English
explanation and the paper's own words (the paper is in Chinese;
``../shared/paper/``). A preset without an entry there (a regime added as data
later) falls back to the description in its own data file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kctsim.config import load_technology, regime_description


@dataclass(frozen=True)
class Explanation:
    title: str
    plain: str
    quote: str = ""


@cache
def _data() -> dict[str, Any]:
    text = resources.files("kctsim.dashboard").joinpath("explanations.toml").read_text("utf-8")
    return tomllib.loads(text)


def technologies() -> dict[str, Explanation]:
    """The paper's explanation of each technology type, by name."""
    return {k: Explanation(**v) for k, v in _data()["technologies"].items()}


def regimes() -> dict[str, Explanation]:
    """The paper's explanation of each regime preset, by name."""
    return {k: Explanation(**v) for k, v in _data()["regimes"].items()}


def default_compare_regimes() -> tuple[str, ...]:
    """The regimes the Compare page starts with (the paper's three modes)."""
    return tuple(_data()["compare"]["default_regimes"])


def technology_explanation(name: str) -> Explanation:
    """The explanation of a technology type (its data description if the paper has none)."""
    known = technologies()
    return known[name] if name in known else Explanation(name, load_technology(name).description)


def regime_explanation(name: str) -> Explanation:
    """The explanation of a regime preset (its data description if the paper has none)."""
    known = regimes()
    return known[name] if name in known else Explanation(name, regime_description(name))
