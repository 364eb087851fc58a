"""The model's state as named bundles of arrays: what a tick reads and writes.

Every column and buffer the compiled rules touch is a field of one of the
``NamedTuple`` classes below, and :class:`kctsim.model.KCTModel` creates them all.
A kernel takes the bundles it needs and reads ``orgs.capital[i]``, never the
thirtieth positional argument: numba compiles a named tuple of arrays as a struct
(its fields are looked up when the kernel compiles, not when it runs), and a
bundle is passed to a kernel in a few microseconds.

Bundles hold arrays, and arrays are mutable: a kernel changes the model's state by
writing into them. A scalar that a kernel changes (the number of links, the rival's
arrival, ...) is returned in a named result instead (see
:class:`kctsim.compiled_tick.TickResult`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import types
from numba.experimental import structref

# One row per organisation (government included); name -> (dtype, one value per stage).
ORGANISATION_COLUMNS: dict[str, tuple[type, bool]] = {
    "alive": (np.bool_, False),
    "type": (np.int8, False),
    "uid": (np.int64, False),
    "design": (np.int64, True),  # the design held on each stage
    # The design on each stage was reached by a kept R&D move of this row since that
    # stage's landscape last changed: only such designs count toward a breakthrough.
    "earned": (np.bool_, True),
    "capital": (np.float64, False),
    "capital0": (np.float64, False),  # at founding
    "capital_prev": (np.float64, False),  # a tick ago: the payoff is the change
    "payoff": (np.float64, False),  # track record, discounted
    "r": (np.float64, False),  # contribution: share of capital put into R&D
    "r0": (np.float64, False),  # the contribution it started with
    "exploration": (np.float64, False),
    "absorption": (np.float64, False),
    "efficiency": (np.float64, False),  # R&D efficiency
    "premium": (np.float64, False),  # market access
    "base_revenue": (np.float64, False),
    "operating_cost": (np.float64, False),
    "learns": (np.bool_, False),  # learns its contribution from peers
    "publishes": (np.bool_, False),
    "sells": (np.bool_, False),
    "soft_budget": (np.bool_, False),  # may be rescued when insolvent
    "stage_pref": (np.float64, True),  # its own R&D split over the stages
    "member": (np.bool_, False),  # of the consortium
    "hub": (np.bool_, False),  # the consortium's hub
    "grant": (np.float64, True),  # public money earmarked per stage this tick
    "gov_money": (np.float64, False),  # public money received this tick
    "own_rnd": (np.float64, False),  # own R&D spending this tick
    "succeeded": (np.bool_, False),  # an R&D success this tick
    "spill_gain": (np.float64, False),  # fitness gained from others' designs
    "own_gain": (np.float64, False),  # fitness gained by its own search
    "expertise": (np.float64, False),  # of the scientists it employs
    "n_feedback": (np.int64, False),  # participating users it supplies
    "born": (np.int64, False),
    "died": (np.int64, False),
}


class Organisations(NamedTuple):
    """The organisation table's columns (full capacity; rows ``0..n-1`` are in use)."""

    alive: np.ndarray
    type: np.ndarray
    uid: np.ndarray
    design: np.ndarray
    earned: np.ndarray
    capital: np.ndarray
    capital0: np.ndarray
    capital_prev: np.ndarray
    payoff: np.ndarray
    r: np.ndarray
    r0: np.ndarray
    exploration: np.ndarray
    absorption: np.ndarray
    efficiency: np.ndarray
    premium: np.ndarray
    base_revenue: np.ndarray
    operating_cost: np.ndarray
    learns: np.ndarray
    publishes: np.ndarray
    sells: np.ndarray
    soft_budget: np.ndarray
    stage_pref: np.ndarray
    member: np.ndarray
    hub: np.ndarray
    grant: np.ndarray
    gov_money: np.ndarray
    own_rnd: np.ndarray
    succeeded: np.ndarray
    spill_gain: np.ndarray
    own_gain: np.ndarray
    expertise: np.ndarray
    n_feedback: np.ndarray
    born: np.ndarray
    died: np.ndarray


assert Organisations._fields == tuple(ORGANISATION_COLUMNS)


class Census(NamedTuple):
    """Rows of the alive organisations by role (views into one block of buffers)."""

    alive_rows: np.ndarray  # every alive row, government included
    orgs: np.ndarray  # alive rows but the government's
    org_position: np.ndarray  # each row's position in ``orgs`` (-1 for the others)
    learners: np.ndarray  # rows that learn their contribution, in row order
    learners_by_type: np.ndarray  # the same, grouped by type
    peer_start: np.ndarray  # where each grouped learner's type group starts
    peer_count: np.ndarray  # and its size
    sellers: np.ndarray  # rows that sell to users


class Terrain(NamedTuple):
    """The technology as the rules see it: fitness tables, gates, the foreign frontier."""

    table: np.ndarray  # (stages, 2^max N) fitness of every design, padded
    n_bits: np.ndarray  # N of each stage
    gates: np.ndarray  # the fitness a stage's design must reach
    frontier: np.ndarray  # the foreign design per stage, -1 where there is none (yet)
    rival_design: np.ndarray  # the foreign rival's design per stage once it arrives first


class Fitness(NamedTuple):
    """Every row's fitness on every stage, and how far each stage has come."""

    raw: np.ndarray  # (rows, stages)
    effective: np.ndarray  # (rows, stages): capped by the stage before
    progress: np.ndarray  # (stages,): best effective fitness / gate, at most 1


class Allocation(NamedTuple):
    """The government's plan: budget over time, direction, split over the stages."""

    budget_profile: np.ndarray  # multiplier of the budget per tick
    direction: np.ndarray  # the design it steers toward, per stage
    basis: np.ndarray  # the stages' progress the split was computed from
    need: np.ndarray  # each stage's share of the need
    split: np.ndarray  # the budget's share per stage
    fixed: np.ndarray  # the levers' fixed stage weights, normalised
    held: np.ndarray  # (1,): what the last rescues and top-ups asked for, held back next tick


class Users(NamedTuple):
    """One row per user."""

    supplier: np.ndarray  # the organisation row it buys from
    adopted: np.ndarray
    participating: np.ndarray  # gives its supplier feedback
    uid: np.ndarray


class Scientists(NamedTuple):
    """One row per scientist, and the tick's scratch of who looks for a new employer."""

    employer: np.ndarray
    expertise: np.ndarray
    look: np.ndarray


class Links(NamedTuple):
    """The collaboration network: edge e joins rows a[e] < b[e] with trust[e]."""

    a: np.ndarray
    b: np.ndarray
    trust: np.ndarray


class Knowledge(NamedTuple):
    """Who sees which designs, and who gained from whose."""

    pool_design: np.ndarray  # (POOL_SIZE, stages): recently published designs
    pool_row: np.ndarray  # who published them (-1: empty slot)
    pool_next: np.ndarray  # the next slot to overwrite, per stage
    visible: np.ndarray  # (rows, stages): the best design each row sees
    visible_row: np.ndarray  # whose it is (-1: none)
    public_design: np.ndarray  # the best public design per stage
    public_row: np.ndarray
    spill_matrix: np.ndarray  # (source type + foreign, receiver type): fitness gained
    changed: np.ndarray  # rows whose design changed this tick
    discoveries: np.ndarray  # rows with an R&D success this tick (scratch)


class Books(NamedTuple):
    """The ledger's buffers (see :class:`kctsim.ledger.Ledger`)."""

    ints: np.ndarray  # (rows, 7): tick, kind, from type, from id, to type, to id, stage
    amounts: np.ndarray


class Streams(NamedTuple):
    """The run's random streams (see :mod:`kctsim.streams`)."""

    main: np.ndarray  # every draw of the rules but the two below
    technology: np.ndarray  # landscapes, turbulence, start designs
    hazard: np.ndarray  # the hazard's Monte Carlo estimate (draws nothing else)


class Measurements(NamedTuple):
    """Step 7's output rows and what adds up over the run."""

    floats: np.ndarray  # the tick's float metrics (kctsim.metrics.FLOAT_METRICS, stages)
    ints: np.ndarray  # the tick's integer metrics (kctsim.metrics.INT_METRICS)
    totals: np.ndarray  # survival, spilled and own gains so far
    counts: np.ndarray  # imitation and innovation moves, blocked ticks so far


def measurements(n_stages: int, n_floats: int, n_ints: int) -> Measurements:
    """Empty rows and fresh accumulators (survival starts at 1)."""
    return Measurements(
        np.empty(n_floats + 3 * n_stages),
        np.empty(n_ints, dtype=np.int64),
        np.array([1.0, 0.0, 0.0]),
        np.zeros(3, dtype=np.int64),
    )


class Now(NamedTuple):
    """Where the run is, for one call of the tick's kernel (scalars only)."""

    tick: int
    horizon: int
    n: int  # organisation rows in use
    government: int  # the government's row
    n_users: int
    n_scientists: int
    n_edges: int  # links in use
    first_stage: int  # turbulence is drawn from this stage on
    do_hazard: bool  # the hazard is estimated until the breakthrough
    split_first: bool  # the stage split has not been computed yet
    breakthrough_tick: int  # -1 until the breakthrough
    rival_tick: int  # -1 until the foreign rival arrives
    pos: int  # the ledger's length
    spill: float  # fitness gained from others' designs so far this tick
    innovation: float  # fitness gained by own search so far this tick
    moves_imitation: int  # moves so far this tick
    moves_innovation: int


# ------------------------------------------------------------ the tick's state
# The tick's kernel takes every bundle above in one StructRef (numba's documented
# mutable struct): numba passes it by reference in about a microsecond, where it reads
# a tuple of bundles from Python element by element (some 50 us a call).


@structref.register
class TickStateType(types.StructRef):
    """numba's type of :class:`TickState`."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class TickState(structref.StructRefProxy):
    """Every bundle the tick's kernel reads or writes (fields: :data:`TICK_STATE_FIELDS`),
    made by :func:`kctsim.compiled_tick.tick_state` again whenever one of them is
    replaced. Not picklable: the model makes it afresh after a copy."""


TICK_STATE_FIELDS = (
    "constants",
    "streams",
    "orgs",
    "census",
    "fitness",
    "terrain",
    "plan",
    "users",
    "scientists",
    "links",
    "knowledge",
    "books",
    "reach",
    "miss",
    "exits",
    "measurements",
)
structref.define_proxy(TickState, TickStateType, list(TICK_STATE_FIELDS))
