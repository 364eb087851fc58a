"""Step 3b: R&D -- spending, success, and what a success does.

An organisation spends s = r * (own funds) split by its stage preference, plus
the government money earmarked per stage. On each stage it either tries to
imitate (with probability imitation_bias, when it sees a better design than
its own) or to originate; the attempt
succeeds with probability 1 - exp(-zeta * s / cost), zeta raised by its
scientists, where cost is cost_scale for originating and imitation_cost times
that for imitating (about 0.65: Mansfield, Schwartz & Wagner 1981; docs/ODD.md 2.7).
A success either imitates -- copies the best design it can see (partners,
consortium pool, public pool, or the foreign design unless the blockade
refuses it) bit by bit, each differing bit with its absorptive capacity -- or
innovates: a long jump of several bits with probability lambda, otherwise
local search over m one-bit neighbours (more with participating users'
feedback; restricted to flips toward the government's direction, its estimate
of the target design, where it dictates one).
A move is kept only if it is better (docs/ODD.md, section 7.5), and a kept move
marks the design as earned on its stage: only earned designs count toward a
breakthrough (until turbulence redraws the stage's landscape).

Every probability of the tick is fixed in a plan before any draw, so
the breakthrough hazard (:mod:`kctsim.mechanisms.hazard`) is computed from
exactly the rules the draws then follow.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.config import GOVERNMENT, Levers, Parameters
from kctsim.kernels import JIT, put, total
from kctsim.landscape import NKLandscape
from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE
from kctsim.mechanisms import hazard
from kctsim.mechanisms.hazard import FOREIGN, bit_mask
from kctsim.streams import fill_random

RND = TYPE_CODE["rnd"]
RND_SPEND = KIND_CODE["rnd_spend"]


class Constants(NamedTuple):
    """What the levers, parameters and technology make of step 3b."""

    expertise_capability: float  # how much scientists' expertise raises R&D efficiency
    cost: float  # effort for a 1 - 1/e chance of originating a move
    imitation_cost: float  # imitating costs this share of originating
    max_candidates: float
    search_candidates: float  # one-bit neighbours tried by local search
    feedback_candidates: float  # more per participating user
    risk_tolerance: float
    direction_setting: float
    expertise_absorption: float
    imitation_bias: float  # chance of imitating when something better is in sight
    passive_absorption: float
    blockade: float  # chance the foreign design is refused
    jump_bits: int
    hazard_samples: int  # Monte Carlo copy masks per row and stage for the hazard


def constants(levers: Levers, params: Parameters, tech) -> Constants:
    """Step 3b's constants from the levers, the parameters and the technology."""
    return Constants(
        expertise_capability=float(params.expertise_capability),
        cost=float(params.cost_scale * tech.cost_multiplier),
        imitation_cost=float(params.imitation_cost),
        max_candidates=float(params.max_candidates),
        search_candidates=float(params.search_candidates),
        feedback_candidates=float(params.feedback_candidates),
        risk_tolerance=float(levers.risk_tolerance),
        direction_setting=float(levers.direction_setting),
        expertise_absorption=float(params.expertise_absorption),
        imitation_bias=float(levers.imitation_bias),
        passive_absorption=float(params.passive_absorption),
        # The blockade only bites on a foreign design (ResearchPlan.open_row == FOREIGN).
        blockade=float(tech.blockade),
        jump_bits=int(params.jump_bits),
        hazard_samples=int(params.hazard_samples),
    )


class ResearchPlan(NamedTuple):
    """Every probability of the tick's draws, fixed before any draw (rows x stages)."""

    p_success: np.ndarray  # chance an attempt to originate succeeds
    p_imitation: np.ndarray  # chance an attempt to imitate succeeds
    candidates: np.ndarray  # local search tries this many neighbours (per row)
    jump: np.ndarray  # chance a success is a long jump (per row)
    directed: np.ndarray  # chance local search is held to the direction (per row)
    absorb: np.ndarray  # chance each differing bit is copied (per row)
    open_src: np.ndarray  # the design to imitate: foreign where better, else domestic
    open_row: np.ndarray  # its source row (FOREIGN, -1: none)
    dom: np.ndarray  # the best domestic design in sight (when the foreign is refused)
    dom_row: np.ndarray


class Reach:
    """The hazard's jump-reach counts per stage and design (recounted after turbulence),
    and the miss table of local search."""

    def __init__(self, tech, jump_bits: int) -> None:
        self.jump_bits = jump_bits
        self.counts = np.zeros((len(tech.landscapes), 1 << int(tech.n_bits.max())), np.int64)
        self.revision = -1  # NKLandscape.revisions when the counts were made
        self.miss = hazard._miss_table()

    def refresh(self, tech) -> np.ndarray:
        """For every stage and design, how many ``jump_bits``-bit jumps reach the gate."""
        if self.revision != NKLandscape.revisions:
            for s, land in enumerate(tech.landscapes):
                L = min(self.jump_bits, land.n_bits)
                self.counts[s, : land.size] = land.count_reaching(tech.gates[s], L)
            self.revision = NKLandscape.revisions
        return self.counts


@njit(**JIT)
def _spend(n, S, tick, orgs, spending, books, pos):
    """Pay for this tick's R&D into ``spending`` (n, S); return the ledger length and own R&D."""
    alive, otype, uid, capital, grant = orgs.alive, orgs.type, orgs.uid, orgs.capital, orgs.grant
    r, stage_pref, own_rnd = orgs.r, orgs.stage_pref, orgs.own_rnd
    ints, amounts = books.ints, books.amounts
    for i in range(n):
        own = 0.0
        if alive[i] and otype[i] != GOVERNMENT:
            # Own funds exclude this tick's earmarked government money, spent on top.
            granted = grant[i, 0]
            for s in range(1, S):
                granted += grant[i, s]
            own = r[i] * max(capital[i] - granted, 0.0)
        own_rnd[i] = own
        for s in range(S):
            spending[i, s] = own * stage_pref[i, s] + grant[i, s]
        spent = spending[i, 0]
        for s in range(1, S):
            spent += spending[i, s]
        capital[i] -= spent
        for s in range(S):
            if spending[i, s] > 0:
                pos = put(
                    ints, amounts, pos, tick, RND_SPEND, otype[i], uid[i], RND, NO_ID, s,
                    spending[i, s],
                )  # fmt: skip
    return pos, total(own_rnd[:n])


@njit(**JIT)
def _plan(n, S, orgs, spending, terrain, c, visible, visible_row):
    """Every probability of the tick's draws, and each row's source to imitate per stage."""
    alive, efficiency, expertise = orgs.alive, orgs.efficiency, orgs.expertise
    n_feedback, exploration, absorption = orgs.n_feedback, orgs.exploration, orgs.absorption
    gov_money, fit, frontier = orgs.gov_money, terrain.table, terrain.frontier
    cost, imitation_cost = c.cost, c.imitation_cost
    expertise_capability, expertise_absorption = c.expertise_capability, c.expertise_absorption
    risk_tolerance, direction_setting = c.risk_tolerance, c.direction_setting
    max_candidates, search_candidates = c.max_candidates, c.search_candidates
    feedback_candidates = c.feedback_candidates
    p_success, p_imitation = np.empty((n, S)), np.empty((n, S))
    candidates = np.empty(n, dtype=np.int64)
    jump, directed, absorb = np.empty(n), np.empty(n), np.empty(n)
    open_src = np.empty((n, S), dtype=np.int64)
    open_row = np.empty((n, S), dtype=np.int64)
    for i in range(n):
        capability = efficiency[i] * (1 + expertise_capability * expertise[i])
        for s in range(S):
            effort = capability * spending[i, s] if alive[i] else 0.0
            p_success[i, s] = -np.expm1(-effort / cost)
            # Imitating is cheaper: the same effort buys a higher chance.
            p_imitation[i, s] = -np.expm1(-effort / (cost * imitation_cost))
        m = search_candidates + np.floor(feedback_candidates * n_feedback[i])
        candidates[i] = int(min(max_candidates, m))
        jump[i] = min(max(exploration[i] * 2.0 * risk_tolerance, 0.0), 1.0)
        directed[i] = direction_setting * (1.0 if gov_money[i] > 0 else 0.0)
        absorb[i] = min(max(absorption[i] + expertise_absorption * expertise[i], 0.0), 1.0)
        # The open source: the foreign design where it beats the best domestic one in sight.
        for s in range(S):
            open_src[i, s], open_row[i, s] = visible[i, s], visible_row[i, s]
            if frontier[s] >= 0:
                dom_fit = fit[s, visible[i, s]] if visible_row[i, s] >= 0 else -np.inf
                if fit[s, frontier[s]] > dom_fit:
                    open_src[i, s], open_row[i, s] = frontier[s], FOREIGN
    return ResearchPlan(
        p_success,
        p_imitation,
        candidates,
        jump,
        directed,
        absorb,
        open_src,
        open_row,
        visible,
        visible_row,
    )


@njit(**JIT)
def _smallest_keys(keys, n_bits, count, allowed, picks):
    """Put the bits with the ``count`` smallest ``keys`` among the ``allowed`` bits (a
    bit mask) into ``picks`` in key order; return how many (fewer if fewer are allowed)."""
    taken = 0
    for k in range(min(count, n_bits)):
        pick, low = -1, 2.0
        for b in range(n_bits):
            if (taken >> b) & 1 or not (allowed >> b) & 1:
                continue
            if keys[b] < low:
                pick, low = b, keys[b]
        if pick < 0:
            return k
        taken |= 1 << pick
        picks[k] = pick
    return min(count, n_bits)


@njit(**JIT)
def _execute(
    rng, n, S, orgs, raw_fitness, terrain, caps, direction, plan, c, knowledge, tick_spill,
    tick_innovation,
):  # fmt: skip
    """Draw successes and moves from the plan; keep improvements; book gains."""
    alive, otype, gov_money, design = orgs.alive, orgs.type, orgs.gov_money, orgs.design
    succeeded, spill_gain, own_gain = orgs.succeeded, orgs.spill_gain, orgs.own_gain
    earned = orgs.earned
    fit, n_bits = terrain.table, terrain.n_bits
    p_success, p_imitation, candidates = plan.p_success, plan.p_imitation, plan.candidates
    jump, directed, absorb = plan.jump, plan.directed, plan.absorb
    open_src, open_row, dom, dom_row = plan.open_src, plan.open_row, plan.dom, plan.dom_row
    imitate, passive, blockade = c.imitation_bias, c.passive_absorption, c.blockade
    jump_bits = c.jump_bits
    public_design, public_row = knowledge.public_design, knowledge.public_row
    spill_matrix, changed, discoveries = (
        knowledge.spill_matrix,
        knowledge.changed,
        knowledge.discoveries,
    )
    foreign = spill_matrix.shape[0] - 1  # the spill matrix's row of the foreign source
    first = np.empty(3 * n)  # per stage: mode, success, passive absorption (n each)
    moves = np.empty(3 * n * 17)  # per stage: 3 per success, then 3 x N bits per success
    tries = np.empty(n, dtype=np.bool_)
    spill_gains, own_gains = np.empty(n), np.empty(n)
    rows = np.empty(n, dtype=np.int64)
    picks = np.empty(64, dtype=np.int64)
    succeeded[:n] = False
    n_imitation = n_innovation = n_discoveries = 0
    for s in range(S):
        N, f = n_bits[s], fit[s]
        all_bits = (1 << N) - 1
        best_before = -np.inf
        for i in range(n):
            if alive[i] and raw_fitness[i, s] > best_before:
                best_before = raw_fitness[i, s]
        # First the mode -- imitate (only when something better is in sight) or
        # originate -- then whether the attempt succeeds, then passive absorption:
        # n draws each, in that order.
        fill_random(rng, first)
        mode, success, passive_draw = first[:n], first[n : 2 * n], first[2 * n :]
        k = 0
        for i in range(n):
            sees_better = open_row[i, s] != -1 and f[open_src[i, s]] > raw_fitness[i, s]
            tries[i] = sees_better and mode[i] < imitate
            if success[i] < (p_imitation[i, s] if tries[i] else p_success[i, s]):
                rows[k] = i
                k += 1
                passive_draw[i] = 2.0  # a row with an R&D success does not absorb

        # Passive spillover: without R&D, copy bits of the best public design.
        # Knowledge that has leaked or been published reaches organisations
        # through products, people and papers without research of their own
        # (Jaffe 1986); what they take in is limited by their absorptive capacity.
        # The government's research arm only takes knowledge in while it researches.
        if public_row[s] >= 0:
            public = public_design[s]
            kept = 0
            for i in range(n):
                own, cap = raw_fitness[i, s], caps[i, s]
                if not (
                    passive_draw[i] < passive
                    and alive[i]
                    and (otype[i] != GOVERNMENT or gov_money[i] > 0)
                    and own < f[public]
                ):
                    continue
                fill_random(rng, moves[:N])
                d = design[i, s]
                new = d ^ ((d ^ public) & bit_mask(moves, 0, N, absorb[i]))
                gain = min(f[new], cap) - min(own, cap)
                if gain > 0:
                    design[i, s] = new
                    earned[i, s] = True
                    changed[i] = True
                    spill_gain[i] += gain
                    source = foreign if public_row[s] == FOREIGN else otype[public_row[s]]
                    spill_matrix[source, otype[i]] += gain
                    spill_gains[kept] = gain
                    kept += 1
            if kept:
                tick_spill += total(spill_gains[:kept])
                n_imitation += kept
        if k == 0:
            continue

        # k draws each: refused by the blockade, long jump, held to the direction;
        # then k x N each: copy mask, local-search order, jump order.
        fill_random(rng, moves[: 3 * k * (1 + N)])
        refused, jumps, held = moves[:k], moves[k : 2 * k], moves[2 * k : 3 * k]
        copy_bits = 3 * k
        search_keys = copy_bits + k * N
        jump_keys = search_keys + k * N
        n_spill = n_own = 0
        for r in range(k):
            i = rows[r]
            succeeded[i] = True
            d, own, cap = design[i, s], raw_fitness[i, s], caps[i, s]
            source_row = -1
            if tries[i]:
                # Imitation: copy each differing bit of the source with the absorptive
                # capacity; a copy refused by the blockade with nothing better at home
                # is wasted.
                src, source_row = open_src[i, s], open_row[i, s]
                if source_row == FOREIGN and refused[r] < blockade:
                    src, source_row = dom[i, s], dom_row[i, s]
                new = d
                if source_row != -1 and f[src] > own:
                    mask = bit_mask(moves, copy_bits + r * N, N, absorb[i])
                    new = d ^ ((d ^ src) & mask)
            elif jumps[r] < jump[i]:
                # Long jump: flip the `jump_bits` bits with the smallest keys at once.
                keys = moves[jump_keys + r * N : jump_keys + (r + 1) * N]
                new = d
                for j in range(_smallest_keys(keys, N, jump_bits, all_bits, picks)):
                    new ^= 1 << picks[j]
            else:
                # Local search: best of m random flips (the first in key order among
                # equals), only towards the direction if held to it.
                allowed = all_bits
                if held[r] < directed[i]:
                    allowed = d ^ direction[s]
                keys = moves[search_keys + r * N : search_keys + (r + 1) * N]
                new, best = d, -1.0
                for j in range(_smallest_keys(keys, N, candidates[i], allowed, picks)):
                    flip = d ^ (1 << picks[j])
                    if f[flip] > best:
                        new, best = flip, f[flip]
            # A move is kept if it is better as far as it counts: up to the stage's cap.
            gain = min(f[new], cap) - min(own, cap)
            if not gain > 0:
                continue
            design[i, s] = new
            earned[i, s] = True  # reached by R&D: it may count toward a breakthrough
            changed[i] = True
            if tries[i]:
                spill_gain[i] += gain
                source = foreign if source_row == FOREIGN else otype[source_row]
                spill_matrix[source, otype[i]] += gain
                spill_gains[n_spill] = gain
                n_spill += 1
            else:
                own_gain[i] += gain
                own_gains[n_own] = gain
                n_own += 1
                if f[new] > best_before:  # a new best design of the system
                    discoveries[n_discoveries] = i
                    n_discoveries += 1
        if n_spill + n_own:
            tick_spill += total(spill_gains[:n_spill])
            tick_innovation += total(own_gains[:n_own])
            n_imitation += n_spill
            n_innovation += n_own
    return tick_spill, tick_innovation, n_imitation, n_innovation, n_discoveries


@njit(**JIT)
def _chain_caps(n, S, raw_fitness, stage_progress, terrain, visible, visible_row):
    """How far each row's work on each stage counts (rows x stages): up to the progress
    of the stage before that the row can build on -- its own design there or the best
    one it sees (partners, consortium, public pool), each counting only as far as the
    system has come on the stages before. Knowledge has to travel along the chain: the
    best upstream design helps only those who hold or see it (docs/ODD.md, section 2.1)."""
    fit, gates = terrain.table, terrain.gates
    caps = np.empty((n, S))
    for i in range(n):
        caps[i, 0] = np.inf
        for s in range(1, S):
            system = stage_progress[s - 2] * gates[s - 1] if s >= 2 else np.inf
            upstream = min(raw_fitness[i, s - 1], caps[i, s - 1])
            if visible_row[i, s - 1] != -1:
                upstream = max(upstream, min(fit[s - 1, visible[i, s - 1]], system))
            caps[i, s] = min(1.0, upstream / gates[s - 1]) * gates[s]
    return caps


@njit(**JIT)
def _research_kernel(
    rng, hazard_rng, c, now, orgs, fitness, terrain, direction, knowledge, reach, miss, books,
    pos, tick_spill, tick_innovation,
):  # fmt: skip
    """Spend, plan, compute the hazard, then draw and move (one tick of step 3b);
    returns (ledger length, private R&D, hazard, spilled and own gains this tick,
    imitation and innovation moves, discoveries)."""
    n, S, tick = now.n, len(terrain.gates), now.tick
    raw_fitness, stage_progress = fitness.raw[:n], fitness.progress
    if len(knowledge.changed) < n:
        raise ValueError("change flags must cover every organisation row")
    spending = np.empty((n, S))
    pos, private = _spend(n, S, tick, orgs, spending, books, pos)
    visible, visible_row = knowledge.visible[:n], knowledge.visible_row[:n]
    plan = _plan(n, S, orgs, spending, terrain, c, visible, visible_row)
    caps = _chain_caps(n, S, raw_fitness, stage_progress, terrain, visible, visible_row)

    h = 0.0
    if now.do_hazard:
        h = hazard._hazard(
            hazard_rng, n, S, orgs, raw_fitness, terrain, caps, reach, miss, c, plan, direction,
            knowledge,
        )  # fmt: skip
    tick_spill, tick_innovation, n_imitation, n_innovation, n_discoveries = _execute(
        rng, n, S, orgs, raw_fitness, terrain, caps, direction, plan, c, knowledge, tick_spill,
        tick_innovation,
    )  # fmt: skip
    return (pos, private, h, tick_spill, tick_innovation, n_imitation, n_innovation, n_discoveries)
