"""NK fitness landscapes as precomputed numpy tables (Kauffman 1993; Levinthal 1997).

A design is an N-bit integer. Bit i contributes a U(0,1) value that depends on
itself and K other bits; raw fitness is the mean contribution. The whole table
of 2^N raw fitness values is computed once, so every look-up is an index, and
fitness is the raw value divided by the table's maximum (global optimum = 1).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numba import njit

from kctsim.kernels import JIT


class NKLandscape:
    """An NK landscape with turbulence and cached neighbourhood statistics.

    Args:
        n_bits: N, the number of design choices (at most 16: the table has 2^N rows).
        k: K, how many other bits each bit's contribution depends on.
        rng: the numpy Generator that draws interactions and contributions.
    """

    revisions = 0
    """Changes to any landscape in this process (a cheap staleness check for caches)."""

    def __init__(self, n_bits: int, k: int, rng: np.random.Generator) -> None:
        if not 1 <= n_bits <= 16 or not 0 <= k < n_bits:
            raise ValueError(f"need 1 <= N <= 16 and 0 <= K < N, got N={n_bits}, K={k}")
        self.n_bits = n_bits
        self.k = k
        self.rng = rng
        self.size = 1 << n_bits
        # Each bit depends on itself and K distinct other bits (random interactions).
        self.dependencies = np.empty((n_bits, k + 1), dtype=np.int64)
        for i in range(n_bits):
            others = np.delete(np.arange(n_bits), i)
            self.dependencies[i, 0] = i
            self.dependencies[i, 1:] = rng.choice(others, size=k, replace=False)
        self.tables = rng.random((n_bits, 1 << (k + 1)))
        # Each design's index into each bit's table, and the contributions: (N, 2^N).
        self._index, self._contrib = _contributions(self.dependencies, self.tables, self.size)
        self.flip_masks = (1 << np.arange(n_bits)).astype(np.int64)
        self.version = 0
        self._refresh()

    def _refresh(self) -> None:
        self.raw = _mean_of_rows(self._contrib)
        self.raw_max = float(self.raw.max())
        self.fitness = self.raw / self.raw_max
        self._cache: dict[tuple, np.ndarray] = {}
        self.version += 1
        NKLandscape.revisions += 1

    def redraw_bit(self, bit: int) -> None:
        """Turbulence: redraw one bit's contribution table and recompute fitness."""
        self.replace_bit_table(bit, self.rng.random(self.tables.shape[1]))

    def replace_bit_table(self, bit: int, table: np.ndarray) -> None:
        """One bit's contribution table replaced by ``table``; fitness recomputed."""
        self.tables[bit] = table
        self._contrib[bit] = self.tables[bit, self._index[bit]]
        self._refresh()

    def quantile(self, q: float) -> float:
        """The fitness at quantile q of all 2^N designs."""
        return linear_quantile(self.fitness, q)

    def design_at_quantile(self, q: float) -> int:
        """The design whose fitness is closest to quantile q."""
        return int(np.argmin(np.abs(self.fitness - self.quantile(q))))

    def neighbours(self, designs: np.ndarray) -> np.ndarray:
        """One-bit neighbours of each design: shape (len(designs), N)."""
        return designs[:, None] ^ self.flip_masks[None, :]

    def local_optima(self) -> np.ndarray:
        """Boolean table: no one-bit neighbour is fitter."""
        key = ("optima",)
        if key not in self._cache:
            nb = self.fitness[self.neighbours(np.arange(self.size))]
            self._cache[key] = (nb < self.fitness[:, None]).all(axis=1)
        return self._cache[key]

    def count_reaching(self, gate: float, n_flips: int = 1) -> np.ndarray:
        """For every design x, how many designs exactly ``n_flips`` bits from x reach the gate.

        An XOR-convolution of the reaching set with the shell of radius
        ``n_flips``, done with Walsh-Hadamard transforms in O(N 2^N).
        """
        key = ("reach", gate, n_flips)
        if key not in self._cache:
            shell = _shell_transform(self.n_bits, n_flips)
            self._cache[key] = _count_reaching_kernel(self.fitness, gate, shell)
        return self._cache[key]

    def climb(self, design: int) -> int:
        """Steepest-ascent local search from ``design`` to a local optimum."""
        while True:
            nb = self.neighbours(np.array([design]))[0]
            best = nb[np.argmax(self.fitness[nb])]
            if self.fitness[best] <= self.fitness[design]:
                return design
            design = int(best)


def linear_quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` for 0 <= q <= 1, bit for bit (numpy's "linear" method:
    the same partition and the same arithmetic) without numpy's general machinery,
    which costs about six times as much on a 2^14 table; every entry after turbulence
    needs one (:meth:`kctsim.technology.Technology.start_pool`)."""
    n = len(values)
    virtual = (n - 1) * q
    if virtual >= n - 1:
        return float(values.max())
    k = math.floor(virtual)
    below, above = np.partition(values, (k, k + 1))[k : k + 2]
    gamma = virtual - k
    diff = above - below
    return float(above - diff * (1 - gamma) if gamma >= 0.5 else below + diff * gamma)


@cache
def _shell_transform(n_bits: int, n_flips: int) -> np.ndarray:
    """Walsh-Hadamard transform of the shell of radius ``n_flips`` (the same on every
    landscape with N bits, so computed once; read-only)."""
    shell = (np.bitwise_count(np.arange(1 << n_bits)) == n_flips).astype(float)
    transform = _walsh_hadamard(shell)
    transform.flags.writeable = False
    return transform


def _walsh_hadamard(values: np.ndarray) -> np.ndarray:
    """Unnormalised fast Walsh-Hadamard transform of a vector of length 2^N."""
    a = values.astype(float).copy()
    h = 1
    while h < a.size:
        a = a.reshape(-1, 2, h)
        a = np.stack([a[:, 0] + a[:, 1], a[:, 0] - a[:, 1]], axis=1)
        h *= 2
    return a.reshape(-1)


@njit(**JIT)
def _contributions(dependencies, tables, size):
    """index[i, x]: bit j of it is bit dependencies[i, j] of design x; contrib[i, x] =
    tables[i, index[i, x]]. Compiled: every model builds a 2^N table per stage (about a
    third of a model's construction in numpy)."""
    n_bits = dependencies.shape[0]
    index = np.empty((n_bits, size), dtype=np.int64)
    contrib = np.empty((n_bits, size))
    for i in range(n_bits):
        for x in range(size):
            at = 0
            for j in range(dependencies.shape[1]):
                at |= ((x >> dependencies[i, j]) & 1) << j
            index[i, x] = at
            contrib[i, x] = tables[i, at]
    return index, contrib


@njit(**JIT)
def _mean_of_rows(a):
    """``a.mean(axis=0)`` bit for bit: numpy adds the rows in order, then divides."""
    out = a[0].copy()
    for i in range(1, a.shape[0]):
        out += a[i]
    return out / a.shape[0]


@njit(**JIT)
def _walsh_hadamard_inplace(a: np.ndarray) -> None:
    """The butterflies of :func:`_walsh_hadamard`, in place (on slices: twice as fast)."""
    h = 1
    while h < len(a):
        for start in range(0, len(a), 2 * h):
            low, high = a[start : start + h], a[start + h : start + 2 * h]
            for j in range(h):
                x, y = low[j], high[j]
                low[j], high[j] = x + y, x - y
        h *= 2


@njit(**JIT)
def _count_reaching_kernel(fitness: np.ndarray, gate: float, shell: np.ndarray) -> np.ndarray:
    """:meth:`NKLandscape.count_reaching` compiled (turbulence makes it recount in
    mid-run). Every intermediate is an integer below 2^53, so the counts are exact."""
    a = np.empty(len(fitness))
    for x in range(len(fitness)):
        a[x] = 1.0 if fitness[x] >= gate else 0.0
    _walsh_hadamard_inplace(a)
    a *= shell
    _walsh_hadamard_inplace(a)
    counts = np.empty(len(fitness), dtype=np.int64)
    for x in range(len(fitness)):
        counts[x] = np.int64(np.rint(a[x] / len(fitness)))
    return counts
