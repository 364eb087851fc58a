"""Step 7: what every tick reports (MODEL.md section 7).

:func:`measure` computes every metric from the state into attributes of the
model; Mesa's ``DataCollector`` then reads them by name (string reporters: fast,
and the model stays picklable). Counters that add up over a tick are reset by
:func:`reset_tick_counters` after each measurement.
"""

from __future__ import annotations

import numpy as np

from kctsim.config import AGENT_TYPES
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


def reset_tick_counters(model) -> None:
    n = model.orgs.n
    model.changed = np.zeros(n, dtype=bool)
    model.discoveries = []
    model.tick_spill = 0.0
    model.tick_innovation = 0.0
    model.tick_moves_imitation = 0
    model.tick_moves_innovation = 0
    model.tick_exits = 0
    model.tick_entries = 0
    model.tick_startups = 0
    model.tick_private_rnd = 0.0
    if not hasattr(model, "cum_spill"):
        model.cum_spill = model.cum_innovation = 0.0
        model.cum_moves_imitation = model.cum_moves_innovation = 0
        model.chain_blockage = 0
        model.hazard = 0.0


def mean_pairwise_hamming(designs: np.ndarray, n_bits: int) -> float:
    """Mean pairwise Hamming distance / N, from bit counts (O(n N), not O(n^2))."""
    n = len(designs)
    if n < 2:
        return 0.0
    ones = ((designs[:, None] >> np.arange(n_bits)) & 1).sum(axis=0)
    return float((2 * ones * (n - ones)).sum() / (n * (n - 1)) / n_bits)


def _mean(values: np.ndarray) -> float:
    """``values.mean()`` (the same sum, the same division) without its Python wrapper."""
    if values.dtype == bool:
        return np.count_nonzero(values) / values.size
    return float(np.add.reduce(values, axis=None) / values.size)


def measure(model) -> None:
    o, tech = model.orgs, model.tech
    if not model._fitness_current:
        model.refresh_fitness()
    alive = o.view("alive")
    types = o.view("type")
    census = model.census()
    orgs = census.orgs

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

    # Fitness and the chain.
    product = model.effective_fitness[orgs, -1] if len(orgs) else np.zeros(1)
    model.best_fitness = float(model.effective_fitness[alive, -1].max())
    model.mean_fitness = _mean(product)
    progress = model.stage_progress
    model.gap_to_target = _mean(1 - progress)
    need, split = model.stage_need, model.stage_split
    model.misallocation_index = float(0.5 * np.abs(split - need).sum())
    # Judged on the progress the split and need were computed from (start of tick):
    # a stage is ready once the stage before it is usable, starved when it gets
    # less than half the share it needs.
    before = model.allocation_progress
    ready = np.concatenate([[1.0], before[:-1]]) >= model.params.usable_fraction
    starved = ready & (before < 1.0) & (split < 0.5 * need)
    model.chain_blocked = int(starved.any())
    model.chain_blockage += model.chain_blocked
    for s in range(model.n_stages):
        setattr(model, f"stage_progress_{s + 1}", float(progress[s]))
        setattr(model, f"stage_funding_{s + 1}", float(split[s]))
        setattr(model, f"stage_need_{s + 1}", float(need[s]))

    # Spillover and free-riding.
    model.cum_spill += model.tick_spill
    model.cum_innovation += model.tick_innovation
    model.spillover_volume = model.tick_spill
    model.innovation_volume = model.tick_innovation
    total_gain = model.cum_spill + model.cum_innovation
    model.spillover_share = model.cum_spill / total_gain if total_gain > 0 else 0.0
    learners = census.learners
    r, r0, cap = o.r[learners], o.r0[learners], np.maximum(o.capital[learners], 0)
    free = (r < 0.5 * r0) & (o.spill_gain[learners] > 0)
    model.free_riding_share = _mean(free) if len(learners) else 0.0
    base = (r0 * cap).sum()
    model.contribution_gap = float(1 - (r * cap).sum() / base) if base > 0 else 0.0
    model.mean_contribution = _mean(r) if len(learners) else 0.0
    model.gov_money = model.tick_gov_money
    model.private_rnd = model.tick_private_rnd
    # Private R&D the learners no longer do (at today's capital, r0 vs r), per unit
    # of government money this tick: > 0 when public money replaces private effort.
    shortfall = ((r0 - r) * cap).sum()
    model.crowding_out = float(shortfall / model.gov_money) if model.gov_money > 0 else 0.0

    # Path dependence.
    model.cum_moves_imitation += model.tick_moves_imitation
    model.cum_moves_innovation += model.tick_moves_innovation
    moves = model.cum_moves_imitation + model.cum_moves_innovation
    model.imitation_share = model.cum_moves_imitation / moves if moves else 0.0
    diversity, lock = 0.0, 0.0
    # Locked in: on a local optimum below the gate, where local search cannot move.
    for s, land in enumerate(tech.landscapes):
        d = o.design[orgs, s]
        diversity += mean_pairwise_hamming(d, land.n_bits)
        stuck = land.is_local_optimum(d) & (land.fitness[d] < tech.gates[s])
        lock += _mean(stuck) if len(d) else 0.0
    model.diversity = diversity / tech.n_stages
    model.lock_in = lock / tech.n_stages

    # Networks, users, counts.
    model.density, model.clustering, model.centralisation = network.statistics(model)
    u = model.users
    model.adoption_share = _mean(u.view("adopted")) if u.n else 0.0
    counts = np.bincount(types[alive], minlength=len(AGENT_TYPES))
    for i, t in enumerate(AGENT_TYPES):
        if t != "government":
            setattr(model, f"n_{t}", int(counts[i]))
    model.n_scientist = model.scientists.n
    model.n_user = u.n
    model.exits = model.tick_exits
    model.entries = model.tick_entries
    model.startups = model.tick_startups
    reset_tick_counters(model)
