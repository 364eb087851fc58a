"""Step 7: what every tick reports (MODEL.md section 7).

:func:`measure` computes every metric from the state into attributes of the
model; Mesa's ``DataCollector`` then reads them by name (string reporters: fast,
and the model stays picklable). Counters that add up over a tick are reset by
:func:`reset_tick_counters` after each measurement.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit

from kctsim.config import AGENT_TYPES
from kctsim.kernels import JIT, total
from kctsim.mechanisms import network

GOV = AGENT_TYPES.index("government")

RUN_METRICS = (
    "tick",
    "at_risk",
    "hazard",
    "p_breakthrough",
    "breakthrough",
    "breakthrough_tick",
    "rival_reached",
    "lead",
    "best_fitness",
    "mean_fitness",
    "gap_to_target",
    "spillover_volume",
    "innovation_volume",
    "spillover_share",
    "free_riding_share",
    "contribution_gap",
    "mean_contribution",
    "crowding_out",
    "gov_money",
    "private_rnd",
    "misallocation_index",
    "chain_blocked",
    "chain_blockage",
    "diversity",
    "lock_in",
    "imitation_share",
    "density",
    "clustering",
    "centralisation",
    "adoption_share",
    *(f"n_{t}" for t in AGENT_TYPES if t != "government"),
    "n_scientist",
    "n_user",
    "exits",
    "entries",
    "startups",
)
"""Per-tick metrics common to every technology type."""


def stage_metric_names(n_stages: int) -> list[str]:
    """Per-stage metrics: progress toward the gate, funding share and need share."""
    return [
        f"{m}_{s + 1}"
        for s in range(n_stages)
        for m in ("stage_progress", "stage_funding", "stage_need")
    ]


def model_reporters(n_stages: int) -> dict[str, str]:
    """DataCollector reporters: metric name -> model attribute holding it."""
    reporters = {name: name for name in (*RUN_METRICS, *stage_metric_names(n_stages))}
    reporters["breakthrough_tick"] = "reported_breakthrough_tick"  # NaN until it happens
    return reporters


# Metrics the measure kernel computes, in the order it writes them.
_FLOAT_METRICS = (
    "best_fitness",
    "mean_fitness",
    "gap_to_target",
    "misallocation_index",
    "free_riding_share",
    "contribution_gap",
    "mean_contribution",
    "crowding_out",
    "diversity",
    "lock_in",
    "adoption_share",
    "density",
    "clustering",
    "centralisation",
)
_STAGE_AT = len(_FLOAT_METRICS)  # the per-stage metrics follow the others in the kernel's output
_INT_METRICS = ("chain_blocked", *(f"n_{t}" for t in AGENT_TYPES if t != "government"))
# Counters of one tick, zero again after each measurement.
_TICK_COUNTERS = {
    "tick_spill": 0.0,
    "tick_innovation": 0.0,
    "tick_moves_imitation": 0,
    "tick_moves_innovation": 0,
    "tick_exits": 0,
    "tick_entries": 0,
    "tick_startups": 0,
    "tick_private_rnd": 0.0,
}


@cache
def _float_names(n_stages: int) -> tuple[str, ...]:
    return (*_FLOAT_METRICS, *stage_metric_names(n_stages))


def reset_tick_counters(model) -> None:
    """Zero the tick's counters; ``model.changed`` all False over the current rows."""
    changed = model.__dict__.get("changed")
    if changed is not None and len(changed) == model.orgs.n:
        changed.fill(False)
    _reset(model)


def _reset(model) -> None:
    """:func:`reset_tick_counters` after the measure kernel has cleared ``model.changed``
    (when its length still matched)."""
    n = model.orgs.n
    if len(model.__dict__.get("changed", ())) != n:
        model.changed = np.zeros(n, dtype=bool)
    model.discoveries = []
    model.__dict__.update(_TICK_COUNTERS)
    if not hasattr(model, "cum_spill"):
        model.cum_spill = model.cum_innovation = 0.0
        model.cum_moves_imitation = model.cum_moves_innovation = 0
        model.chain_blockage = 0
        model.hazard = 0.0


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


@njit(**JIT)
def _measure_kernel(
    eff,
    alive,
    types_,
    n_orgs,
    orgs,
    learners,
    r_col,
    r0_col,
    capital,
    spill_gain,
    design,
    table,
    n_bits,
    gates,
    progress,
    split,
    need,
    before,
    usable,
    gov_money,
    adopted,
    n_users,
    changed,
    edge_a,
    edge_b,
    n_edges,
    org_position,
    fout,
    iout,
):
    """Every array metric of :func:`measure` into ``fout`` and ``iout`` (their names'
    order), the network's statistics included; sums are numpy's pairwise sums of the
    same elementwise values."""
    n_stages = len(gates)
    last = eff.shape[1] - 1
    n = len(orgs)

    # Fitness and the chain.
    best = -np.inf
    for i in range(n_orgs):
        if alive[i]:
            v = eff[i, last]
            if v > best or v != v:  # max, NaN propagating as in numpy
                best = v
                if v != v:
                    break
    fout[0] = best
    if n:
        product = np.empty(n)
        for j in range(n):
            product[j] = eff[orgs[j], last]
        fout[1] = total(product) / n
    else:
        fout[1] = 0.0
    stage = np.empty(n_stages)
    for s in range(n_stages):
        stage[s] = 1 - progress[s]
    fout[2] = total(stage) / n_stages
    for s in range(n_stages):
        stage[s] = abs(split[s] - need[s])
    fout[3] = 0.5 * total(stage)
    # A stage is ready once the one before it is usable, starved when it gets less
    # than half the share it needs (on the progress the split was computed from).
    blocked = 0
    for s in range(n_stages):
        ready = (1.0 if s == 0 else before[s - 1]) >= usable
        if ready and before[s] < 1.0 and split[s] < 0.5 * need[s]:
            blocked = 1
    iout[0] = blocked

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
    fout[4] = free / m if m else 0.0
    fout[5] = 1 - total(buf[1]) / base if base > 0 else 0.0
    fout[6] = total(buf[3]) / m if m else 0.0
    shortfall = total(buf[2])
    fout[7] = shortfall / gov_money if gov_money > 0 else 0.0

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
    fout[8] = diversity / n_stages
    fout[9] = lock / n_stages

    adopters = 0
    for i in range(n_users):
        adopters += adopted[i]
    fout[10] = adopters / n_users if n_users else 0.0
    # Density, clustering, centralisation over the linkable organisations.
    fout[11], fout[12], fout[13] = network._statistics_kernel(
        edge_a, edge_b, n_edges, org_position, n
    )
    for s in range(n_stages):
        fout[_STAGE_AT + 3 * s] = progress[s]
        fout[_STAGE_AT + 1 + 3 * s] = split[s]
        fout[_STAGE_AT + 2 + 3 * s] = need[s]

    iout[1:] = 0
    for i in range(n_orgs):
        if alive[i]:
            iout[1 + types_[i]] += 1
    if len(changed) == n_orgs:  # the next tick's change flags (reset_tick_counters)
        changed[:] = False


def measure(model) -> None:
    """Every metric of the tick into the model's attributes, then the counters reset."""
    o, tech = model.orgs, model.tech
    if not model._fitness_current:
        model.refresh_fitness()
    census = model.census()

    # Breakthrough and its probability over time.
    model.at_risk = int(model.tick > 0 and model.breakthrough_tick in (-1, model.tick))
    if model.at_risk:
        model.survival *= 1.0 - model.hazard
    model.breakthrough = int(model.breakthrough_tick >= 0)
    model.reported_breakthrough_tick = (
        float(model.breakthrough_tick) if model.breakthrough else float("nan")
    )
    model.p_breakthrough = 1.0 if model.breakthrough else 1.0 - model.survival
    model.rival_reached = int(model.rival_tick >= 0)
    if model.tech.rival_hazard == 0:
        model.lead = float("nan")  # no foreign rival: nobody to lead or follow
    elif model.breakthrough and (
        model.rival_tick < 0 or model.breakthrough_tick < model.rival_tick
    ):
        model.lead = 1.0
    elif model.rival_reached:
        model.lead = 0.0
    else:
        model.lead = float("nan")

    # Spillover and free-riding; money.
    model.cum_spill += model.tick_spill
    model.cum_innovation += model.tick_innovation
    model.spillover_volume = model.tick_spill
    model.innovation_volume = model.tick_innovation
    total_gain = model.cum_spill + model.cum_innovation
    model.spillover_share = model.cum_spill / total_gain if total_gain > 0 else 0.0
    model.gov_money = model.tick_gov_money
    model.private_rnd = model.tick_private_rnd

    # Path dependence.
    model.cum_moves_imitation += model.tick_moves_imitation
    model.cum_moves_innovation += model.tick_moves_innovation
    moves = model.cum_moves_imitation + model.cum_moves_innovation
    model.imitation_share = model.cum_moves_imitation / moves if moves else 0.0

    # Every array metric (fitness, chain, contributions, diversity, lock-in, users,
    # counts) in one pass.
    n_bits = model.__dict__.get("_n_bits")
    if n_bits is None:
        n_bits = model._n_bits = np.array([land.n_bits for land in tech.landscapes])
    out = model.__dict__.get("_metrics_out")
    if out is None:  # float metrics, then chain_blocked and the count of each type
        out = model._metrics_out = (
            np.empty(len(_FLOAT_METRICS) + 3 * model.n_stages),
            np.empty(1 + len(AGENT_TYPES), dtype=np.int64),
        )
    fout, iout = out
    u = model.users
    _measure_kernel(
        model.effective_fitness,
        o.alive,
        o.type,
        o.n,
        census.orgs,
        census.learners,
        o.r,
        o.r0,
        o.capital,
        o.spill_gain,
        o.design,
        tech.fitness_table(),
        n_bits,
        tech.gates,
        model.stage_progress,
        model.stage_split,
        model.stage_need,
        model.allocation_progress,
        model.params.usable_fraction,
        model.gov_money,
        u.adopted,
        u.n,
        model.changed,
        model.edge_a,
        model.edge_b,
        model.n_edges,
        census.org_position,
        fout,
        iout,
    )
    values = model.__dict__
    values.update(zip(_float_names(model.n_stages), fout.tolist(), strict=True))
    ints = iout.tolist()
    del ints[1 + GOV]
    values.update(zip(_INT_METRICS, ints, strict=True))
    model.chain_blockage += model.chain_blocked

    # Counts.
    model.n_scientist = model.scientists.n
    model.n_user = u.n
    model.exits = model.tick_exits
    model.entries = model.tick_entries
    model.startups = model.tick_startups
    _reset(model)
