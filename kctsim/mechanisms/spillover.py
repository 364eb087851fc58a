"""Step 4: knowledge spills -- who can see which design next tick.

A design becomes visible to consortium members when results are shared
(each member's design enters the consortium pool with probability
``result_sharing``), to linked partners with probability info_sharing x trust
(in open teams 1 - (1 - info_sharing)(1 - result_sharing), times trust),
and to everyone through the public pool: publishers (universities, the
government's own research) always publish, others' new designs leak with
probability spillover x (1 - ip_protection) (MODEL.md section 4, step 4).
Each organisation keeps the best design it can see per stage, with its source
row, for the imitation step of the next tick.
"""

from __future__ import annotations

import numpy as np

from kctsim.config import AGENT_TYPES

POOL_SIZE = 64  # public designs remembered per stage (most recent)
CONSORTIUM_SHARE = 0.5  # chance an SME joins the hub's consortium


def setup(model) -> None:
    o = model.orgs
    S = model.n_stages
    model.pool_design = np.zeros((POOL_SIZE, S), dtype=np.int64)
    model.pool_row = np.full((POOL_SIZE, S), -1, dtype=np.int64)
    model.pool_next = np.zeros(S, dtype=np.int64)
    model.spill_matrix = np.zeros((len(AGENT_TYPES) + 1, len(AGENT_TYPES)))  # + foreign source
    publish(model, np.flatnonzero(o.view("alive") & o.view("publishes")))
    update_visibility(model)


def join_consortium(model, rows: np.ndarray) -> None:
    """Hubs are the hub type; universities join, SMEs join with CONSORTIUM_SHARE."""
    hub_type = model.levers.consortium
    if hub_type in ("none", "open") or len(rows) == 0:
        return
    o = model.orgs
    types = o.type[rows]
    hub = types == AGENT_TYPES.index(hub_type)
    joins = hub | (types == AGENT_TYPES.index("university"))
    sme = types == AGENT_TYPES.index("sme")
    joins |= sme & (model.rng.random(len(rows)) < CONSORTIUM_SHARE)
    o.hub[rows] = hub
    o.member[rows] = joins


def publish(model, rows: np.ndarray) -> None:
    """Put the rows' current designs into the public pool (a ring per stage)."""
    if len(rows) == 0:
        return
    designs = model.orgs.design[rows]
    for s in range(model.n_stages):
        slots = (model.pool_next[s] + np.arange(len(rows))) % POOL_SIZE
        # With more rows than slots the last ones win, as in a real ring buffer.
        model.pool_design[slots, s] = designs[:, s]
        model.pool_row[slots, s] = rows
        model.pool_next[s] = (model.pool_next[s] + len(rows)) % POOL_SIZE


def spread(model) -> None:
    """Publish and leak this tick's new designs; recompute what everyone sees."""
    o, lev, p = model.orgs, model.levers, model.params
    changed = np.flatnonzero(model.changed & o.view("alive"))
    leak = p.spillover * (1.0 - lev.ip_protection)
    out = o.publishes[changed] | (model.rng.random(len(changed)) < leak)
    publish(model, changed[out])
    model.tick_leaks = int(out.sum())
    update_visibility(model)


def _best_by_receiver(receiver, sender, fit, n):
    """For each receiver, the sender with the highest fitness (-1 if none)."""
    best_row = np.full(n, -1, dtype=np.int64)
    if len(receiver) == 0:
        return best_row
    order = np.lexsort((fit, receiver))
    r_sorted = receiver[order]
    last = np.flatnonzero(np.append(r_sorted[1:] != r_sorted[:-1], True))
    best_row[r_sorted[last]] = sender[order[last]]
    return best_row


def update_visibility(model) -> None:
    o, lev, rng = model.orgs, model.levers, model.rng
    n = o.n
    alive = o.view("alive")
    design = o.view("design")
    # Links: each direction of each link is open with info_sharing x trust; in open
    # self-organised teams partners also share results (result_sharing).
    share = lev.info_sharing
    if lev.consortium == "open":
        share = 1 - (1 - lev.info_sharing) * (1 - lev.result_sharing)
    a, b, trust = model.edge_a, model.edge_b, model.edge_trust
    recv = np.concatenate([a, b])
    send = np.concatenate([b, a])
    open_ = rng.random(len(recv)) < share * np.concatenate([trust, trust])
    recv, send = recv[open_], send[open_]
    # Consortium pool: members share their design with probability result_sharing.
    members = alive & o.view("member")
    shared = np.flatnonzero(members & (rng.random(n) < lev.result_sharing))

    visible = np.zeros((n, model.n_stages), dtype=np.int64)
    visible_row = np.full((n, model.n_stages), -1, dtype=np.int64)
    model.public_design = np.zeros(model.n_stages, dtype=np.int64)
    model.public_row = np.full(model.n_stages, -1, dtype=np.int64)
    for s, land in enumerate(model.tech.landscapes):
        f = land.fitness[design[:, s]]
        best = np.full(n, -np.inf)
        row = np.full(n, -1, dtype=np.int64)
        # Public pool: visible to all.
        pool = model.pool_row[:, s] >= 0
        if pool.any():
            pf = land.fitness[model.pool_design[pool, s]]
            k = np.argmax(pf)
            best[:] = pf[k]
            row[:] = model.pool_row[pool, s][k]
            visible[:, s] = model.pool_design[pool, s][k]
            model.public_design[s] = model.pool_design[pool, s][k]
            model.public_row[s] = model.pool_row[pool, s][k]
        if len(shared):
            k = shared[np.argmax(f[shared])]
            better = members & (f[k] > best)
            best[better], row[better], visible[better, s] = f[k], k, design[k, s]
        link_best = _best_by_receiver(recv, send, f[send], n)
        has = link_best >= 0
        better = has & (f[np.maximum(link_best, 0)] > best)
        rows = np.flatnonzero(better)
        best[rows], row[rows] = f[link_best[rows]], link_best[rows]
        visible[rows, s] = design[link_best[rows], s]
        visible_row[:, s] = row
    model.visible_design = visible
    model.visible_row = visible_row


def visible_for(model, n: int) -> tuple[np.ndarray, np.ndarray]:
    """What rows 0..n-1 can see; rows that entered since the last update see nothing."""
    design, row = model.visible_design, model.visible_row
    extra = n - len(design)
    if extra > 0:
        design = np.concatenate([design, np.zeros((extra, design.shape[1]), dtype=np.int64)])
        row = np.concatenate([row, np.full((extra, row.shape[1]), -1, dtype=np.int64)])
    return design, row
