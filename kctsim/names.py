"""Display names, descriptions and units: the words a reader sees instead of code names.

One table (``kctsim/data/names.toml``; the levers' words are in their own table,
``kctsim/data/levers.toml``) for the CLI's help and run summary, the figures, the
report and the dashboard, so a regime is "Spiral Progressive
(螺旋递进)" everywhere and a metric always carries its unit. Sections:
``technologies``, ``regimes``, ``agents`` (agent and ledger account types),
``ledger`` (kinds of transfer), ``stages``, ``metrics``, ``parameters`` and
``levers``. A name the table does not know is shown as the code name with
underscores turned into spaces, so a regime added as data still reads.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kctsim.config import LEVERS

SECTIONS = (
    "technologies",
    "regimes",
    "agents",
    "ledger",
    "stages",
    "metrics",
    "parameters",
    "levers",
)

_STAGE_METRIC = re.compile(r"^(stage_progress|stage_funding|stage_need)_(\d+)$")


@dataclass(frozen=True)
class Entry:
    """How one code name is shown."""

    key: str
    name: str
    chinese: str = ""
    unit: str = ""
    description: str = ""
    title: str = ""
    plain: str = ""
    quote: str = ""
    role: str = ""
    pairs_with: str = ""
    short: str = ""

    @property
    def brief(self) -> str:
        """The short form where one is given (tight labels), else the name."""
        return self.short or self.name

    @property
    def bilingual(self) -> str:
        """``"Spiral Progressive (螺旋递进)"``, or just the name without a Chinese term."""
        return f"{self.name} ({self.chinese})" if self.chinese else self.name

    @property
    def with_unit(self) -> str:
        """``"Spillover share (share of fitness gained)"``: an axis label."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


@cache
def table() -> dict[str, dict[str, Any]]:
    """The raw table, by section and code name."""
    text = resources.files("kctsim").joinpath("data", "names.toml").read_text("utf-8")
    names = tomllib.loads(text)
    # The levers' words live in the lever table, with the rest of each lever.
    names["levers"] = {
        key: {"name": lever.label, "unit": lever.unit, "description": lever.description}
        for key, lever in LEVERS.items()
    }
    return names


def entry(section: str, key: str) -> Entry:
    """The display entry of ``key`` in ``section`` (a readable fallback if absent).

    Raises:
        KeyError: ``section`` is not one of :data:`SECTIONS`.
    """
    if section not in SECTIONS:
        raise KeyError(f"unknown names section {section!r}; one of {', '.join(SECTIONS)}")
    if section == "metrics" and (m := _STAGE_METRIC.match(key)):
        base = entry("metrics", m.group(1))
        return Entry(
            key, f"Stage {m.group(2)}: {base.name.lower()}", "", base.unit, base.description
        )
    raw = dict(table().get(section, {}).get(key, {}))
    if not raw:
        return Entry(key, key.replace("_", " "))
    raw["pairs_with"] = raw.pop("for", "")
    return Entry(key=key, **raw)


def name(section: str, key: str) -> str:
    """The short display name (``"Spiral Progressive"``)."""
    return entry(section, key).name


def bilingual(section: str, key: str) -> str:
    """The display name with the paper's Chinese term (``"Main Layout (主控布局)"``)."""
    return entry(section, key).bilingual


def label(section: str, key: str) -> str:
    """The display name with its unit, for an axis or a table column."""
    return entry(section, key).with_unit


def regime(key: str) -> str:
    """A regime's name with its Chinese term."""
    return bilingual("regimes", key)


def technology(key: str) -> str:
    """A technology type's name with its Chinese term."""
    return bilingual("technologies", key)


def metric(key: str) -> str:
    """A metric's name with its unit."""
    return label("metrics", key)


def modes() -> list[str]:
    """The paper's three breakthrough modes (regime names), in the table's order."""
    return [k for k, v in table()["regimes"].items() if v.get("role") == "mode"]


def chinese_characters() -> set[str]:
    """Every CJK character the table holds (the dashboard's font must have each)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, str):
            found.update(c for c in value if ord(c) > 0x2E7F)

    walk(table())
    return found


def choices_help(section: str, keys: list[str]) -> str:
    """One help sentence per choice, for ``--help``: ``"spiral = Spiral Progressive
    (螺旋递进), the paper's mode for key generic technology; ..."``."""
    known = list(table().get(section, {}))
    parts = []
    for key in sorted(keys, key=lambda k: (known.index(k) if k in known else len(known), k)):
        e = entry(section, key)
        if e.role and e.pairs_with:
            kind = "mode for" if e.role == "mode" else "cause of missing"
            what = f"the paper's {kind} {name('technologies', e.pairs_with).lower()} technology"
        else:
            what = e.description.rstrip(".")
            what = what[:1].lower() + what[1:]
        parts.append(f"{key} = {e.bilingual}, {what}" if what else f"{key} = {e.bilingual}")
    return "; ".join(parts)


def factor(key: str) -> str:
    """A design factor's name, whether a lever, a parameter or a population size."""
    for section in ("levers", "parameters"):
        if key in table()[section]:
            return name(section, key)
    return key.replace("_", " ")
