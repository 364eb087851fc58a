"""The breakthrough hazard h(t): the model's own chance of breaking through this tick.

Computed from the tick's :class:`~kctsim.mechanisms.rnd.Plan` -- the same
probabilities the draws then follow -- and the fitness tables (MODEL.md
section 7). For row i on stage s, the chance its move reaches the gate is

    q = iota * p_imitation * P_imitate
        + (1 - iota) * p_success * (lambda * P_jump + (1 - lambda) * P_local)
        + (1 - iota * p_imitation - (1 - iota) * p_success) * passive * P_absorb

where iota is imitation_bias when the row sees a better design than its own
and 0 otherwise, and the last term is passive absorption: without an R&D
success, the row copies from the best public design with probability
``passive_absorption``. P_local (best of m
random flips, possibly held to the direction) and
P_jump (a random ``jump_bits``-bit flip) are exact hypergeometric counts over
the fitness table, and P_imitate (each differing bit copied independently) is
a Monte Carlo average over ``hazard_samples`` copy masks drawn from a stream of
its own, which is unbiased, so the martingale identity E[breakthroughs] =
E[sum of h over ticks at risk] still holds. Rows draw independently, and the
chain's stages independently, so the stage passes with 1 - prod_i(1 - q) and
the whole technology with the product over stages not yet passed.
"""

from __future__ import annotations

from functools import cache
from math import comb

import numpy as np

from kctsim.ledger import TYPE_CODE

GOVERNMENT = TYPE_CODE["government"]


@cache
def _miss_table(n_max: int = 16) -> np.ndarray:
    """miss[a, g, m] = C(a - g, m) / C(a, m): m distinct picks among a miss all g hits."""
    miss = np.zeros((n_max + 1, n_max + 1, n_max + 1))
    for a in range(n_max + 1):
        for g in range(a + 1):
            for m in range(n_max + 1):
                k = min(m, a)
                miss[a, g, m] = comb(a - g, k) / comb(a, k)
    return miss


def _p_local(allowed: np.ndarray, reaching: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Chance that m random distinct picks among ``allowed`` flips hit a reaching one."""
    return np.where(allowed > 0, 1.0 - _miss_table()[allowed, reaching, m], 0.0)


def stage_reach_probability(model, plan, s: int) -> np.ndarray:
    """q for every row with a chance of success on stage s (zeros elsewhere)."""
    sp = plan.stages[s]
    land = model.tech.landscapes[s]
    gate = model.tech.gates[s]
    N = land.n_bits
    q = np.zeros(len(sp.design))
    # Rows already at the stage's cap cannot keep any move (it would not count).
    o = model.orgs
    alive = o.view("alive")
    rows = np.flatnonzero(alive & (sp.own < sp.cap))
    # Who may absorb passively (the government's arm only while it researches).
    absorbing = (o.type[rows] != GOVERNMENT) | (o.gov_money[rows] > 0)
    design, own, m = sp.design[rows], sp.own[rows], plan.candidates[rows]
    reach_next_door = land.reaching_neighbours(design, gate)
    near = reach_next_door > 0  # local search only reaches the gate from next door

    p_local = np.zeros(len(rows))
    if near.any():
        blind = _p_local(np.full(len(rows), N), reach_next_door, m)
        directed = plan.directed[rows]
        held = np.zeros(len(rows))
        held_rows = np.flatnonzero(near & (directed > 0))
        if len(held_rows):
            d = design[held_rows]
            towards = ((d ^ model.direction[s])[:, None] & land.flip_masks) != 0
            hits = (land.fitness[d[:, None] ^ land.flip_masks] >= gate) & towards
            held[held_rows] = _p_local(towards.sum(axis=1), hits.sum(axis=1), m[held_rows])
        p_local = np.where(near, directed * held + (1 - directed) * blind, 0.0)
    L = min(model.params.jump_bits, N)
    p_jump = land.count_reaching(gate, L)[design] / comb(N, L)

    # Imitation is tried (with probability iota) only when the open source -- the
    # foreign design where it is better, else the best domestic one -- beats the
    # row's own design; with the blockade's probability the foreign design is
    # refused and the best domestic one is copied if better, else nothing.
    masks = _copy_masks(model, land, plan.absorption[rows])
    open_src, open_row = sp.source_open[rows], sp.source_open_row[rows]
    sees_better = (open_row != -1) & (land.fitness[open_src] > own)
    iota = plan.imitate * sees_better
    p_imitate = np.zeros(len(rows))
    branches = [(1.0 - plan.blockade, open_src, open_row)]
    if plan.blockade > 0:
        branches.append((plan.blockade, sp.source_refused[rows], sp.source_refused_row[rows]))
    for weight, src, src_row in branches:
        better = sees_better & (src_row != -1) & (land.fitness[src] > own)
        mc = np.flatnonzero(better)
        if len(mc):
            d = design[mc]
            result = d[:, None] ^ ((d ^ src[mc])[:, None] & masks[mc])
            p_imitate[mc] += weight * (land.fitness[result] >= gate).mean(axis=1)
    jump = plan.jump[rows]
    innovate = jump * p_jump + (1 - jump) * p_local
    p_imitation, p_success = sp.p_imitation[rows], sp.p_success[rows]
    q[rows] = iota * p_imitation * p_imitate + (1 - iota) * p_success * innovate
    # Passive absorption of the best public design, by rows whose R&D failed.
    if plan.passive > 0 and sp.public_row >= 0:
        p_fail = 1 - iota * p_imitation - (1 - iota) * p_success
        d = design
        result = d[:, None] ^ ((d ^ sp.public)[:, None] & masks)
        better = absorbing & (land.fitness[sp.public] > own)
        p_copy = np.where(better, (land.fitness[result] >= gate).mean(axis=1), 0.0)
        q[rows] += p_fail * plan.passive * p_copy
    return q


def _copy_masks(model, land, absorption: np.ndarray) -> np.ndarray:
    """Monte Carlo copy masks: each bit set with the row's absorptive capacity, (rows, M)."""
    M = model.params.hazard_samples
    bits = model.hazard_rng.random((len(absorption), M, land.n_bits)) < absorption[:, None, None]
    return bits @ land.flip_masks


def breakthrough_hazard(model, plan) -> float:
    """h(t): the chance every stage is past its gate at the end of this tick."""
    alive = model.census().alive_rows
    h = 1.0
    for s in range(model.n_stages):
        if (model.raw_fitness[alive, s] >= model.tech.gates[s]).any():
            continue  # this stage is already passed
        q = stage_reach_probability(model, plan, s)
        h *= -np.expm1(np.log1p(-q).sum())
        if h == 0.0:
            break
    return float(h)
