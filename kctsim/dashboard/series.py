"""What the explore page's panels show, read from a running model (no UI code).

Everything here is cheap enough to call after every step at the default size:
per-tick series come straight from the DataCollector's lists (building its
DataFrame costs more than a step), money flows are tallied incrementally from
the ledger, and the network is laid out on a circle grouped by type (no
force-directed layout per frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kctsim import names
from kctsim.config import AGENT_TYPES
from kctsim.ledger import ACCOUNT_TYPES, Ledger

TYPE_COLOURS = {
    "leader_firm": "#1f77b4",
    "sme": "#ff7f0e",
    "state_org": "#d62728",
    "university": "#2ca02c",
    "government": "#9467bd",
    "scientist": "#8c564b",
    "user": "#e377c2",
}
"""One colour per agent type, used by every panel and the legend."""

FLOW_TYPES = ("government", "leader_firm", "sme", "state_org", "university", "user")
"""Account types that are agents: flows between them are shown."""


def series(model: Any, *names: str) -> dict[str, np.ndarray]:
    """Per-tick values of the named metrics (tick 0 first) as float arrays."""
    data = model.datacollector.model_vars
    return {n: np.asarray(data[n], dtype=float) for n in names}


def ticks(model: Any) -> np.ndarray:
    return np.asarray(model.datacollector.model_vars["tick"], dtype=float)


def stage_names(model: Any) -> list[str]:
    return [s.name for s in model.tech_spec.stages]


def targets(model: Any) -> np.ndarray:
    """The fitness each stage must reach (its gate)."""
    return np.asarray(model.tech.gates, dtype=float)


@dataclass
class FlowTally:
    """Money moved between agent types so far in one run, tallied incrementally.

    Reads only the ledger rows recorded since the last call: re-reading the
    whole ledger each tick grows with the run (about 140 ms by tick 40).
    """

    ledger: Ledger
    seen: int = 0
    totals: np.ndarray = field(
        default_factory=lambda: np.zeros((len(ACCOUNT_TYPES), len(ACCOUNT_TYPES)))
    )

    def update(self) -> np.ndarray:
        """The from-type x to-type matrix of totals, including new transfers."""
        if self.ledger.n > self.seen:
            _, _, from_type, _, to_type, _, _, amount = self.ledger.arrays(start=self.seen)
            self.seen = self.ledger.n
            np.add.at(self.totals, (from_type, to_type), amount)
        return self.totals

    def top_pairs(self, n: int = 8) -> list[tuple[str, float]]:
        """The largest flows between agent types as ``("from → to", amount)``."""
        totals = self.update()
        codes = [ACCOUNT_TYPES.index(t) for t in FLOW_TYPES]
        pairs = [
            (f"{_agent(ACCOUNT_TYPES[a])} → {_agent(ACCOUNT_TYPES[b])}", float(totals[a, b]))
            for a in codes
            for b in codes
            if a != b and totals[a, b] > 0
        ]
        pairs.sort(key=lambda p: -p[1])
        return pairs[:n]


def _agent(kind: str) -> str:
    return names.entry("agents", kind).brief


@dataclass(frozen=True)
class NetworkView:
    """Node positions, colours and edge segments of the collaboration network."""

    x: np.ndarray
    y: np.ndarray
    colours: list[str]
    edge_x: np.ndarray  # (n_edges, 2)
    edge_y: np.ndarray
    counts: dict[str, int]


def network_view(model: Any) -> NetworkView:
    """The collaboration network on a circle, nodes grouped by type.

    A fixed circular layout is readable (each type an arc) and costs nothing
    per frame, unlike a spring layout.
    """
    graph = model.collaboration_graph()
    order = {t: i for i, t in enumerate(AGENT_TYPES)}
    nodes = sorted(graph.nodes(data="type"), key=lambda n: (order.get(n[1], 99), n[0]))
    n = max(len(nodes), 1)
    angle = 2 * math.pi * np.arange(len(nodes)) / n
    x, y = np.cos(angle), np.sin(angle)
    where = {node: i for i, (node, _) in enumerate(nodes)}
    edges = np.array([(where[a], where[b]) for a, b in graph.edges()], dtype=int).reshape(-1, 2)
    counts: dict[str, int] = {}
    for _, kind in nodes:
        counts[kind] = counts.get(kind, 0) + 1
    return NetworkView(
        x=x,
        y=y,
        colours=[TYPE_COLOURS.get(kind, "#777777") for _, kind in nodes],
        edge_x=x[edges] if len(edges) else np.zeros((0, 2)),
        edge_y=y[edges] if len(edges) else np.zeros((0, 2)),
        counts=counts,
    )
