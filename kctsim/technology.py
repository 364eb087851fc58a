"""A technology as the domestic system meets it: landscapes, gates, frontiers.

Built from a :class:`~kctsim.config.TechnologyType` (data). One stage is a
single technology; several stages are a chain (basic research -> technology
generation -> application) in which work on a stage only counts up to what
the stage before it has reached (docs/ODD.md, section 2.1).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kctsim.config import TechnologyType
from kctsim.kernels import JIT
from kctsim.landscape import NKLandscape
from kctsim.streams import as_numpy, fill_random, integers


class Technology:
    """The landscapes of one technology and what counts as breaking through.

    Args:
        spec: the technology type.
        stream: the random stream of landscapes, turbulence and start designs
            (:mod:`kctsim.streams`).
    """

    def __init__(self, spec: TechnologyType, stream: np.ndarray) -> None:
        self.spec = spec
        self.stream = stream
        with as_numpy(stream) as rng:
            self.landscapes = [NKLandscape(s.n_bits, s.k, rng) for s in spec.stages]
        self.n_stages = len(self.landscapes)
        self.n_bits = np.array([land.n_bits for land in self.landscapes], dtype=np.int64)
        self.gates = np.empty(self.n_stages)
        # -1 where the stage has no foreign frontier design.
        self.frontier = np.full(self.n_stages, -1, dtype=np.int64)
        for s, (stage, land) in enumerate(zip(spec.stages, self.landscapes, strict=True)):
            if stage.frontier:
                self.frontier[s] = land.design_at_quantile(stage.target_quantile)
                self.gates[s] = land.fitness[self.frontier[s]]
            else:
                self.gates[s] = land.quantile(stage.target_quantile)
        # The foreign design the rules see per stage: the frontier, and on the other
        # stages the design the foreign rival reaches once it arrives first (a design of
        # the gate's fitness or just above; -1 until then). Start designs keep their
        # distance from the original frontier only.
        self.foreign = self.frontier.copy()
        self.rival_design = np.full(self.n_stages, -1, dtype=np.int64)
        for s, land in enumerate(self.landscapes):
            if self.frontier[s] < 0:
                past = np.flatnonzero(land.fitness >= self.gates[s])
                self.rival_design[s] = past[np.argmin(land.fitness[past])]
        self.blockade = spec.blockade
        self.rival_hazard = spec.rival_hazard
        self.cost_multiplier = spec.cost_multiplier
        self._start_pool: dict[int, tuple] = {}  # stage -> (cache key, designs)
        self._pool_revision, self._pool_args = -1, None  # what start_pool was made for
        self._far: dict[tuple[int, int], np.ndarray] = {}  # (stage, bits) -> mask
        self._table_revision = -1  # NKLandscape.revisions when the table was built
        self._table = np.zeros((self.n_stages, max(land.size for land in self.landscapes)))

    def start_pool(
        self, below_quantile: float, min_distance: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The designs an entrant may start from, every stage's one after another, and
        where each stage's begin (``pool[offsets[s]:offsets[s + 1]]``): below a fitness
        quantile and far from the frontier. Entrants draw from it with
        :func:`draw_designs`; it is made again only after turbulence."""
        args = (below_quantile, min_distance)
        if self._pool_revision != NKLandscape.revisions or self._pool_args != args:
            pools = [self._stage_pool(s, *args) for s in range(self.n_stages)]
            self._pool = pools[0] if self.n_stages == 1 else np.concatenate(pools)
            self._pool_offsets = np.cumsum([0, *(len(p) for p in pools)], dtype=np.int64)
            self._pool_revision, self._pool_args = NKLandscape.revisions, args
        return self._pool, self._pool_offsets

    def _stage_pool(self, stage: int, below_quantile: float, min_distance: float) -> np.ndarray:
        land = self.landscapes[stage]
        key = (stage, land.version, below_quantile, min_distance)
        if self._start_pool.get(stage, (None,))[0] != key:
            ok = land.fitness < land.quantile(below_quantile)
            if self.frontier[stage] >= 0:
                far = self._far_from_frontier(stage, int(np.ceil(min_distance * land.n_bits)))
                if (ok & far).any():
                    ok &= far
            self._start_pool[stage] = (key, np.flatnonzero(ok))
        return self._start_pool[stage][1]

    def _far_from_frontier(self, stage: int, min_bits: int) -> np.ndarray:
        """Designs at least ``min_bits`` bits from the stage's frontier design (which
        turbulence does not move, so the mask is made once)."""
        key = (stage, min_bits)
        far = self._far.get(key)
        if far is None:
            size = self.landscapes[stage].size
            distance = np.bitwise_count(np.arange(size) ^ self.frontier[stage])
            far = self._far[key] = distance >= min_bits
        return far

    def strike(self, stage: int) -> None:
        """Turbulence struck a stage (its draw is made in :mod:`kctsim.compiled_tick`):
        one random bit's contribution table is drawn again."""
        land = self.landscapes[stage]
        bit = int(integers(self.stream, 0, land.n_bits))
        table = np.empty(land.tables.shape[1])
        fill_random(self.stream, table)  # numpy's rng.random(size)
        land.replace_bit_table(bit, table)

    def fitness_table(self) -> np.ndarray:
        """Every stage's fitness table in one array, shape (stages, 2^max N), for the
        compiled mechanisms; rebuilt only after turbulence has changed a landscape."""
        if self._table_revision != NKLandscape.revisions:
            for s, land in enumerate(self.landscapes):
                self._table[s, : land.size] = land.fitness
            self._table_revision = NKLandscape.revisions
        return self._table


@njit(**JIT)
def _draw(stream, pool, n):
    """``n`` designs drawn from ``pool`` with replacement (numpy's
    ``pool[rng.integers(len(pool), size=n)]``, the same draws)."""
    drawn = np.empty(n, dtype=np.int64)
    for k in range(n):
        drawn[k] = pool[integers(stream, 0, len(pool))]
    return drawn


@njit(**JIT)
def draw_designs(stream, pool, offsets, n, design, start):
    """Start designs of rows start..start+n-1, stage by stage, from :meth:`Technology.start_pool`
    (each stage as :func:`_draw`)."""
    for s in range(len(offsets) - 1):
        drawn = _draw(stream, pool[offsets[s] : offsets[s + 1]], n)
        for k in range(n):
            design[start + k, s] = drawn[k]


@njit(**JIT)
def stages_earned(raw: np.ndarray, alive: np.ndarray, earned: np.ndarray, gates: np.ndarray) -> int:
    """How many stages some alive row has passed with an earned design: raw fitness past
    the gate, reached by its own R&D since the stage's landscape last changed (a design
    that a redraw lifted over the gate does not count; docs/ODD.md, section 2.1)."""
    count = 0
    for s in range(len(gates)):
        for i in range(raw.shape[0]):
            if alive[i] and earned[i, s] and raw[i, s] >= gates[s]:
                count += 1
                break
    return count


@njit(**JIT)
def all_stages_passed(
    raw: np.ndarray, alive: np.ndarray, earned: np.ndarray, gates: np.ndarray
) -> bool:
    """Breakthrough: every stage is passed with an earned design (:func:`stages_earned`)."""
    return stages_earned(raw, alive, earned, gates) == len(gates)


@njit(**JIT)
def _refresh_kernel(table, designs, alive, n, gates, raw, eff, progress):
    """Raw fitness by table look-up; effective fitness capped stage by stage by the
    progress of the stage before (the chain), and each stage's progress to its gate."""
    cap = np.inf
    for s in range(len(gates)):
        best = -np.inf
        for i in range(n):
            f = table[s, designs[i, s]]
            raw[i, s] = f
            e = min(f, cap) if alive[i] else min(0.0, cap)
            eff[i, s] = e
            best = max(best, e)
        progress[s] = min(1.0, (best if n else 0.0) / gates[s])
        cap = progress[s] * gates[s + 1] if s + 1 < len(gates) else np.inf
