"""Step 4: knowledge spills -- who can see which design next tick.

A design becomes visible to consortium members when results are shared
(each member's design enters the consortium pool with probability
``result_sharing``), to linked partners with probability info_sharing x trust
(in open teams 1 - (1 - info_sharing)(1 - result_sharing), times trust),
and to everyone through the public pool: publishers (universities, the
government's own research) always publish, others' new designs leak with
probability spillover x externality x (1 - ip_protection), the externality
being the technology type's (docs/ODD.md, section 7.7).
Each organisation keeps the best design it can see per stage, with its source
row, for the imitation step of the next tick.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.config import AGENT_TYPES, Levers, Parameters
from kctsim.kernels import JIT
from kctsim.streams import random

POOL_SIZE = 64  # public designs remembered per stage (most recent)
CONSORTIUM_SHARE = 0.5  # chance an SME joins the hub's consortium
_UNIVERSITY = AGENT_TYPES.index("university")
_SME = AGENT_TYPES.index("sme")


def setup(model) -> None:
    """Publishers' designs into the public pool; what every row sees."""
    o = model.orgs
    publish(model, np.flatnonzero(o.view("alive") & o.view("publishes")))
    update_visibility(model)


def join_consortium(model, rows: np.ndarray) -> None:
    """Hubs are the hub type; universities join, SMEs join with CONSORTIUM_SHARE."""
    hub_type = hub_code(model.levers)
    if hub_type < 0 or len(rows) == 0:
        return
    o = model.orgs
    _join_kernel(model.streams.main, rows, hub_type, o.type, o.hub, o.member)


def hub_code(levers: Levers) -> int:
    """Type code of the consortium's hubs; -1 when there is no hub-centred consortium."""
    hub_type = levers.consortium
    return -1 if hub_type in ("none", "open") else AGENT_TYPES.index(hub_type)


@njit(**JIT)
def _join_kernel(rng, rows, hub_type, types, hub, member):
    """Set hub and member of ``rows``: hubs and universities join, SMEs by a draw."""
    for r in rows:
        t = types[r]
        draw = random(rng)  # every row draws, whatever its type (numpy's one array draw)
        hub[r] = t == hub_type
        member[r] = hub[r] or t == _UNIVERSITY or (t == _SME and draw < CONSORTIUM_SHARE)


def publish(model, rows: np.ndarray) -> None:
    """Put the rows' current designs into the public pool (a ring per stage)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    _publish_kernel(
        rows, len(rows), model.orgs.design, model.pool_design, model.pool_row, model.pool_next
    )


@njit(**JIT)
def _publish_kernel(rows, m, design, pool_design, pool_row, pool_next):
    """Write rows[:m]'s designs into each stage's ring, from its next slot on."""
    for s in range(pool_next.shape[0]):
        start = pool_next[s]
        # With more rows than slots the last ones win, as in a real ring buffer.
        for j in range(m):
            slot = (start + j) % POOL_SIZE
            pool_design[slot, s] = design[rows[j], s]
            pool_row[slot, s] = rows[j]
        pool_next[s] = (start + m) % POOL_SIZE


def visible_buffers(model):
    """The visibility buffers, grown to the organisation table's capacity."""
    cap = len(model.orgs.alive)
    if len(model.visible_design) < cap:
        _grow_visible(model, cap)
    return model.visible_design, model.visible_row


def _grow_visible(model, cap: int) -> None:
    """Reallocate the visibility buffers with ``cap`` rows; new rows see nothing."""
    S = model.n_stages
    design = np.zeros((cap, S), dtype=np.int64)
    row = np.full((cap, S), -1, dtype=np.int64)
    k = len(model.visible_design)
    design[:k], row[:k] = model.visible_design, model.visible_row
    model.visible_design, model.visible_row = design, row


class Constants(NamedTuple):
    """What the levers and parameters make of step 4."""

    leak: float  # chance a changed design leaks into the public pool
    share: float  # chance one direction of a link of trust 1 passes designs on
    result_sharing: float  # chance a member's design enters the consortium pool


def constants(levers: Levers, params: Parameters, tech) -> Constants:
    """Step 4's constants from the levers, the parameters and the technology."""
    leak = params.spillover * tech.spec.externality * (1.0 - levers.ip_protection)
    return Constants(
        leak=float(min(leak, 1.0)),
        share=float(link_share(levers)),
        result_sharing=float(levers.result_sharing),
    )


def link_share(lev) -> float:
    """Chance that one direction of a link of trust 1 passes designs on."""
    # In open self-organised teams partners also share results (result_sharing).
    if lev.consortium == "open":
        return 1 - (1 - lev.info_sharing) * (1 - lev.result_sharing)
    return lev.info_sharing


@njit(**JIT)
def _spread_kernel(rng, c, n, n_edges, orgs, terrain, links, knowledge):
    """Leak and publish the changed rows' designs, then update visibility; return the leaks."""
    changed, alive, publishes, design = knowledge.changed, orgs.alive, orgs.publishes, orgs.design
    out = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        # One draw per changed row, publishers included (they publish anyway).
        if changed[i] and alive[i] and (random(rng) < c.leak or publishes[i]):
            out[k] = i
            k += 1
    _publish_kernel(out, k, design, knowledge.pool_design, knowledge.pool_row, knowledge.pool_next)
    _visibility_kernel(
        rng, n, alive, orgs.member, design, terrain.table, links.a, links.b, links.trust,
        n_edges, c.share, c.result_sharing, knowledge.pool_design, knowledge.pool_row,
        knowledge.visible, knowledge.visible_row, knowledge.public_design, knowledge.public_row,
    )  # fmt: skip
    return k


def update_visibility(model) -> None:
    """Recompute what every row sees (the second half of :func:`spread`)."""
    o, lev = model.orgs, model.levers
    visible, visible_row = visible_buffers(model)
    _visibility_kernel(
        model.streams.main,
        o.n,
        o.alive,
        o.member,
        o.design,
        model.tech.fitness_table(),
        model.edge_a,
        model.edge_b,
        model.edge_trust,
        model.n_edges,
        link_share(lev),
        lev.result_sharing,
        model.pool_design,
        model.pool_row,
        visible,
        visible_row,
        model.public_design,
        model.public_row,
    )


@njit(**JIT)
def _visibility_kernel(
    rng, n, alive, member, design, fitness, ea, eb, et, m, share, result_sharing,
    pool_design, pool_row, visible, visible_row, public_design, public_row,
):  # fmt: skip
    """Best visible design per row and stage: public pool, then consortium, then links."""
    # numpy's draws: both directions of every link (a's side first), then one
    # consortium draw for every row, member or not.
    open_ = np.empty(2 * m, dtype=np.bool_)
    for e in range(m):
        open_[e] = random(rng) < share * et[e]
    for e in range(m):
        open_[m + e] = random(rng) < share * et[e]
    shared = np.empty(n, dtype=np.bool_)
    for i in range(n):
        shared[i] = random(rng) < result_sharing and alive[i] and member[i]
    best = np.empty(n)
    link_fit = np.empty(n)
    link_row = np.empty(n, dtype=np.int64)
    for s in range(visible.shape[1]):
        fit = fitness[s]  # row s of the padded (stages, 2^max N) table
        # Public pool: the first fittest design in slot order, visible to all.
        p_fit, p_slot = -np.inf, -1
        for slot in range(POOL_SIZE):
            if pool_row[slot, s] >= 0:
                f = fit[pool_design[slot, s]]
                if p_slot < 0 or f > p_fit:
                    p_fit, p_slot = f, slot
        if p_slot >= 0:
            p_design, p_row = pool_design[p_slot, s], pool_row[p_slot, s]
        else:
            p_design, p_row = 0, -1
        public_design[s], public_row[s] = p_design, p_row
        for i in range(n):
            best[i] = p_fit
            visible[i, s] = p_design
            visible_row[i, s] = p_row
        # Consortium pool: the first fittest shared design, seen by every member.
        c_fit, c_row = -np.inf, -1
        for i in range(n):
            if shared[i]:
                f = fit[design[i, s]]
                if c_row < 0 or f > c_fit:
                    c_fit, c_row = f, i
        if c_row >= 0:
            for i in range(n):
                if alive[i] and member[i] and c_fit > best[i]:
                    best[i] = c_fit
                    visible_row[i, s] = c_row
                    visible[i, s] = design[c_row, s]
        # Links: per receiver the fittest open sender; ties go to the later one in
        # (a-side, b-side) order, as the stable lexsort did.
        for i in range(n):
            link_row[i] = -1
        for e in range(2 * m):
            if open_[e]:
                r, snd = (ea[e], eb[e]) if e < m else (eb[e - m], ea[e - m])
                f = fit[design[snd, s]]
                if link_row[r] < 0 or f >= link_fit[r]:
                    link_fit[r], link_row[r] = f, snd
        for i in range(n):
            k = link_row[i]
            if k >= 0 and link_fit[i] > best[i]:
                best[i] = link_fit[i]
                visible_row[i, s] = k
                visible[i, s] = design[k, s]
