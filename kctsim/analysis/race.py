"""The race for a technology with a foreign rival (cutting-edge: 抢占先机).

Where a foreign rival may reach the target (``rival_hazard > 0``), arriving first
decides the first mover's rent (docs/ODD.md, section 2.1). Each run's ``lead``
summary says who came first: 1 the domestic breakthrough, 0 the rival (a same-tick
arrival counts as the rival's), NaN neither by the horizon. This table sits next to
the propositions on such a technology (P2 and P5 by default).
"""

from __future__ import annotations

import pandas as pd

from kctsim.analysis.propositions import Proposition
from kctsim.config import load_technology

RACE_COLUMNS = (
    "proposition",
    "technology",
    "regime",
    "runs",
    "domestic_first",
    "rival_first",
    "neither",
    "lead",
)


def raced(technology: str) -> bool:
    """The technology has a foreign rival that may arrive first."""
    return load_technology(technology).rival_hazard > 0


def race_table(runs: pd.DataFrame, propositions: list[Proposition]) -> pd.DataFrame:
    """Per proposition on a raced technology and each regime it compares: the shares of
    runs in which the domestic breakthrough came first, the rival came first, or
    neither by the horizon; and ``lead``, the share of the domestic breakthroughs that
    came before the rival (NaN without any breakthrough)."""
    rows = []
    for p in propositions:
        if not raced(p.technology):
            continue
        for regime in p.regimes:
            cell = runs[(runs["technology"] == p.technology) & (runs["regime"] == regime)]
            if cell.empty:
                continue
            lead = cell["lead"]
            broke = cell["breakthrough_tick"].notna()
            rows.append(
                {
                    "proposition": p.key,
                    "technology": p.technology,
                    "regime": regime,
                    "runs": len(cell),
                    "domestic_first": float((lead == 1).mean()),
                    "rival_first": float((lead == 0).mean()),
                    "neither": float(lead.isna().mean()),
                    "lead": float((lead[broke] == 1).mean()) if broke.any() else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=list(RACE_COLUMNS))
