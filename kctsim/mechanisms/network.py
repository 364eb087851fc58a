"""Step 5: trust and links between organisations.

Links are undirected, trust-weighted, and kept as edge arrays owned by the
model (endpoints as rows, trust in [0, 1]) so each tick is one compiled
pass over them; :func:`to_networkx` builds a networkx Graph when one is wanted.
Trust grows after joint success and decays otherwise, more slowly under
high social trust; links whose trust falls below ``link_drop`` dissolve; each
organisation seeks a new partner at a rate raised by social trust and the
government's platforms (docs/ODD.md, section 7.8).

The edge arrays ``model.edge_a``, ``model.edge_b`` (endpoint rows, a < b) and
``model.edge_trust`` are preallocated buffers of which the first
``model.n_edges`` entries are the links (:func:`edges` gives just those).
"""

from __future__ import annotations

from typing import NamedTuple

import networkx as nx
import numpy as np
from numba import njit

from kctsim.config import AGENT_TYPES
from kctsim.kernels import JIT, total
from kctsim.streams import as_numpy, integers, random


class Constants(NamedTuple):
    """What the levers and parameters make of step 5's links."""

    trust_gain: float  # trust gained when both partners succeed
    trust_kept: float  # share of trust kept otherwise (decay slowed by social trust)
    link_drop: float  # links below this trust are dropped
    link_rate: float  # chance an organisation seeks a new partner (trust or a platform)
    social_trust: float  # trust of a new link


def constants(levers, params) -> Constants:
    """Step 5's link constants from the levers and parameters."""
    return Constants(
        trust_gain=float(params.trust_gain),
        trust_kept=float(1 - params.trust_decay * (1 - levers.social_trust)),
        link_drop=float(params.link_drop),
        link_rate=float(params.link_rate * min(1.0, levers.social_trust + levers.platform)),
        social_trust=float(levers.social_trust),
    )


def _linkable(model) -> np.ndarray:
    return model.census().orgs  # alive organisations but the government


def setup(model) -> None:
    """Random links at the given mean degree, plus hub-member links of the consortium."""
    nodes = _linkable(model)
    n_links = int(round(model.params.initial_degree * len(nodes) / 2))
    a = b = np.empty(0, dtype=np.int64)
    if len(nodes) > 1:
        with as_numpy(model.streams.main) as rng:
            a, b = rng.choice(nodes, n_links), rng.choice(nodes, n_links)
    reserve(model, max(64, 2 * (n_links + model.orgs.n)))
    _add_links(model, a, b, model.levers.social_trust)
    link_to_hubs(model, np.arange(model.orgs.n))


def edges(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The links: endpoint rows a < b and trust (views of the used part of the buffers)."""
    m = model.n_edges
    return model.edge_a[:m], model.edge_b[:m], model.edge_trust[:m]


def reserve(model, extra: int) -> None:
    """Make room for ``extra`` more links (the buffers at least double when they grow)."""
    m, cap = model.n_edges, len(model.edge_a)
    if m + extra > cap:
        size = max(m + extra, 2 * cap)
        for name in ("edge_a", "edge_b", "edge_trust"):
            old = getattr(model, name)
            new = np.zeros(size, dtype=old.dtype)
            new[:m] = old[:m]
            setattr(model, name, new)


def link_to_hubs(model, rows: np.ndarray) -> None:
    """Link consortium members among ``rows`` (newcomers) to a random hub each."""
    o = model.orgs
    reserve(model, len(rows))  # at most one link per row
    model.n_edges = _link_hubs_kernel(
        model.streams.main,
        rows,
        o.alive,
        o.hub,
        o.member,
        o.n,
        model.edge_a,
        model.edge_b,
        model.edge_trust,
        model.n_edges,
        float(model.levers.social_trust),
    )


@njit(**JIT)
def _link_hubs_kernel(rng, rows, alive, hub, member, n, ea, eb, et, m, trust):
    """Members among ``rows`` that are not hubs link to a random alive hub; return the links."""
    n_hubs = 0
    for r in range(n):
        n_hubs += alive[r] and hub[r]
    k = 0
    for r in rows:
        k += member[r] and not hub[r]
    if n_hubs == 0 or k == 0:
        return m
    hubs = np.empty(n_hubs, dtype=np.int64)
    j = 0
    for r in range(n):
        if alive[r] and hub[r]:
            hubs[j] = r
            j += 1
    members = np.empty(k, dtype=np.int64)
    j = 0
    for r in rows:
        if member[r] and not hub[r]:
            members[j] = r
            j += 1
    partners = np.empty(k, dtype=np.int64)
    for j in range(k):  # = rng.choice(hubs, k)
        partners[j] = hubs[integers(rng, 0, n_hubs)]
    return _add_links_kernel(ea, eb, et, m, partners, members, trust)


def _add_links(model, a: np.ndarray, b: np.ndarray, trust: float) -> None:
    """Add links, dropping self-loops and links that already exist."""
    if len(a) == 0:
        return
    reserve(model, len(a))
    model.n_edges = _add_links_kernel(
        model.edge_a,
        model.edge_b,
        model.edge_trust,
        model.n_edges,
        np.ascontiguousarray(a, dtype=np.int64),
        np.ascontiguousarray(b, dtype=np.int64),
        float(trust),
    )


@njit(**JIT)
def _add_links_kernel(ea, eb, et, m, a, b, trust):
    """Append the pairs (a, b) in order as (low, high), skipping loops and existing links.

    The candidate pairs go into a small hash table that one pass over the links
    marks, so the cost is linear in links plus candidates (the old code's set).
    """
    k = len(a)
    size = 16
    while size < 2 * k:
        size *= 2
    key_lo = np.full(size, -1, dtype=np.int64)
    key_hi = np.empty(size, dtype=np.int64)
    linked = np.zeros(size, dtype=np.bool_)
    slot = np.empty(k, dtype=np.int64)
    for j in range(k):
        slot[j] = _slot(key_lo, key_hi, min(a[j], b[j]), max(a[j], b[j]), True)
    for e in range(m):
        s = _slot(key_lo, key_hi, ea[e], eb[e], False)
        if s >= 0:
            linked[s] = True
    for j in range(k):
        lo, hi = min(a[j], b[j]), max(a[j], b[j])
        if lo != hi and not linked[slot[j]]:
            linked[slot[j]] = True
            ea[m], eb[m], et[m] = lo, hi, trust
            m += 1
    return m


@njit(**JIT)
def _slot(key_lo, key_hi, lo, hi, insert):
    """Slot of the pair (lo, hi) in an open-addressing table (-1: absent, not inserted)."""
    mask = len(key_lo) - 1
    s = ((lo * 1000003) ^ hi) & mask
    while key_lo[s] >= 0:
        if key_lo[s] == lo and key_hi[s] == hi:
            return s
        s = (s + 1) & mask
    if not insert:
        return -1
    key_lo[s], key_hi[s] = lo, hi
    return s


@njit(**JIT)
def _evolve_kernel(rng, ea, eb, et, m, succeeded, gain, decay, link_drop, nodes, rate, social):
    """Update trust, drop weak links (keeping order), then add the seekers' new links."""
    kept = 0
    for e in range(m):
        t = et[e]
        t = t + gain * (1 - t) if succeeded[ea[e]] and succeeded[eb[e]] else t * decay
        if t >= link_drop:
            ea[kept], eb[kept], et[kept] = ea[e], eb[e], t
            kept += 1
    n = len(nodes)
    if n <= 1:
        return kept
    # numpy's draws: rng.random(n) picks the seekers, then rng.integers(0, n, k)
    # their partners (= rng.choice(nodes, k)).
    seekers = np.empty(n, dtype=np.int64)
    k = 0
    for j in range(n):
        if random(rng) < rate:
            seekers[k] = nodes[j]
            k += 1
    partners = np.empty(k, dtype=np.int64)
    for j in range(k):
        partners[j] = nodes[integers(rng, 0, n)]
    return _add_links_kernel(ea, eb, et, kept, seekers[:k], partners, social)


def drop_rows(model, rows: np.ndarray) -> None:
    """Remove every link of the given rows (when they exit)."""
    model.n_edges = _drop_rows_kernel(
        model.edge_a,
        model.edge_b,
        model.edge_trust,
        model.n_edges,
        np.ascontiguousarray(rows, dtype=np.int64),
    )


@njit(**JIT)
def _drop_rows_kernel(ea, eb, et, m, rows):
    """Keep, in order, the links with neither endpoint in ``rows``."""
    top = 0
    for r in rows:
        top = max(top, r + 1)
    gone = np.zeros(top, dtype=np.bool_)
    for r in rows:
        gone[r] = True
    kept = 0
    for e in range(m):
        a, b = ea[e], eb[e]
        if not ((a < top and gone[a]) or (b < top and gone[b])):
            ea[kept], eb[kept], et[kept] = a, b, et[e]
            kept += 1
    return kept


@njit(**JIT)
def _points_up(degree, i, j):
    """Whether the link i-j points from i: i has the lower (degree, position)."""
    return degree[i] < degree[j] or (degree[i] == degree[j] and i < j)


@njit(**JIT)
def _statistics_kernel(ea, eb, m, position, n):
    """Network statistics over the n linkable organisations (positions of the link ends)."""
    if n < 3:
        return 0.0, 0.0, 0.0
    degree = np.zeros(n, dtype=np.int64)
    for e in range(m):
        degree[position[ea[e]]] += 1
        degree[position[eb[e]]] += 1
    density = 2 * m / (n * (n - 1))
    top = degree.max()
    gap = 0
    for v in range(n):
        gap += top - degree[v]
    centralisation = gap / ((n - 1) * (n - 2))
    if m == 0:
        return density, 0.0, centralisation
    # Triangles per node, each found once: links point from the lower to the higher
    # (degree, position) end, so hubs have short out-lists; a triangle is u -> v -> w
    # with u -> w. The counts are exact integers, as numpy's were.
    start = np.zeros(n + 1, dtype=np.int64)
    for e in range(m):
        i, j = position[ea[e]], position[eb[e]]
        start[(i if _points_up(degree, i, j) else j) + 1] += 1
    for v in range(n):
        start[v + 1] += start[v]
    fill = start[:n].copy()
    out = np.empty(m, dtype=np.int64)
    for e in range(m):
        i, j = position[ea[e]], position[eb[e]]
        if _points_up(degree, i, j):
            out[fill[i]] = j
            fill[i] += 1
        else:
            out[fill[j]] = i
            fill[j] += 1
    mark = np.full(n, -1, dtype=np.int64)
    triangles = np.zeros(n, dtype=np.int64)
    for u in range(n):
        for q in range(start[u], start[u + 1]):
            mark[out[q]] = u
        for q in range(start[u], start[u + 1]):
            v = out[q]
            for r in range(start[v], start[v + 1]):
                w = out[r]
                if mark[w] == u:
                    triangles[u] += 1
                    triangles[v] += 1
                    triangles[w] += 1
    local = np.zeros(n)
    for v in range(n):
        pairs = degree[v] * (degree[v] - 1) / 2
        if pairs > 0:
            local[v] = triangles[v] / pairs
    return density, total(local) / n, centralisation


def to_networkx(model) -> nx.Graph:
    o = model.orgs
    g = nx.Graph()
    for row in _linkable(model):
        g.add_node(int(o.uid[row]), type=AGENT_TYPES[o.type[row]])
    for a, b, t in zip(*edges(model), strict=True):
        g.add_edge(int(o.uid[a]), int(o.uid[b]), trust=float(t))
    return g
