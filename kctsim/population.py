"""Columnar state owned by the model: one row per agent, numpy columns.

Agents are Mesa objects that hold their row number; the hot mechanisms work on
whole columns at once. Rows are never reused: an exited agent's row keeps its
final state with ``alive`` False, so the ledger and the metrics can still be
reconciled with it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kctsim.kernels import JIT


class Table:
    """Growable set of equally long numpy columns.

    Args:
        columns: name -> (dtype, trailing shape) of each column.
        capacity: rows allocated up front; doubled when exceeded.
    """

    def __init__(self, columns: dict[str, tuple[type | str, tuple[int, ...]]], capacity: int):
        self._spec = columns
        self.n = 0
        self._capacity = max(1, capacity)
        for name, (dtype, shape) in columns.items():
            setattr(self, name, np.zeros((self._capacity, *shape), dtype=dtype))

    def add(self, count: int) -> np.ndarray:
        """Append ``count`` zeroed rows; return their indices."""
        need = self.n + count
        if need > self._capacity:
            new = max(need, 2 * self._capacity)
            for name, (dtype, shape) in self._spec.items():
                old = getattr(self, name)
                grown = np.zeros((new, *shape), dtype=dtype)
                grown[: self.n] = old[: self.n]
                setattr(self, name, grown)
            self._capacity = new
        rows = np.arange(self.n, need)
        self.n = need
        return rows

    def view(self, name: str) -> np.ndarray:
        """The used part of a column (a view, writes go through)."""
        return getattr(self, name)[: self.n]


class Census:
    """Row sets of the alive organisations, recomputed only when the population changes."""

    def __init__(self, orgs: Table, government_type: int) -> None:
        (
            self.alive_rows,
            self.orgs,
            self.org_position,
            self.learners,
            self.learners_by_type,
            self.peer_start,
            self.peer_count,
            self.sellers,
        ) = _census(orgs.alive, orgs.type, orgs.learns, orgs.sells, orgs.n, government_type)


@njit(**JIT)
def _census(alive, types, learns, sells, n, government_type):
    """The row sets in one pass (entries and exits make this run often).

    ``org_position`` is each row's position in ``orgs`` (-1 for the others), for
    per-organisation arrays. Learners are grouped by type, in row order within a
    type (a stable sort), with each one's group start and size: peers are drawn
    within the group (see mechanisms.contribution).
    """
    alive_rows = np.flatnonzero(alive[:n])
    n_orgs = 0
    n_learners = 0
    n_sellers = 0
    n_types = 0
    for i in alive_rows:
        n_orgs += types[i] != government_type
        n_learners += learns[i]
        n_sellers += sells[i]
        n_types = max(n_types, types[i] + 1)
    orgs = np.empty(n_orgs, np.int64)
    position = np.full(n, -1, np.int64)
    learners = np.empty(n_learners, np.int64)
    sellers = np.empty(n_sellers, np.int64)
    per_type = np.zeros(n_types + 1, np.int64)
    a = b = c = 0
    for i in alive_rows:
        if types[i] != government_type:
            position[i] = a
            orgs[a] = i
            a += 1
        if learns[i]:
            learners[b] = i
            per_type[types[i] + 1] += 1
            b += 1
        if sells[i]:
            sellers[c] = i
            c += 1
    start = np.cumsum(per_type)  # start[t]: first position of type t among sorted learners
    by_type = np.empty(n_learners, np.int64)
    peer_start = np.empty(n_learners, np.int64)
    peer_count = np.empty(n_learners, np.int64)
    filled = start[:-1].copy()
    for i in learners:
        t = types[i]
        k = filled[t]
        by_type[k] = i
        peer_start[k] = start[t]
        peer_count[k] = start[t + 1] - start[t]
        filled[t] += 1
    return alive_rows, orgs, position, learners, by_type, peer_start, peer_count, sellers
