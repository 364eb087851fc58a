"""Step 5: trust and links between organisations.

Links are undirected, trust-weighted, and kept as edge arrays owned by the
model (endpoints as rows, trust in [0, 1]) so each tick is a few vector
operations; :func:`to_networkx` builds a networkx Graph when one is wanted.
Trust grows after joint success and decays otherwise, more slowly under
high social trust; links whose trust falls below ``link_drop`` dissolve; each
organisation seeks a new partner at a rate raised by social trust and the
government's platforms (MODEL.md section 4, step 5).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy import sparse

from kctsim.config import AGENT_TYPES

GOV = AGENT_TYPES.index("government")
DENSE_LIMIT = 400  # organisations up to which clustering uses a dense adjacency matrix


def _linkable(model) -> np.ndarray:
    return model.census().orgs  # alive organisations but the government


def setup(model) -> None:
    """Random links at the given mean degree, plus hub-member links of the consortium."""
    rng = model.rng
    nodes = _linkable(model)
    n_links = int(round(model.params.initial_degree * len(nodes) / 2))
    a = rng.choice(nodes, n_links) if len(nodes) > 1 else np.empty(0, dtype=np.int64)
    b = rng.choice(nodes, n_links) if len(nodes) > 1 else np.empty(0, dtype=np.int64)
    model.edge_a = np.empty(0, dtype=np.int64)
    model.edge_b = np.empty(0, dtype=np.int64)
    model.edge_trust = np.empty(0)
    _add_links(model, a, b, model.levers.social_trust)
    link_to_hubs(model, np.arange(model.orgs.n))


def link_to_hubs(model, rows: np.ndarray) -> None:
    """Link consortium members among ``rows`` (newcomers) to a random hub each."""
    o = model.orgs
    hubs = np.flatnonzero(o.view("alive") & o.view("hub"))
    members = rows[o.member[rows] & ~o.hub[rows]]
    if len(hubs) and len(members):
        _add_links(model, model.rng.choice(hubs, len(members)), members, model.levers.social_trust)


def _add_links(model, a: np.ndarray, b: np.ndarray, trust: float) -> None:
    """Add links, dropping self-loops and links that already exist."""
    if len(a) == 0:
        return
    lo, hi = np.minimum(a, b).tolist(), np.maximum(a, b).tolist()
    existing = set(zip(model.edge_a.tolist(), model.edge_b.tolist(), strict=True))
    new = []
    for pair in zip(lo, hi, strict=True):  # few new links a tick: a set beats np.unique
        if pair[0] != pair[1] and pair not in existing:
            existing.add(pair)
            new.append(pair)
    if new:
        add = np.array(new, dtype=np.int64)
        model.edge_a = np.concatenate([model.edge_a, add[:, 0]])
        model.edge_b = np.concatenate([model.edge_b, add[:, 1]])
        model.edge_trust = np.concatenate([model.edge_trust, np.full(len(new), trust)])


def evolve(model) -> None:
    o, lev, p, rng = model.orgs, model.levers, model.params, model.rng
    a, b, trust = model.edge_a, model.edge_b, model.edge_trust
    joint = o.succeeded[a] & o.succeeded[b]
    trust = np.where(
        joint,
        trust + p.trust_gain * (1 - trust),
        trust * (1 - p.trust_decay * (1 - lev.social_trust)),
    )
    keep = trust >= p.link_drop
    model.edge_a, model.edge_b, model.edge_trust = a[keep], b[keep], trust[keep]
    nodes = model.census().orgs
    if len(nodes) > 1:
        rate = p.link_rate * min(1.0, lev.social_trust + lev.platform)
        seekers = nodes[rng.random(len(nodes)) < rate]
        partners = nodes[rng.integers(0, len(nodes), len(seekers))]  # = rng.choice(nodes, ...)
        _add_links(model, seekers, partners, lev.social_trust)


def drop_rows(model, rows: np.ndarray) -> None:
    """Remove every link of the given rows (when they exit)."""
    gone = np.isin(model.edge_a, rows) | np.isin(model.edge_b, rows)
    model.edge_a, model.edge_b = model.edge_a[~gone], model.edge_b[~gone]
    model.edge_trust = model.edge_trust[~gone]


def statistics(model) -> tuple[float, float, float]:
    """Density, mean local clustering and Freeman degree centralisation."""
    census = model.census()
    n = len(census.orgs)
    if n < 3:
        return 0.0, 0.0, 0.0
    i, j = census.org_position[model.edge_a], census.org_position[model.edge_b]
    E = len(i)
    degree = np.bincount(np.concatenate([i, j]), minlength=n)
    density = 2 * E / (n * (n - 1))
    centralisation = float((degree.max() - degree).sum() / ((n - 1) * (n - 2)))
    if E == 0:
        return density, 0.0, centralisation
    if n <= DENSE_LIMIT:  # small networks: count common neighbours edge by edge
        adj = np.zeros((n, n), dtype=bool)
        adj[i, j] = adj[j, i] = True
        common = (adj[i] & adj[j]).sum(axis=1)
        triangles = (np.bincount(i, common, n) + np.bincount(j, common, n)) / 2
    else:
        adj = sparse.csr_matrix(
            (np.ones(2 * E), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n)
        )
        triangles = np.asarray((adj @ adj).multiply(adj).sum(axis=1)).ravel() / 2
    pairs = degree * (degree - 1) / 2
    local = np.divide(triangles, pairs, out=np.zeros(n), where=pairs > 0)
    return density, float(np.add.reduce(local) / n), centralisation  # = local.mean()


def to_networkx(model) -> nx.Graph:
    o = model.orgs
    g = nx.Graph()
    for row in _linkable(model):
        g.add_node(int(o.uid[row]), type=AGENT_TYPES[o.type[row]])
    for a, b, t in zip(model.edge_a, model.edge_b, model.edge_trust, strict=True):
        g.add_edge(int(o.uid[a]), int(o.uid[b]), trust=float(t))
    return g
