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
from kctsim.state import Census


class Table:
    """Growable set of equally long numpy columns.

    Args:
        columns: name -> (dtype, trailing shape) of each column.
        capacity: rows allocated up front; doubled when exceeded.
    """

    def __init__(
        self,
        columns: dict[str, tuple[type | str, tuple[int, ...]]],
        capacity: int,
        bundle: type | None = None,
    ):
        self._spec = columns
        self.n = 0
        self._capacity = max(1, capacity)
        self._bundle_type = bundle
        self._bundle = None
        for name, (dtype, shape) in columns.items():
            setattr(self, name, np.zeros((self._capacity, *shape), dtype=dtype))

    def bundle(self):
        """The columns as the named bundle the kernels take (made again after growth)."""
        if self._bundle is None:
            self._bundle = self._bundle_type(*(getattr(self, name) for name in self._spec))
        return self._bundle

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
            self._bundle = None
        rows = np.arange(self.n, need)
        self.n = need
        return rows

    def view(self, name: str) -> np.ndarray:
        """The used part of a column (a view, writes go through)."""
        return getattr(self, name)[: self.n]


def census_of(block: np.ndarray, counts: tuple[int, int, int, int, int]) -> Census:
    """The :class:`~kctsim.state.Census` as views into ``block`` (shape (8, rows)), with
    the counts :func:`count_into` returned."""
    n, n_alive, n_orgs, n_learners, n_sellers = counts
    return Census(
        alive_rows=block[0, :n_alive],
        orgs=block[1, :n_orgs],
        org_position=block[2, :n],
        learners=block[3, :n_learners],
        learners_by_type=block[4, :n_learners],
        peer_start=block[5, :n_learners],
        peer_count=block[6, :n_learners],
        sellers=block[7, :n_sellers],
    )


@njit(**JIT)
def count_into(alive, types, learns, sells, n, government_type, block):
    """The row sets of :class:`Census` into ``block``, in one pass (entries and exits
    make this run often); returns (rows, alive, organisations, learners, sellers).

    ``org_position`` is each row's position in ``orgs`` (-1 for the others), for
    per-organisation arrays. Learners are grouped by type, in row order within a
    type (a stable sort), with each one's group start and size: peers are drawn
    within the group (see mechanisms.contribution).
    """
    alive_rows, orgs, position, learners = block[0], block[1], block[2], block[3]
    by_type, peer_start, peer_count, sellers = block[4], block[5], block[6], block[7]
    n_alive = n_orgs = n_learners = n_sellers = 0
    n_types = 0
    for i in range(n):
        position[i] = -1
        if not alive[i]:
            continue
        alive_rows[n_alive] = i
        n_alive += 1
        if types[i] != government_type:
            position[i] = n_orgs
            orgs[n_orgs] = i
            n_orgs += 1
        if learns[i]:
            learners[n_learners] = i
            n_learners += 1
            n_types = max(n_types, types[i] + 1)
        if sells[i]:
            sellers[n_sellers] = i
            n_sellers += 1
    per_type = np.zeros(n_types + 1, np.int64)
    for j in range(n_learners):
        per_type[types[learners[j]] + 1] += 1
    start = np.cumsum(per_type)  # start[t]: first position of type t among sorted learners
    filled = start[:-1].copy()
    for j in range(n_learners):
        i = learners[j]
        t = types[i]
        k = filled[t]
        by_type[k] = i
        peer_start[k] = start[t]
        peer_count[k] = start[t + 1] - start[t]
        filled[t] += 1
    return n, n_alive, n_orgs, n_learners, n_sellers
