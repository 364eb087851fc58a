"""Columnar state owned by the model: one row per agent, numpy columns.

Agents are Mesa objects that hold their row number; the hot mechanisms work on
whole columns at once. Rows are never reused: an exited agent's row keeps its
final state with ``alive`` False, so the ledger and the metrics can still be
reconciled with it.
"""

from __future__ import annotations

import numpy as np


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
        alive = orgs.view("alive")
        types = orgs.view("type")
        self.alive_rows = np.flatnonzero(alive)
        self.orgs = np.flatnonzero(alive & (types != government_type))
        # Each row's position in ``orgs`` (-1 for the others), for per-organisation arrays.
        self.org_position = np.full(orgs.n, -1, dtype=np.int64)
        self.org_position[self.orgs] = np.arange(len(self.orgs))
        self.learners = np.flatnonzero(alive & orgs.view("learns"))
        # Learners grouped by type, with each one's group start and size: peers are
        # drawn within the group (see mechanisms.contribution).
        learner_types = orgs.type[self.learners]
        order = np.argsort(learner_types, kind="stable")
        self.learners_by_type = self.learners[order]
        sorted_types = learner_types[order]
        self.peer_start = np.searchsorted(sorted_types, sorted_types, side="left")
        self.peer_count = (
            np.searchsorted(sorted_types, sorted_types, side="right") - self.peer_start
        )
        self.sellers = np.flatnonzero(alive & orgs.view("sells"))
