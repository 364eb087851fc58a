"""Step 5 (people): scientists raise their team's capability, move, found start-ups.

A scientist's expertise adds to its employer's R&D efficiency and absorptive
capacity. Under people-orientation a scientist looks, with probability
scientist_mobility x people_orientation per tick, at a random team (possibly
its own) and moves if that team's design is better (more promising); after a discovery (a
new best design of the system on a stage) one of the discovering team's
scientists founds a start-up with probability startup_rate x
people_orientation, taking the design along (docs/ODD.md, section 7.9).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.kernels import JIT, put, total
from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE
from kctsim.mechanisms.network import _link_hubs_kernel
from kctsim.mechanisms.network import reserve as _reserve_links
from kctsim.mechanisms.spillover import _join_kernel, hub_code
from kctsim.streams import fill_random, integers, random

_SEED_CAPITAL = KIND_CODE["seed_capital"]
_MARKET = TYPE_CODE["market"]


class Constants(NamedTuple):
    """What the levers and parameters make of scientists' moves."""

    mobility: float  # chance a scientist looks for a new employer this tick


def constants(levers, params) -> Constants:
    """The moves' constants: mobility raised by people-orientation."""
    return Constants(float(params.scientist_mobility * levers.people_orientation))


def employable_rows(model) -> np.ndarray:
    """Organisations that can employ scientists (all alive but the government)."""
    return model.census().orgs


def refresh_expertise(model) -> None:
    """Each organisation's expertise: the sum of its scientists' expertise."""
    o, sc = model.orgs, model.scientists
    _expertise_kernel(sc.employer, sc.expertise, sc.n, o.expertise, o.n)


@njit(**JIT)
def _expertise_kernel(employer, sc_expertise, n_sci, expertise, n_orgs):
    """``np.bincount(employer, weights=expertise)``: the same sequential sums."""
    expertise[:n_orgs] = 0.0
    for i in range(n_sci):
        expertise[employer[i]] += sc_expertise[i]


@njit(**JIT)
def _promise(eff, row):
    """A team's promise: its mean effective fitness over stages (numpy's row mean)."""
    return total(eff[row]) / eff.shape[1]


@njit(**JIT)
def _move_kernel(
    rng, employer, n_sci, hosts, p_look, eff, look, sc_expertise, expertise, n_orgs, refresh
):
    """Scientists look with p_look at a random host and move to a more promising one."""
    n_hosts = len(hosts)
    if n_sci and n_hosts:
        # The numpy rule drew all the looks, then all the targets.
        for i in range(n_sci):
            look[i] = random(rng) < p_look
        for i in range(n_sci):
            target = hosts[integers(rng, 0, n_hosts)]
            if look[i] and _promise(eff, target) > _promise(eff, employer[i]):
                employer[i] = target
    if refresh:
        _expertise_kernel(employer, sc_expertise, n_sci, expertise, n_orgs)


def found_startups(model) -> None:
    """After the moves (compiled in :mod:`kctsim.compiled_tick`): each organisation that
    made a discovery this tick spins off a start-up with the startup rate, founded by
    one of its scientists and starting from its design."""
    sc, o, lev, p = model.scientists, model.orgs, model.levers, model.params
    model.tick_startups = 0
    founding = bool(model.discoveries) and sc.n > 0
    if not founding:
        return
    discoveries = np.unique(np.asarray(model.discoveries, dtype=np.int64))
    draws = np.empty(len(discoveries))
    fill_random(model.streams.main, draws)  # numpy's rng.random(n)
    found = discoveries[draws < p.startup_rate * lev.people_orientation]
    for row in found:
        staff = np.flatnonzero(sc.view("employer") == row)
        if len(staff) == 0:
            continue
        founder = staff[integers(model.streams.main, 0, len(staff))]
        new = model.add_organisations("sme", 1, designs=o.design[row][None, :].copy())
        seed_capital(model, new)
        sc.employer[founder] = new[0]
        model.tick_startups += 1
    refresh_expertise(model)


@njit(**JIT)
def _seed_kernel(
    rng, ints, amounts, pos, tick, rows, types_, uids, capital, hub_type, hub, member,
    alive, n, ea, eb, et, m, trust,
):  # fmt: skip
    """seed_capital in one call: the investors' ledger rows, one per new firm, then
    join_consortium and link_to_hubs on the rows. Returns (ledger length, links)."""
    for r in rows:
        pos = put(ints, amounts, pos, tick, _SEED_CAPITAL, _MARKET, NO_ID, types_[r], uids[r],
                  -1, capital[r])  # fmt: skip
    if hub_type >= 0:
        _join_kernel(rng, rows, hub_type, types_, hub, member)
    return pos, _link_hubs_kernel(rng, rows, alive, hub, member, n, ea, eb, et, m, trust)


def seed_capital(model, rows: np.ndarray) -> None:
    """Investors (the market) put in the new firms' starting capital."""
    o, ledger = model.orgs, model.ledger
    ledger.reserve(len(rows))
    _reserve_links(model, len(rows))  # at most one hub link per row
    ledger.n, model.n_edges = _seed_kernel(
        model.streams.main,
        ledger.ints,
        ledger.amounts,
        ledger.n,
        model.tick,
        rows,
        o.type,
        o.uid,
        o.capital,
        hub_code(model.levers),
        o.hub,
        o.member,
        o.alive,
        o.n,
        model.edge_a,
        model.edge_b,
        model.edge_trust,
        model.n_edges,
        float(model.levers.social_trust),
    )
    model.tick_entries += len(rows)
