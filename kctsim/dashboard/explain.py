"""Plain-language explanations of the technology types and regimes, from the paper.

The texts live in kctsim's one table of display names (``kctsim/data/names.toml``,
read by :mod:`kctsim.names`): a short English explanation and the paper's own
words (the paper is in Chinese; ``../shared/paper/``). A preset without an entry
there (a regime added as data later) falls back to the description in its own
data file.
"""

from __future__ import annotations

from dataclasses import dataclass

from kctsim import names
from kctsim.config import load_technology, regime_description


@dataclass(frozen=True)
class Explanation:
    title: str
    plain: str
    quote: str = ""


def _explanations(section: str) -> dict[str, Explanation]:
    return {
        key: Explanation(entry["title"], entry["plain"], entry.get("quote", ""))
        for key, entry in names.table()[section].items()
        if "plain" in entry
    }


def technologies() -> dict[str, Explanation]:
    """The paper's explanation of each technology type, by name."""
    return _explanations("technologies")


def regimes() -> dict[str, Explanation]:
    """The paper's explanation of each regime preset, by name."""
    return _explanations("regimes")


def default_compare_regimes() -> tuple[str, ...]:
    """The regimes the Compare page starts with: the paper's three breakthrough modes."""
    return tuple(names.modes())


def technology_explanation(name: str) -> Explanation:
    """The explanation of a technology type (its data description if the paper has none)."""
    known = technologies()
    return known[name] if name in known else Explanation(name, load_technology(name).description)


def regime_explanation(name: str) -> Explanation:
    """The explanation of a regime preset (its data description if the paper has none)."""
    known = regimes()
    return known[name] if name in known else Explanation(name, regime_description(name))
