"""The breakthrough hazard h(t): the model's own chance of breaking through this tick.

Computed from the tick's R&D plan (:mod:`kctsim.mechanisms.rnd`) -- the same
probabilities the draws then follow -- and the fitness tables (docs/ODD.md,
section 7.6). Only designs reached by R&D since the stage's landscape last changed
count (*earned*), so a stage not yet passed with an earned design needs a move
this tick. For row i on stage s, the chance it keeps a move past the gate is

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
from numba import njit

from kctsim.config import GOVERNMENT
from kctsim.kernels import JIT, total
from kctsim.streams import fill_random

FOREIGN = -2  # source row of the foreign design (the frontier, or the rival's)


@njit(**JIT)
def bit_mask(draws, start, n_bits, p):
    """The mask whose bit b is set where draws[start + b] < p (one bit chance each)."""
    mask = 0
    for b in range(n_bits):
        mask |= np.int64(draws[start + b] < p) << b
    return mask


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


@njit(**JIT)
def _share_reaching(fit, design, source, masks, gate, own):
    """Share of the copy masks with which copying ``source`` into ``design`` gives a kept
    design past the gate (fitter than ``own`` and at least ``gate``)."""
    hits = 0
    differ = design ^ source
    for j in range(len(masks)):
        f = fit[design ^ (differ & masks[j])]
        if f >= gate and f > own:
            hits += 1
    return hits / len(masks)


@njit(**JIT)
def _count_fitter(fit, design, n_bits, distance, own):
    """How many designs at Hamming distance ``distance`` from ``design`` are fitter than
    ``own`` (by enumeration: needed only for the rare row a redraw lifted over the gate,
    for which the landscape's counts of designs reaching the gate do not answer)."""
    count = 0
    for x in range(1 << n_bits):
        differ, bits = x ^ design, 0
        while differ:
            differ &= differ - 1
            bits += 1
        if bits == distance and fit[x] > own:
            count += 1
    return count


@njit(**JIT)
def _stage_q(
    q, rng, s, n, orgs, raw_fitness, fit, n_bits, gate, caps, reach, comb_nl, miss, masks, draws,
    plan, c, direction, public, public_row,
):  # fmt: skip
    """q for every row with a chance of success on stage s (zeros elsewhere): the chance
    that the row keeps a move (one fitter than its design, as far as the cap counts)
    that lands past the gate, which earns it the stage."""
    alive, otype, gov_money, design = orgs.alive, orgs.type, orgs.gov_money, orgs.design
    p_success, p_imitation, candidates = plan.p_success, plan.p_imitation, plan.candidates
    jump, directed, absorption = plan.jump, plan.directed, plan.absorb
    open_src, open_row, dom, dom_row = plan.open_src, plan.open_row, plan.dom, plan.dom_row
    imitate, blockade, passive = c.imitation_bias, c.blockade, c.passive_absorption
    N = n_bits
    copy_public = passive > 0 and public_row >= 0
    public_fit = fit[public]
    for i in range(n):
        q[i] = 0.0
        d, own = design[i, s], raw_fitness[i, s]
        # Rows already at the stage's cap cannot keep any move (it would not count).
        if not alive[i] or not own < caps[i]:
            continue
        # Below the cap a move is kept when it is fitter than the design. One past the
        # gate always is, unless a redraw already lifted the (unearned) design over the
        # gate: then only a fitter design earns the stage. Hence "f >= gate and f > own".
        lifted = own >= gate
        # Monte Carlo copy masks: each bit set with the row's absorptive capacity.
        fill_random(rng, draws)
        for j in range(len(masks)):
            masks[j] = bit_mask(draws, j * N, N, absorption[i])
        # Local search only reaches the gate from next door: best of m distinct
        # flips, among all N (blind) or among those towards the direction (held).
        m = candidates[i]
        next_door = 0
        for b in range(N):
            f = fit[d ^ (1 << b)]
            if f >= gate and f > own:
                next_door += 1
        p_local = 0.0
        if next_door > 0:
            blind = 1.0 - miss[N, next_door, m]
            dirn = directed[i]
            held = 0.0
            if dirn > 0:
                towards = d ^ direction[s]
                allowed = 0
                hits = 0
                for b in range(N):
                    if (towards >> b) & 1:
                        allowed += 1
                        f = fit[d ^ (1 << b)]
                        if f >= gate and f > own:
                            hits += 1
                if allowed > 0:
                    held = 1.0 - miss[allowed, hits, m]
            p_local = dirn * held + (1 - dirn) * blind
        fitter = _count_fitter(fit, d, N, min(c.jump_bits, N), own) if lifted else reach[d]
        p_jump = fitter / comb_nl

        # Imitation is tried (with probability iota) only when the open source --
        # the foreign design where it is better, else the best domestic one --
        # beats the row's own design; with the blockade's probability the foreign
        # design is refused and the best domestic one is copied if better, else nothing.
        sees_better = open_row[i, s] != -1 and fit[open_src[i, s]] > own
        iota = imitate * (1.0 if sees_better else 0.0)
        p_imitate = 0.0
        if sees_better:
            share = _share_reaching(fit, d, open_src[i, s], masks, gate, own)
            if open_row[i, s] != FOREIGN:
                p_imitate = share  # only a foreign design can be refused
            else:
                p_imitate += (1.0 - blockade) * share
                if blockade > 0 and dom_row[i, s] != -1 and fit[dom[i, s]] > own:
                    p_imitate += blockade * _share_reaching(fit, d, dom[i, s], masks, gate, own)
        innovate = jump[i] * p_jump + (1 - jump[i]) * p_local
        pi, ps = p_imitation[i, s], p_success[i, s]
        qi = iota * pi * p_imitate + (1 - iota) * ps * innovate
        # Passive absorption of the best public design, by rows whose R&D failed
        # (the government's arm only while it researches).
        if copy_public:
            p_fail = 1 - iota * pi - (1 - iota) * ps
            p_copy = 0.0
            if (otype[i] != GOVERNMENT or gov_money[i] > 0) and public_fit > own:
                p_copy = _share_reaching(fit, d, public, masks, gate, own)
            qi += p_fail * passive * p_copy
        q[i] = qi


@njit(**JIT)
def _hazard(
    rng, n, S, orgs, raw_fitness, terrain, caps, reach, miss, c, plan, direction, knowledge
):
    """h(t): the chance every stage is past its gate with an earned design at the end of
    this tick. A stage already passed with an earned design stays passed (moves are kept
    only if fitter, and nobody exits during R&D); any other stage needs a move this tick."""
    alive, earned, fit = orgs.alive, orgs.earned, terrain.table
    n_bits, gates = terrain.n_bits, terrain.gates
    jump_bits, samples = c.jump_bits, c.hazard_samples
    h = 1.0
    q = np.empty(n)
    log_miss = np.empty(n)
    masks = np.empty(samples, np.int64)
    draws = np.empty(samples * 16)  # N <= 16 bits
    for s in range(S):
        passed = False
        for i in range(n):
            if alive[i] and earned[i, s] and raw_fitness[i, s] >= gates[s]:
                passed = True
                break
        if passed:
            continue
        N = n_bits[s]
        L = min(jump_bits, N)
        comb_nl = 1.0  # C(N, L), exact in floats for N <= 16
        for j in range(L):
            comb_nl = comb_nl * (N - j) / (j + 1)
        _stage_q(
            q, rng, s, n, orgs, raw_fitness, fit[s], N, gates[s], caps[:, s], reach[s], comb_nl,
            miss, masks, draws[: samples * N], plan, c, direction, knowledge.public_design[s],
            knowledge.public_row[s],
        )  # fmt: skip
        for i in range(n):
            log_miss[i] = np.log1p(-q[i])
        h *= -np.expm1(total(log_miss))
        if h == 0.0:
            break
    return h
