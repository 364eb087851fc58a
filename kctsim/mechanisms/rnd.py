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

Every probability of the tick is fixed in a :class:`Plan` before any draw, so
the breakthrough hazard (:mod:`kctsim.mechanisms.hazard`) is computed from
exactly the rules the draws then follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kctsim.ledger import NO_ID, TYPE_CODE
from kctsim.mechanisms import hazard, spillover

FOREIGN = -2  # source row of the foreign frontier design
RND = TYPE_CODE["rnd"]
GOVERNMENT = TYPE_CODE["government"]
IMITATION, LOCAL, JUMP = 0, 1, 2


@dataclass
class StagePlan:
    """Probabilities and sources of one stage for every row."""

    p_success: np.ndarray  # (n,) chance an original attempt (search or jump) succeeds
    p_imitation: np.ndarray  # (n,) chance an imitation attempt succeeds (imitating is cheaper)
    design: np.ndarray  # (n,) current designs
    own: np.ndarray  # (n,) raw fitness now
    cap: float  # what this stage's work can count for: the progress of the stage before
    source_open: np.ndarray  # (n,) design to copy if the foreign one is not refused
    source_open_row: np.ndarray  # (n,) its row (FOREIGN, or -1 for none)
    source_refused: np.ndarray  # (n,) design to copy if it is refused
    source_refused_row: np.ndarray
    public: int  # the best design in the public pool (absorbed passively)
    public_row: int  # its source row, -1 if the pool is empty


@dataclass
class Plan:
    """Everything random in this tick's R&D, as probabilities."""

    imitate: float  # chance an attempt is an imitation, when a better design is in sight
    passive: float  # chance a row without an R&D success absorbs the best public design
    blockade: float  # chance the foreign design is refused (0 where there is none)
    jump: np.ndarray  # (n,) chance an innovation is a long jump
    candidates: np.ndarray  # (n,) m: neighbours evaluated in local search
    directed: np.ndarray  # (n,) chance local search is held to the direction
    absorption: np.ndarray  # (n,) chance each differing bit is copied
    stages: list[StagePlan] = field(default_factory=list)


def spend(model) -> np.ndarray:
    """Pay for this tick's R&D; return the spending per row and stage (n, S)."""
    o, tick = model.orgs, model.tick
    rows = model.census().orgs  # alive, not the government
    capital = o.view("capital")
    # Own funds exclude this tick's earmarked government money, spent on top.
    own_funds = np.maximum(capital[rows] - o.grant[rows].sum(axis=1), 0.0)
    own = np.zeros(o.n)
    own[rows] = o.r[rows] * own_funds
    o.view("own_rnd")[:] = own
    spending = own[:, None] * o.view("stage_pref") + o.view("grant")
    capital -= spending.sum(axis=1)
    payers, stages = np.nonzero(spending > 0)
    model.ledger.record(
        tick,
        "rnd_spend",
        o.type[payers],
        o.uid[payers],
        RND,
        NO_ID,
        spending[payers, stages],
        stages,
    )
    model.tick_private_rnd = float(own.sum())
    return spending


def _unit_clip(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] in place (np.clip's wrapper costs more than the work here)."""
    return np.minimum(np.maximum(x, 0.0, out=x), 1.0, out=x)


def make_plan(model, spending: np.ndarray) -> Plan:
    o, lev, p, tech = model.orgs, model.levers, model.params, model.tech
    expertise = o.view("expertise")
    efficiency = o.view("efficiency") * (1 + p.expertise_capability * expertise)
    cost = p.cost_scale * tech.cost_multiplier
    effort = efficiency[:, None] * spending
    effort[~o.view("alive")] = 0.0
    p_success = -np.expm1(-effort / cost)
    p_imitation = -np.expm1(-effort / (cost * p.imitation_cost))
    candidates = np.minimum(
        p.max_candidates,
        p.search_candidates + np.floor(p.feedback_candidates * o.view("n_feedback")),
    ).astype(np.int64)
    plan = Plan(
        imitate=lev.imitation_bias,
        passive=p.passive_absorption,
        blockade=tech.blockade if (tech.frontier >= 0).any() else 0.0,
        jump=_unit_clip(o.view("exploration") * 2.0 * lev.risk_tolerance),
        candidates=candidates,
        directed=lev.direction_setting * (o.view("gov_money") > 0),
        absorption=_unit_clip(o.view("absorption") + p.expertise_absorption * expertise),
    )
    visible, visible_row = spillover.visible_for(model, o.n)
    caps = tech.caps(model.stage_progress)
    for s, land in enumerate(tech.landscapes):
        design = o.design[: o.n, s].copy()
        dom, dom_row = visible[:, s], visible_row[:, s]
        if tech.frontier[s] >= 0:
            dom_fit = np.where(dom_row >= 0, land.fitness[dom], -np.inf)
            foreign_better = land.fitness[tech.frontier[s]] > dom_fit
            open_design = np.where(foreign_better, tech.frontier[s], dom)
            open_row = np.where(foreign_better, FOREIGN, dom_row)
        else:
            open_design, open_row = dom, dom_row
        plan.stages.append(
            StagePlan(
                p_success=p_success[:, s],
                p_imitation=p_imitation[:, s],
                design=design,
                own=model.raw_fitness[:, s],
                cap=caps[s],
                source_open=open_design,
                source_open_row=open_row,
                source_refused=dom,
                source_refused_row=dom_row,
                public=int(model.public_design[s]),
                public_row=int(model.public_row[s]),
            )
        )
    return plan


def research(model) -> None:
    """Spend, plan, compute the hazard, then draw and move."""
    spending = spend(model)
    plan = make_plan(model, spending)
    if model.breakthrough_tick < 0:
        model.hazard = hazard.breakthrough_hazard(model, plan)
    else:
        model.hazard = 0.0
    execute(model, plan)
    model.refresh_fitness()
    if model.breakthrough_tick < 0 and model.all_stages_passed():
        model.breakthrough_tick = model.tick


def local_search(land, design, candidates, allowed, keys) -> np.ndarray:
    """Best of ``candidates`` random allowed one-bit flips (the design itself if none).

    ``keys`` are uniform draws that order the flips at random; ``allowed`` is
    None when every flip is allowed (no row is held to a direction).
    """
    N = land.n_bits
    first_m = np.arange(N) < candidates[:, None]
    rows = np.arange(len(design))
    if allowed is None:
        order = np.argsort(keys, axis=1)
        ok = first_m
    else:
        order = np.argsort(np.where(allowed, keys, 2.0), axis=1)
        ok = allowed[rows[:, None], order] & first_m
    flips = design[:, None] ^ land.flip_masks[order]
    fit = np.where(ok, land.fitness[flips], -1.0)
    pick = np.argmax(fit, axis=1)
    return np.where(ok[rows, pick], flips[rows, pick], design)


def execute(model, plan: Plan) -> None:
    """Draw successes and moves from the plan; keep improvements; book gains."""
    o, rng, tech = model.orgs, model.rng, model.tech
    n = o.n
    succeeded = np.zeros(n, dtype=bool)
    # The government's research arm only takes knowledge in while it researches.
    absorbing = o.view("alive") & ((o.view("type") != GOVERNMENT) | (o.view("gov_money") > 0))

    for s, (sp, land) in enumerate(zip(plan.stages, tech.landscapes, strict=True)):
        N = land.n_bits
        # First the mode -- imitate (only when something better is in sight) or
        # originate -- then whether the attempt succeeds.
        sees_better = (sp.source_open_row != -1) & (land.fitness[sp.source_open] > sp.own)
        tries_imitation = sees_better & (rng.random(n) < plan.imitate)
        p = np.where(tries_imitation, sp.p_imitation, sp.p_success)
        success = rng.random(n) < p
        absorb(model, plan, sp, land, s, ~success & (rng.random(n) < plan.passive) & absorbing)
        rows = np.flatnonzero(success)
        k = len(rows)
        if k == 0:
            continue
        succeeded[rows] = True
        design, own = sp.design[rows], sp.own[rows]
        u = rng.random((3, k))
        imitate, refused = tries_imitation[rows], u[0] < plan.blockade
        jump, directed = u[1] < plan.jump[rows], u[2] < plan.directed[rows]
        bits = rng.random((3, k, N))

        # Imitation: copy each differing bit of the source with the absorptive capacity.
        src = np.where(refused, sp.source_refused[rows], sp.source_open[rows])
        src_row = np.where(refused, sp.source_refused_row[rows], sp.source_open_row[rows])
        has_source = (src_row != -1) & (land.fitness[src] > own)
        copy_mask = (bits[0] < plan.absorption[rows, None]) @ land.flip_masks
        copied = design ^ ((design ^ src) & copy_mask)

        # Local search: best of m random flips, only towards the direction if held to it.
        allowed = None
        if directed.any():
            towards = ((design ^ model.direction[s])[:, None] & land.flip_masks) != 0
            allowed = np.where(directed[:, None], towards, True)
        local = local_search(land, design, plan.candidates[rows], allowed, bits[1])

        # Long jump: flip `jump_bits` random bits at once.
        L = min(model.params.jump_bits, N)
        flips = np.argsort(bits[2], axis=1)[:, :L]
        jumped = design ^ land.flip_masks[flips].sum(axis=1)
        new_innovation = np.where(jump, jumped, local)

        # An imitation refused by the blockade with nothing better at home is wasted.
        kind = np.where(imitate, IMITATION, np.where(jump, JUMP, LOCAL))
        new = np.where(kind == IMITATION, np.where(has_source, copied, design), new_innovation)
        # A move is kept if it is better as far as it counts: up to the stage's cap.
        gain = np.minimum(land.fitness[new], sp.cap) - np.minimum(own, sp.cap)
        kept = gain > 0
        _book(model, s, rows[kept], kind[kept], gain[kept], src_row[kept], new[kept])
    o.view("succeeded")[:] = succeeded


def absorb(model, plan: Plan, sp: StagePlan, land, s: int, tries: np.ndarray) -> None:
    """Passive spillover: without R&D, copy bits of the best public design.

    ``tries`` marks the rows that try to absorb (alive, and for the government
    only while it researches).

    Knowledge that has leaked or been published reaches organisations through
    products, people and papers without research of their own (Jaffe 1986);
    what they take in is limited by their absorptive capacity. This is what
    lets a firm that contributes nothing keep up where results leak.
    """
    if sp.public_row < 0:
        return
    target = land.fitness[sp.public]
    rows = np.flatnonzero(tries & (sp.own < target))
    if len(rows) == 0:
        return
    design, own = sp.design[rows], sp.own[rows]
    bits = model.rng.random((len(rows), land.n_bits)) < plan.absorption[rows, None]
    new = design ^ ((design ^ sp.public) & (bits @ land.flip_masks))
    gain = np.minimum(land.fitness[new], sp.cap) - np.minimum(own, sp.cap)
    kept = gain > 0
    n_kept = int(kept.sum())
    _book(
        model,
        s,
        rows[kept],
        np.full(n_kept, IMITATION),
        gain[kept],
        np.full(n_kept, sp.public_row),
        new[kept],
    )


def _book(model, s, rows, kind, gain, src_row, new) -> None:
    """Apply kept moves and record who gained how much from whose work."""
    if len(rows) == 0:
        return
    o = model.orgs
    best_before = model.raw_fitness[model.census().alive_rows, s].max()
    o.design[rows, s] = new
    imit = kind == IMITATION
    o.spill_gain[rows[imit]] += gain[imit]
    o.own_gain[rows[~imit]] += gain[~imit]
    sources = src_row[imit]
    source_types = np.where(sources == FOREIGN, model.spill_matrix.shape[0] - 1, o.type[sources])
    np.add.at(model.spill_matrix, (source_types, o.type[rows[imit]]), gain[imit])
    model.tick_spill += float(gain[imit].sum())
    model.tick_innovation += float(gain[~imit].sum())
    n_imit = int(imit.sum())
    model.tick_moves_imitation += n_imit
    model.tick_moves_innovation += len(rows) - n_imit
    model.changed[rows] = True
    innovators = rows[~imit]
    record = innovators[model.tech.landscapes[s].fitness[new[~imit]] > best_before]
    model.discoveries.extend(record.tolist())
