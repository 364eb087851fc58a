"""Step 3b: R&D -- spending, success, and what a success does.

An organisation spends s = r * (own funds) split by its stage preference, plus
the government money earmarked per stage. On each stage it either tries to
imitate (with probability imitation_bias, when it sees a better design than
its own) or to originate; the attempt
succeeds with probability 1 - exp(-zeta * s / cost), zeta raised by its
scientists, where cost is cost_scale for originating and imitation_cost times
less for imitating (copying a design already in sight is cheaper than
originating; Mansfield, Schwartz & Wagner 1981 found imitation dearer, about
0.65 of the innovation cost, for patented products -- see docs/ODD.md).
A success either imitates -- copies the best design it can see (partners,
consortium pool, public pool, or the foreign design unless the blockade
refuses it) bit by bit, each differing bit with its absorptive capacity -- or
innovates: a long jump of several bits with probability lambda, otherwise
local search over m one-bit neighbours (more with participating users'
feedback; restricted to the government's direction where it dictates one).
A move is kept only if it is better (MODEL.md section 4).

Every probability of the tick is fixed in a plan before any draw, so
the breakthrough hazard (:mod:`kctsim.mechanisms.hazard`) is computed from
exactly the rules the draws then follow.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kctsim.kernels import JIT, put, total
from kctsim.landscape import NKLandscape
from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE
from kctsim.mechanisms import hazard
from kctsim.mechanisms.hazard import bit_mask, fill

FOREIGN = -2  # source row of the foreign frontier design
RND = TYPE_CODE["rnd"]
GOVERNMENT = TYPE_CODE["government"]
RND_SPEND = KIND_CODE["rnd_spend"]


# The kernel's constants, in this order in ``_Tables.params``.
(
    EXPERTISE_CAPABILITY,
    COST,
    IMITATION_COST,
    MAX_CANDIDATES,
    SEARCH_CANDIDATES,
    FEEDBACK_CANDIDATES,
    RISK_TOLERANCE,
    DIRECTION_SETTING,
    EXPERTISE_ABSORPTION,
    IMITATION_BIAS,
    PASSIVE_ABSORPTION,
    BLOCKADE,
    JUMP_BITS,
    HAZARD_SAMPLES,
) = range(14)


class _Tables:
    """Per-model inputs of the kernel that change rarely: its constants (levers and
    parameters), the jump-reach counts of the hazard (recounted after turbulence),
    the miss table and the discoveries buffer."""

    def __init__(self, model) -> None:
        tech, lev, v = model.tech, model.levers, model.params.values
        lands = tech.landscapes
        self.levers, self.parameters = lev, model.params  # what the constants come from
        self.params = np.array(
            [
                v["expertise_capability"],
                v["cost_scale"] * tech.cost_multiplier,
                v["imitation_cost"],
                v["max_candidates"],
                v["search_candidates"],
                v["feedback_candidates"],
                lev.risk_tolerance,
                lev.direction_setting,
                v["expertise_absorption"],
                lev.imitation_bias,
                v["passive_absorption"],
                # The blockade only bites where there is a foreign design to refuse.
                tech.blockade if (tech.frontier >= 0).any() else 0.0,
                v["jump_bits"],
                v["hazard_samples"],
            ],
            dtype=float,
        )
        self.jump_bits = int(v["jump_bits"])
        self.n_bits = tech.n_bits
        self.reach = np.zeros((len(lands), 1 << int(self.n_bits.max())), dtype=np.int64)
        self.reach_revision = -1  # NKLandscape.revisions when the counts were made
        self.miss = hazard._miss_table()
        self.discoveries = np.empty(0, dtype=np.int64)

    def refresh_reach(self, tech) -> None:
        """For every stage and design, how many ``jump_bits``-bit jumps reach the gate."""
        if self.reach_revision != NKLandscape.revisions:
            for s, land in enumerate(tech.landscapes):
                L = min(self.jump_bits, land.n_bits)
                self.reach[s, : land.size] = land.count_reaching(tech.gates[s], L)
            self.reach_revision = NKLandscape.revisions


def tables(model) -> _Tables:
    tables = model.__dict__.get("_rnd_tables")
    if tables is None or tables.levers is not model.levers or tables.parameters is not model.params:
        tables = model._rnd_tables = _Tables(model)
    return tables


@njit(**JIT)
def _spend(
    n, S, tick, alive, otype, uid, capital, grant, r, stage_pref, own_rnd, spending, ints,
    amounts, pos,
):  # fmt: skip
    """Pay for this tick's R&D into ``spending`` (n, S); return the ledger length and own R&D."""
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
def _plan(
    n, S, alive, spending, efficiency, expertise, n_feedback, exploration, absorption,
    gov_money, visible, visible_row, fit, frontier, params, p_success, p_imitation, candidates,
    jump, directed, absorb, open_src, open_row,
):  # fmt: skip
    """Every probability of the tick's draws, and each row's source to imitate per stage."""
    cost, imitation_cost = params[COST], params[IMITATION_COST]
    expertise_capability = params[EXPERTISE_CAPABILITY]
    expertise_absorption = params[EXPERTISE_ABSORPTION]
    risk_tolerance, direction_setting = params[RISK_TOLERANCE], params[DIRECTION_SETTING]
    max_candidates, search_candidates = params[MAX_CANDIDATES], params[SEARCH_CANDIDATES]
    feedback_candidates = params[FEEDBACK_CANDIDATES]
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
    rng_at, n, S, alive, otype, gov_money, design, raw_fitness, fit, n_bits, caps, direction,
    p_success, p_imitation, candidates, jump, directed, absorb, open_src, open_row, dom,
    dom_row, imitate, passive, blockade, jump_bits, public_design, public_row, succeeded,
    spill_gain, own_gain, spill_matrix, changed, discoveries, tick_spill, tick_innovation,
):  # fmt: skip
    """Draw successes and moves from the plan; keep improvements; book gains."""
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
        N, cap, f = n_bits[s], caps[s], fit[s]
        all_bits = (1 << N) - 1
        best_before = -np.inf
        for i in range(n):
            if alive[i] and raw_fitness[i, s] > best_before:
                best_before = raw_fitness[i, s]
        # First the mode -- imitate (only when something better is in sight) or
        # originate -- then whether the attempt succeeds, then passive absorption:
        # n draws each, in that order.
        fill(rng_at, first)
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
                own = raw_fitness[i, s]
                if not (
                    passive_draw[i] < passive
                    and alive[i]
                    and (otype[i] != GOVERNMENT or gov_money[i] > 0)
                    and own < f[public]
                ):
                    continue
                fill(rng_at, moves[:N])
                d = design[i, s]
                new = d ^ ((d ^ public) & bit_mask(moves, 0, N, absorb[i]))
                gain = min(f[new], cap) - min(own, cap)
                if gain > 0:
                    design[i, s] = new
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
        fill(rng_at, moves[: 3 * k * (1 + N)])
        refused, jumps, held = moves[:k], moves[k : 2 * k], moves[2 * k : 3 * k]
        copy_bits = 3 * k
        search_keys = copy_bits + k * N
        jump_keys = search_keys + k * N
        n_spill = n_own = 0
        for r in range(k):
            i = rows[r]
            succeeded[i] = True
            d, own = design[i, s], raw_fitness[i, s]
            source_row = -1
            if tries[i]:
                # Imitation: copy each differing bit of the source with the absorptive
                # capacity; a copy refused by the blockade with nothing better at home
                # is wasted.
                src, source_row = open_src[i, s], open_row[i, s]
                if refused[r] < blockade:
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
def _research_kernel(
    rng_at, hazard_rng_at, do_hazard, n, S, tick, alive, otype, uid, capital, grant,
    r, stage_pref, own_rnd, efficiency, expertise, n_feedback, exploration, absorption,
    gov_money, design, succeeded, spill_gain, own_gain, raw_fitness, stage_progress, visible,
    visible_row, public_design, public_row, direction, fit, n_bits, frontier, gates, reach,
    miss, params, spill_matrix, changed, discoveries, ints, amounts, pos, tick_spill,
    tick_innovation,
):  # fmt: skip
    """Spend, plan, compute the hazard, then draw and move (one tick of step 3b)."""
    if raw_fitness.shape[0] != n or len(changed) < n:
        raise ValueError("fitness and change flags must cover every organisation row")
    spending = np.empty((n, S))
    pos, private = _spend(
        n, S, tick, alive, otype, uid, capital, grant, r, stage_pref, own_rnd, spending, ints,
        amounts, pos,
    )  # fmt: skip

    p_success, p_imitation = np.empty((n, S)), np.empty((n, S))
    candidates = np.empty(n, dtype=np.int64)
    jump, directed, absorb = np.empty(n), np.empty(n), np.empty(n)
    open_src = np.empty((n, S), dtype=np.int64)
    open_row = np.empty((n, S), dtype=np.int64)
    _plan(
        n, S, alive, spending, efficiency, expertise, n_feedback, exploration, absorption,
        gov_money, visible, visible_row, fit, frontier, params, p_success, p_imitation,
        candidates, jump, directed, absorb, open_src, open_row,
    )  # fmt: skip
    imitate, passive, blockade = (
        params[IMITATION_BIAS],
        params[PASSIVE_ABSORPTION],
        params[BLOCKADE],
    )
    jump_bits, samples = int(params[JUMP_BITS]), int(params[HAZARD_SAMPLES])
    # A stage's work counts up to the progress of the stage before it.
    caps = np.empty(S)
    caps[0] = np.inf
    for s in range(1, S):
        caps[s] = stage_progress[s - 1] * gates[s]

    h = 0.0
    if do_hazard:
        h = hazard._hazard(
            hazard_rng_at, n, S, alive, otype, gov_money, design, raw_fitness, fit, n_bits, gates,
            caps, reach, jump_bits, miss, samples, p_success, p_imitation, candidates, jump,
            directed, absorb, direction, open_src, open_row, visible, visible_row, imitate,
            blockade, passive, public_design, public_row,
        )  # fmt: skip
    tick_spill, tick_innovation, n_imitation, n_innovation, n_discoveries = _execute(
        rng_at, n, S, alive, otype, gov_money, design, raw_fitness, fit, n_bits, caps, direction,
        p_success, p_imitation, candidates, jump, directed, absorb, open_src, open_row, visible,
        visible_row, imitate, passive, blockade, jump_bits, public_design, public_row,
        succeeded, spill_gain, own_gain, spill_matrix, changed, discoveries, tick_spill,
        tick_innovation,
    )  # fmt: skip
    return (pos, private, h, tick_spill, tick_innovation, n_imitation, n_innovation, n_discoveries)
