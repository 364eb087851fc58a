"""Step 1: the government allocates its budget by the regime's levers.

To whom: block grants to universities; a targeted share to the core subject
and its consortium (or to the government's own research when it is the core
subject); the rest broad-based. How: unconditional grants, or matching of the
recipient's own R&D of the last tick. With what error: recipients are ranked
by a noisy view of their designs (``selection_noise``), and the direction it
steers search toward is its estimate of the target design, wrong in more bits
the noisier its view. Over stages and time:
the budget follows a front-loaded or sustained profile, split over the chain's
stages by fixed weights or by the stages' need. One public purse: with
``budget_neutral`` the government first holds back what the last rescues and
top-ups asked for (step 6 pays them from its balance only) and allocates the
rest; what it does not pay out stays in its balance for the next tick
(docs/ODD.md, section 7.2).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.config import GOVERNMENT, Levers, Parameters
from kctsim.kernels import JIT, put, total
from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE
from kctsim.state import Allocation
from kctsim.streams import fill_random, standard_normal

TREASURY = TYPE_CODE["treasury"]
UNIVERSITY = TYPE_CODE["university"]
MERIT_TEMPERATURE = 0.05  # fitness units: how sharply money follows perceived merit
PLAN_PERIOD = 8  # ticks between the government's choices of direction (two years)

BUDGET, GRANT, BLOCK_GRANT, MATCHING, CONTRACT = (
    KIND_CODE[k] for k in ("budget", "grant", "block_grant", "matching", "contract")
)


# ------------------------------------------------------------------ the mechanism


class Constants(NamedTuple):
    """What the levers and parameters make of step 1."""

    budget: float  # per tick, before the profile over time
    block_grant_share: float
    bottleneck_following: float
    selection_noise: float
    targeted_share: float
    core_subject: int  # account type code of the core subject, -1 for none
    matching_ratio: float
    neutral: bool  # one public purse: hold back for rescues and top-ups (budget_neutral)


def constants(levers: Levers, params: Parameters) -> Constants:
    """Step 1's constants from the levers and parameters."""
    return Constants(
        budget=float(params.budget),
        block_grant_share=float(params.block_grant_share),
        bottleneck_following=float(levers.bottleneck_following),
        selection_noise=float(levers.selection_noise),
        targeted_share=float(levers.targeted_share),
        core_subject=TYPE_CODE.get(levers.core_subject, -1),
        matching_ratio=float(levers.matching_ratio),
        neutral=bool(params.budget_neutral),
    )


def allocation(levers: Levers, horizon: int, n_stages: int, start: np.ndarray) -> Allocation:
    """The plan before the first tick: the budget profile over the horizon, the first
    direction (``start``: the government's own design), an even split."""
    phi = levers.front_loading
    # exp(-3 phi t/T): phi = 0 is sustained; the total over the horizon is fixed.
    shape = np.exp(-3.0 * phi * np.arange(horizon) / horizon)
    even = np.full(n_stages, 1.0 / n_stages)
    chain = n_stages > 1 and levers.stage_weights  # no weights: an even split
    weights = np.asarray(levers.stage_weights[:n_stages], dtype=float) if chain else even
    return Allocation(
        budget_profile=shape * horizon / shape.sum(),
        direction=start.copy(),
        basis=np.zeros(n_stages),
        need=even.copy(),
        split=even.copy(),
        fixed=weights / weights.sum(),
        held=np.zeros(1),
    )


def stage_need(progress: np.ndarray) -> np.ndarray:
    """What each stage needs: its remaining gap, weighted by how ready the stage
    before it is (money for a stage whose input is missing is wasted)."""
    need = np.empty(len(progress))
    _stage_need_kernel(np.ascontiguousarray(progress, dtype=float), need)
    return need


# ------------------------------------------------------------------------ kernels


@njit(**JIT)
def _stage_need_kernel(progress, need):
    """stage_need into ``need``: gap times the readiness of the stage before."""
    S = len(progress)
    for s in range(S):
        need[s] = (1.0 - progress[s]) * (1.0 if s == 0 else progress[s - 1])
    norm = total(need)
    for s in range(S):
        need[s] = 1.0 / S if norm <= 1e-12 else need[s] / norm


@njit(**JIT)
def _stage_split_kernel(progress, basis, need, split, fixed, bf, first):
    """Recompute need and split in place unless progress equals the split's basis."""
    if not first:
        same = True
        for s in range(len(progress)):
            same = same and progress[s] == basis[s]
        if same:
            return
    for s in range(len(progress)):
        basis[s] = progress[s]
    _stage_need_kernel(basis, need)
    for s in range(len(split)):
        split[s] = (1 - bf) * fixed[s] + bf * need[s]


@njit(**JIT)
def flip_chance(noise):
    """The chance that each bit of the government's direction is wrong, from its
    selection noise: 0 at no noise, 1/2 (a random design) at most. An assumption
    (docs/ODD.md, section 7.2)."""
    return min(noise / (1.0 + noise), 0.5)


@njit(**JIT)
def _target(fit, n_bits, gate, frontier):
    """The design that the government aims at on a stage: the foreign frontier design
    where there is one that passes the gate, else the passing design nearest the gate
    (the design at the gate's quantile)."""
    if frontier >= 0 and fit[frontier] >= gate:
        return frontier
    best, best_fit = -1, np.inf
    top, top_fit = 0, -np.inf
    for x in range(1 << n_bits):
        if fit[x] >= gate and fit[x] < best_fit:
            best, best_fit = x, fit[x]
        if fit[x] > top_fit:
            top, top_fit = x, fit[x]
    return best if best >= 0 else top  # after turbulence no design may pass: the fittest


@njit(**JIT)
def _choose_direction_kernel(rng, terrain, noise, direction):
    """Per stage, the government's estimate of where the target lies: the target design
    with each bit flipped with :func:`flip_chance` of the selection noise (N uniform
    draws per stage from the main stream, whatever the noise)."""
    p = flip_chance(noise)
    draws = np.empty(64)
    for s in range(len(direction)):
        N = terrain.n_bits[s]
        target = _target(terrain.table[s], N, terrain.gates[s], terrain.frontier[s])
        fill_random(rng, draws[:N])
        wrong = 0
        for b in range(N):
            if draws[b] < p:
                wrong |= 1 << b
        direction[s] = target ^ wrong


@njit(**JIT)
def direct(rng, c, tick, terrain, direction):
    """Every PLAN_PERIOD ticks (from the first), the government chooses its direction."""
    if (tick - 1) % PLAN_PERIOD == 0:
        _choose_direction_kernel(rng, terrain, c.selection_noise, direction)


@njit(**JIT)
def _add_weighted(pay, seen, group, n_group, amount, temperature):
    """pay[group] += amount * softmax(seen[group] / temperature) (numpy's sum order)."""
    top = -np.inf
    for j in range(n_group):
        top = max(top, seen[group[j]])
    w = np.empty(n_group)
    for j in range(n_group):
        w[j] = math.exp((seen[group[j]] - top) / temperature)
    norm = total(w)
    for j in range(n_group):
        pay[group[j]] += amount * (w[j] / norm)


@njit(**JIT)
def _allocate_kernel(rng, c, now, orgs, census, fitness, plan, books, pos):
    """allocate: budget, split, noisy merit, payments and their ledger rows;
    returns (ledger length, money paid out, the government's own research)."""
    tick, horizon, gov, n, first_split = (
        now.tick,
        now.horizon,
        now.government,
        now.n,
        now.split_first,
    )
    rows = census.orgs
    type_, uid, member, own_rnd = orgs.type, orgs.uid, orgs.member, orgs.own_rnd
    capital, grant, gov_money = orgs.capital, orgs.grant, orgs.gov_money
    effective_fitness, progress = fitness.effective, fitness.progress
    budget_profile = plan.budget_profile
    basis, need, split, fixed = plan.basis, plan.need, plan.split, plan.fixed
    noise, bf = c.selection_noise, c.bottleneck_following
    ints, amounts = books.ints, books.amounts
    S = len(split)
    m = len(rows)
    for i in range(n):
        gov_money[i] = 0.0
        for s in range(S):
            grant[i, s] = 0.0
    budget = c.budget * budget_profile[min(tick, horizon) - 1]
    uid_gov = uid[gov]
    pos = put(ints, amounts, pos, tick, BUDGET, TREASURY, NO_ID, GOVERNMENT, uid_gov, -1, budget)
    capital[gov] += budget
    available = capital[gov]
    if c.neutral:
        # The rescues and top-ups of step 6 are paid from what stays in the balance;
        # the government expects as many as it was asked for last tick.
        available -= min(available, plan.held[0])
    _stage_split_kernel(progress, basis, need, split, fixed, bf, first_split)

    # The government's noisy view of each organisation's design this tick.
    seen = np.empty(m)
    for k in range(m):
        seen[k] = total(effective_fitness[rows[k]]) / S
    for k in range(m):
        seen[k] += noise * standard_normal(rng)

    # Groups as positions into rows: universities, core subject, other members, broad.
    pay = np.zeros(m)
    kind = np.full(m, GRANT)
    core_group = np.empty(m, np.int64)
    member_group = np.empty(m, np.int64)
    broad = np.empty(m, np.int64)
    n_uni = n_core = n_member = n_broad = 0
    for k in range(m):
        t = type_[rows[k]]
        if t == UNIVERSITY:
            n_uni += 1
        else:
            broad[n_broad] = k
            n_broad += 1
        if t == c.core_subject:
            core_group[n_core] = k
            n_core += 1
        elif member[rows[k]]:
            member_group[n_member] = k
            n_member += 1

    # Block grants: a share of this tick's budget, equally to the universities.
    block = min(c.block_grant_share * budget, available) if n_uni > 0 else 0.0
    rest = available - block
    targeted = c.targeted_share * rest
    own_research = 0.0
    if c.core_subject == GOVERNMENT:
        own_research = targeted
    elif n_core > 0 or n_member > 0:
        # Half of the targeted money to the core subject, half to the other
        # members (all of it to whichever group exists).
        core_share = 0.5 if (n_core > 0 and n_member > 0) else (1.0 if n_core > 0 else 0.0)
        if core_share > 0:
            _add_weighted(pay, seen, core_group, n_core, targeted * core_share, MERIT_TEMPERATURE)
            for j in range(n_core):
                kind[core_group[j]] = CONTRACT
        if 1 - core_share > 0:
            amount = targeted * (1 - core_share)
            _add_weighted(pay, seen, member_group, n_member, amount, MERIT_TEMPERATURE)
            for j in range(n_member):
                kind[member_group[j]] = CONTRACT
    else:
        targeted = 0.0  # no one to target: all of it stays broad-based
    if n_broad > 0:
        # Broad-based support: near-equal, only mildly merit-weighted.
        _add_weighted(pay, seen, broad, n_broad, rest - targeted, 4 * MERIT_TEMPERATURE)
    matching_ratio = c.matching_ratio
    matching = matching_ratio > 0
    if matching:
        # Matching reimburses part of last tick's own R&D (own_rnd still holds it):
        # conditional money that lowers the recipient's cost of R&D, not earmarked.
        for j in range(n_broad):
            k = broad[j]
            pay[k] = min(pay[k], matching_ratio * own_rnd[rows[k]])
            kind[k] = MATCHING
    block_pay = np.zeros(m)
    for k in range(m):
        if type_[rows[k]] == UNIVERSITY:
            block_pay[k] = block / max(1, n_uni)

    # Grants, contracts and block grants are earmarked for R&D by stage.
    for k in range(m):
        r = rows[k]
        earmark = 0.0 if matching and type_[r] != UNIVERSITY else pay[k]
        for s in range(S):
            grant[r, s] = earmark * split[s] + block_pay[k] * split[s]
        gov_money[r] = pay[k] + block_pay[k]
        capital[r] += pay[k] + block_pay[k]
    paid = total(pay) + total(block_pay)
    capital[gov] -= paid
    for k in range(m):
        r = rows[k]
        earmark = 0.0 if matching and type_[r] != UNIVERSITY else pay[k]
        for s in range(S):
            pos = put(ints, amounts, pos, tick, kind[k], GOVERNMENT, uid_gov, type_[r], uid[r], s,
                      earmark * split[s])  # fmt: skip
    for k in range(m):
        r = rows[k]
        for s in range(S):
            pos = put(ints, amounts, pos, tick, BLOCK_GRANT, GOVERNMENT, uid_gov, type_[r], uid[r],
                      s, block_pay[k] * split[s])  # fmt: skip
    if matching:
        for j in range(n_broad):
            r = rows[broad[j]]
            pos = put(ints, amounts, pos, tick, MATCHING, GOVERNMENT, uid_gov, type_[r], uid[r], -1,
                      pay[broad[j]])  # fmt: skip
    # The government's own research programme is spent from its balance in R&D.
    for s in range(S):
        grant[gov, s] = own_research * split[s]
    gov_money[gov] = own_research
    return pos, paid, own_research
