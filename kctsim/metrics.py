"""Step 7: what every tick reports (docs/ODD.md, outputs).

:func:`measure` computes every metric of the tick in one compiled call, into two
rows held by the model: the float metrics and the integer ones
(:data:`FLOAT_METRICS`, :data:`INT_METRICS`). Mesa's ``DataCollector``
(:class:`kctsim.collector.MetricsCollector`) keeps the rows, and the model serves
each metric by name (``model.p_breakthrough``) from the latest row. Counters that
add up over a tick are reset after each measurement.
"""

from __future__ import annotations

from functools import cache, partial
from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.config import AGENT_TYPES
from kctsim.kernels import JIT, total
from kctsim.mechanisms import network

N_TYPES = len(AGENT_TYPES)
COUNTED_TYPES = tuple(t for t in AGENT_TYPES if t != "government")


class Metric(NamedTuple):
    """One per-tick metric: its name, its type, and how the run's summary condenses it."""

    name: str
    dtype: type  # float or int: which of the kernel's two rows holds it
    # "last" value, "mean" after tick 0, "total" over the run, value at the "breakthrough"
    # tick (NaN without one), or "" (not summarised)
    summary: str = ""
    summary_name: str = ""  # the summary column, when it is not the metric's own name


METRICS: tuple[Metric, ...] = (
    Metric("tick", int),
    Metric("at_risk", int),  # the technology could still break through this tick
    Metric("hazard", float),
    Metric("p_breakthrough", float),
    Metric("breakthrough", int),
    Metric("breakthrough_tick", float),  # NaN until it happens
    # Share of stages passed with a design reached by R&D since the stage's last redraw,
    # at the breakthrough check after R&D; 1 at every breakthrough (ODD 2.1).
    Metric("passed_by_rnd", float, "breakthrough", "breakthrough_by_rnd"),
    Metric("rival_reached", int),
    Metric("lead", float, "last"),
    Metric("best_fitness", float, "last"),
    Metric("mean_fitness", float, "last"),
    Metric("gap_to_target", float, "last"),
    Metric("spillover_volume", float),
    Metric("innovation_volume", float),
    Metric("spillover_share", float, "last"),
    Metric("free_riding_share", float, "last"),
    Metric("contribution_gap", float, "last"),
    Metric("mean_contribution", float),
    Metric("crowding_out", float, "mean"),  # tick 0 is before any money
    Metric("gov_money", float, "total", "gov_money_total"),
    Metric("private_rnd", float, "total", "private_rnd_total"),
    Metric("misallocation_index", float, "mean"),
    Metric("chain_blocked", int),
    Metric("chain_blockage", int, "last"),  # already a running count of blocked ticks
    Metric("diversity", float, "last"),
    Metric("lock_in", float, "last"),
    Metric("imitation_share", float, "last"),  # cumulative over the run
    Metric("density", float, "last"),
    Metric("clustering", float, "last"),
    Metric("centralisation", float, "last"),
    Metric("adoption_share", float, "last"),
    *(Metric(f"n_{t}", int) for t in COUNTED_TYPES),
    Metric("n_scientist", int),
    Metric("n_user", int),
    Metric("exits", int, "total", "total_exits"),
    Metric("entries", int, "total", "total_entries"),
    Metric("startups", int),
)
"""Every metric common to the technology types, in the order of the metrics table; the
per-stage metrics (:func:`stage_metric_names`) follow them. The one list of metrics:
the kernel's rows, their slots and the summary's rules are derived from it."""

RUN_METRICS = tuple(m.name for m in METRICS)
FLOAT_METRICS = tuple(m.name for m in METRICS if m.dtype is float)
"""The float row: these, then the per-stage metrics."""
INT_METRICS = tuple(m.name for m in METRICS if m.dtype is int)
"""The integer row."""


def summary_rule(rule: str) -> dict[str, str]:
    """Metric -> summary column, for the metrics the summary condenses by ``rule``."""
    return {m.name: m.summary_name or m.name for m in METRICS if m.summary == rule}


def stage_metric_names(n_stages: int) -> list[str]:
    """Per-stage metrics: progress toward the gate, funding share and need share."""
    return [
        f"{m}_{s + 1}"
        for s in range(n_stages)
        for m in ("stage_progress", "stage_funding", "stage_need")
    ]


def model_names(n_stages: int) -> list[str]:
    """Every metric's name, in the order of the metrics table."""
    return [*RUN_METRICS, *stage_metric_names(n_stages)]


def value(model, name: str) -> float | int:
    """The latest measurement of one metric (``breakthrough_tick`` is NaN until then)."""
    row, index = metric_slots(model.n_stages)[name]
    return model.measurements[row][index].item()


def model_reporters(n_stages: int) -> dict[str, partial]:
    """Mesa DataCollector reporters: metric name -> reader of its latest measurement."""
    return {name: partial(value, name=name) for name in model_names(n_stages)}


# Where the measure kernel writes each metric it names (numba freezes these globals).
_F = {name: k for k, name in enumerate(FLOAT_METRICS)}
_I = {name: k for k, name in enumerate(INT_METRICS)}
HAZARD, P_BREAKTHROUGH, BREAKTHROUGH_TICK, PASSED_BY_RND, LEAD = (
    _F[n] for n in ("hazard", "p_breakthrough", "breakthrough_tick", "passed_by_rnd", "lead")
)
BEST_FITNESS, MEAN_FITNESS, GAP_TO_TARGET = (
    _F[n] for n in ("best_fitness", "mean_fitness", "gap_to_target")
)
SPILLOVER_VOLUME, INNOVATION_VOLUME, SPILLOVER_SHARE, FREE_RIDING_SHARE = (
    _F[n] for n in ("spillover_volume", "innovation_volume", "spillover_share", "free_riding_share")
)
CONTRIBUTION_GAP, MEAN_CONTRIBUTION, CROWDING_OUT = (
    _F[n] for n in ("contribution_gap", "mean_contribution", "crowding_out")
)
GOV_MONEY, PRIVATE_RND, MISALLOCATION_INDEX = (
    _F[n] for n in ("gov_money", "private_rnd", "misallocation_index")
)
DIVERSITY, LOCK_IN, IMITATION_SHARE, DENSITY, CLUSTERING, CENTRALISATION, ADOPTION_SHARE = (
    _F[n]
    for n in (
        "diversity",
        "lock_in",
        "imitation_share",
        "density",
        "clustering",
        "centralisation",
        "adoption_share",
    )
)
STAGE_AT = len(FLOAT_METRICS)  # the per-stage metrics, three per stage
TICK, AT_RISK, BREAKTHROUGH, RIVAL_REACHED = (
    _I[n] for n in ("tick", "at_risk", "breakthrough", "rival_reached")
)
CHAIN_BLOCKED, CHAIN_BLOCKAGE, N_SCIENTIST, N_USER = (
    _I[n] for n in ("chain_blocked", "chain_blockage", "n_scientist", "n_user")
)
EXITS, ENTRIES, STARTUPS = (_I[n] for n in ("exits", "entries", "startups"))
TYPE_COUNTS = np.array([_I.get(f"n_{t}", -1) for t in AGENT_TYPES], dtype=np.int64)
"""Slot of each organisation type's count (-1: the government is not counted)."""

# What adds up over a run: survival and gains (floats); moves and blocked ticks (ints).
SURVIVAL, CUM_SPILL, CUM_INNOVATION = range(3)
CUM_MOVES_IMITATION, CUM_MOVES_INNOVATION, CUM_BLOCKED = range(3)


@cache
def metric_slots(n_stages: int) -> dict[str, tuple[int, int]]:
    """Where each column of the metrics table is in the kernel's rows:
    name -> (0 for the float row or 1 for the integer row, index)."""
    floats = (*FLOAT_METRICS, *stage_metric_names(n_stages))
    slots = {name: (0, k) for k, name in enumerate(floats)}
    slots.update({name: (1, k) for k, name in enumerate(INT_METRICS)})
    return {name: slots[name] for name in model_names(n_stages)}


def current_row(model) -> tuple[list[float], list[int]]:
    """The latest measurement: the float row and the integer row as Python numbers."""
    return model.measurements.floats.tolist(), model.measurements.ints.tolist()


def mean_pairwise_hamming(designs: np.ndarray, n_bits: int) -> float:
    """Mean pairwise Hamming distance / N, from bit counts (O(n N), not O(n^2))."""
    return _hamming_kernel(np.ascontiguousarray(designs, dtype=np.int64), n_bits)


@njit(**JIT)
def _hamming_kernel(designs, n_bits):
    """Sum over bits of 2 x ones x zeros (the pairs differing there) / pairs / N."""
    n = len(designs)
    if n < 2:
        return 0.0
    differing = 0
    for b in range(n_bits):
        ones = 0
        for d in designs:
            ones += (d >> b) & 1
        differing += 2 * ones * (n - ones)
    return differing / (n * (n - 1)) / n_bits


class Tally(NamedTuple):
    """What happened during the tick, as the metrics read it."""

    breakthrough_tick: int  # -1 until the breakthrough
    rival_tick: int  # -1 until the foreign rival arrives
    n_edges: int  # links at the end of the tick
    hazard: float
    spill: float  # fitness gained from others' designs
    innovation: float  # fitness gained by own search
    gov_money: float  # public money paid out
    private_rnd: float
    moves_imitation: int
    moves_innovation: int
    exits: int
    entries: int
    startups: int
    earned_stages: int  # stages passed with an earned design, after R&D


class Constants(NamedTuple):
    """What the parameters and the technology make of step 7."""

    has_rival: bool  # a foreign rival may get there first
    usable_fraction: float  # of the gate: a stage's output is usable from here on


def constants(params, tech) -> Constants:
    """Step 7's constants."""
    return Constants(bool(tech.rival_hazard > 0), float(params.usable_fraction))


@njit(**JIT)
def _measure_kernel(
    now, tally, c, org, census, fitness, terrain, plan, users, links, knowledge, out
):
    """Every metric of the tick into the rows ``out.floats`` and ``out.ints`` (see
    :data:`FLOAT_METRICS`, :data:`INT_METRICS`), the run's accumulators updated; sums
    are numpy's pairwise sums of the same elementwise values."""
    tick, breakthrough_tick, rival_tick = now.tick, tally.breakthrough_tick, tally.rival_tick
    has_rival, usable = c.has_rival, c.usable_fraction
    hazard, tick_spill, tick_innovation = tally.hazard, tally.spill, tally.innovation
    gov_money, private_rnd = tally.gov_money, tally.private_rnd
    moves_imitation, moves_innovation = tally.moves_imitation, tally.moves_innovation
    exits, entries, startups = tally.exits, tally.entries, tally.startups
    n_scientists, n_users, n_orgs, n_edges = now.n_scientists, now.n_users, now.n, tally.n_edges
    totals, counts, fout, iout = out.totals, out.counts, out.floats, out.ints
    eff, progress = fitness.effective, fitness.progress
    alive, types_, r_col, r0_col = org.alive, org.type, org.r, org.r0
    capital, spill_gain, design = org.capital, org.spill_gain, org.design
    orgs, learners, org_position = census.orgs, census.learners, census.org_position
    table, n_bits, gates = terrain.table, terrain.n_bits, terrain.gates
    split, need, before = plan.split, plan.need, plan.basis
    adopted, changed, edge_a, edge_b = users.adopted, knowledge.changed, links.a, links.b
    n_stages = len(gates)
    last = eff.shape[1] - 1
    n = len(orgs)

    # Breakthrough and its probability over time: P(t) = 1 - prod(1 - h) over the
    # ticks at risk (the breakthrough's own tick is one of them).
    at_risk = tick > 0 and (breakthrough_tick == -1 or breakthrough_tick == tick)
    if at_risk:
        totals[SURVIVAL] *= 1.0 - hazard
    broke = breakthrough_tick >= 0
    iout[TICK] = tick
    iout[AT_RISK] = at_risk
    iout[BREAKTHROUGH] = broke
    iout[RIVAL_REACHED] = rival_tick >= 0
    fout[HAZARD] = hazard
    fout[P_BREAKTHROUGH] = 1.0 if broke else 1.0 - totals[SURVIVAL]
    fout[BREAKTHROUGH_TICK] = breakthrough_tick if broke else np.nan
    fout[PASSED_BY_RND] = tally.earned_stages / len(terrain.gates)
    if not has_rival:
        fout[LEAD] = np.nan  # no foreign rival: nobody to lead or follow
    elif broke and (rival_tick < 0 or breakthrough_tick < rival_tick):
        fout[LEAD] = 1.0
    elif rival_tick >= 0:
        fout[LEAD] = 0.0
    else:
        fout[LEAD] = np.nan

    # Spillover and free-riding; money; path dependence (imitation share of moves).
    totals[CUM_SPILL] += tick_spill
    totals[CUM_INNOVATION] += tick_innovation
    fout[SPILLOVER_VOLUME] = tick_spill
    fout[INNOVATION_VOLUME] = tick_innovation
    gains = totals[CUM_SPILL] + totals[CUM_INNOVATION]
    fout[SPILLOVER_SHARE] = totals[CUM_SPILL] / gains if gains > 0 else 0.0
    fout[GOV_MONEY] = gov_money
    fout[PRIVATE_RND] = private_rnd
    counts[CUM_MOVES_IMITATION] += moves_imitation
    counts[CUM_MOVES_INNOVATION] += moves_innovation
    moves = counts[CUM_MOVES_IMITATION] + counts[CUM_MOVES_INNOVATION]
    fout[IMITATION_SHARE] = counts[CUM_MOVES_IMITATION] / moves if moves else 0.0

    # Fitness and the chain.
    best = -np.inf
    for i in range(n_orgs):
        if alive[i]:
            v = eff[i, last]
            if v > best or v != v:  # max, NaN propagating as in numpy
                best = v
                if v != v:
                    break
    fout[BEST_FITNESS] = best
    if n:
        product = np.empty(n)
        for j in range(n):
            product[j] = eff[orgs[j], last]
        fout[MEAN_FITNESS] = total(product) / n
    else:
        fout[MEAN_FITNESS] = 0.0
    stage = np.empty(n_stages)
    for s in range(n_stages):
        stage[s] = 1 - progress[s]
    fout[GAP_TO_TARGET] = total(stage) / n_stages
    for s in range(n_stages):
        stage[s] = abs(split[s] - need[s])
    fout[MISALLOCATION_INDEX] = 0.5 * total(stage)
    # A stage is ready once the one before it is usable, starved when it gets less
    # than half the share it needs (on the progress the split was computed from).
    blocked = 0
    for s in range(n_stages):
        ready = (1.0 if s == 0 else before[s - 1]) >= usable
        if ready and before[s] < 1.0 and split[s] < 0.5 * need[s]:
            blocked = 1
    iout[CHAIN_BLOCKED] = blocked
    counts[CUM_BLOCKED] += blocked
    iout[CHAIN_BLOCKAGE] = counts[CUM_BLOCKED]

    # Free-riding and contributions of the learners.
    m = len(learners)
    buf = np.empty((4, m))
    free = 0
    for j in range(m):
        i = learners[j]
        r, r0, c = r_col[i], r0_col[i], capital[i]
        cap = c if c >= 0.0 or c != c else 0.0  # np.maximum(c, 0)
        free += r < 0.5 * r0 and spill_gain[i] > 0
        buf[0, j] = r0 * cap
        buf[1, j] = r * cap
        buf[2, j] = (r0 - r) * cap
        buf[3, j] = r
    base = total(buf[0])
    fout[FREE_RIDING_SHARE] = free / m if m else 0.0
    fout[CONTRIBUTION_GAP] = 1 - total(buf[1]) / base if base > 0 else 0.0
    fout[MEAN_CONTRIBUTION] = total(buf[3]) / m if m else 0.0
    shortfall = total(buf[2])
    fout[CROWDING_OUT] = shortfall / gov_money if gov_money > 0 else 0.0

    # Path dependence: diversity, and lock-in on local optima below the gate.
    diversity, lock = 0.0, 0.0
    d = np.empty(n, dtype=np.int64)
    for s in range(n_stages):
        for j in range(n):
            d[j] = design[orgs[j], s]
        diversity += _hamming_kernel(d, n_bits[s])
        stuck = 0
        for j in range(n):
            f = table[s, d[j]]
            top = -np.inf
            for b in range(n_bits[s]):
                top = max(top, table[s, d[j] ^ (1 << b)])
            stuck += top < f and f < gates[s]
        lock += stuck / n if n else 0.0
    fout[DIVERSITY] = diversity / n_stages
    fout[LOCK_IN] = lock / n_stages

    adopters = 0
    for i in range(n_users):
        adopters += adopted[i]
    fout[ADOPTION_SHARE] = adopters / n_users if n_users else 0.0
    # Density, clustering, centralisation over the linkable organisations.
    fout[DENSITY], fout[CLUSTERING], fout[CENTRALISATION] = network._statistics_kernel(
        edge_a, edge_b, n_edges, org_position, n
    )
    for s in range(n_stages):
        fout[STAGE_AT + 3 * s] = progress[s]
        fout[STAGE_AT + 1 + 3 * s] = split[s]
        fout[STAGE_AT + 2 + 3 * s] = need[s]

    # Counts.
    iout[N_SCIENTIST] = n_scientists
    iout[N_USER] = n_users
    iout[EXITS] = exits
    iout[ENTRIES] = entries
    iout[STARTUPS] = startups
    per_type = np.zeros(N_TYPES, dtype=np.int64)
    for i in range(n_orgs):
        if alive[i]:
            per_type[types_[i]] += 1
    for t in range(len(per_type)):
        if TYPE_COUNTS[t] >= 0:
            iout[TYPE_COUNTS[t]] = per_type[t]
    if len(changed) == n_orgs:  # the next tick's change flags
        changed[:] = False


def measure(model) -> None:
    """Every metric of the tick into ``model.measurements``, then the counters reset."""
    model.catch_up()  # after entries or exits: the census and the fitness arrays
    _measure_state(model.compiled_state(), model.now(), model.tally())
    finish(model)


@njit(**JIT)
def _measure_state(state, now, tally):
    """:func:`_measure_kernel` on the bundles of a :class:`~kctsim.state.TickState`."""
    _measure_kernel(
        now, tally, state.constants.metrics, state.orgs, state.census, state.fitness,
        state.terrain, state.plan, state.users, state.links, state.knowledge, state.measurements,
    )  # fmt: skip


def finish(model) -> None:
    """After the measurement: the tick's counters back to zero, the change flags over
    every row (organisations may have entered)."""
    if len(model.changed) != model.orgs.n:
        model.changed = np.zeros(model.orgs.n, dtype=bool)
    if model.discoveries:
        model.discoveries = []
    model.reset_counters()
