"""Step 5 (people): scientists raise their team's capability, move, found start-ups.

A scientist's expertise adds to its employer's R&D efficiency and absorptive
capacity. Under people-orientation a scientist looks, with probability
scientist_mobility x people_orientation per tick, at a random team (possibly
its own) and moves if that team's design is better (more promising); after a discovery (a
new best design of the system on a stage) one of the discovering team's
scientists founds a start-up with probability startup_rate x
people_orientation, taking the design along (MODEL.md sections 4 and 5).
"""

from __future__ import annotations

import numpy as np

from kctsim.ledger import NO_ID, TYPE_CODE


def employable_rows(model) -> np.ndarray:
    """Organisations that can employ scientists (all alive but the government)."""
    return model.census().orgs


def refresh_expertise(model) -> None:
    o, sc = model.orgs, model.scientists
    o.view("expertise")[:] = np.bincount(
        sc.view("employer"), weights=sc.view("expertise"), minlength=o.n
    )[: o.n]


def move_and_found(model) -> None:
    sc, o, lev, p, rng = model.scientists, model.orgs, model.levers, model.params, model.rng
    model.tick_startups = 0
    hosts = employable_rows(model)
    if sc.n and len(hosts):
        employer = sc.view("employer")
        look = rng.random(sc.n) < p.scientist_mobility * lev.people_orientation
        target = hosts[rng.integers(0, len(hosts), sc.n)]  # = rng.choice(hosts, sc.n)
        promise = model.effective_fitness.mean(axis=1)
        move = look & (promise[target] > promise[employer])
        employer[move] = target[move]
    if model.discoveries and sc.n:
        discoveries = np.unique(np.asarray(model.discoveries, dtype=np.int64))
        found = discoveries[rng.random(len(discoveries)) < p.startup_rate * lev.people_orientation]
        for row in found:
            staff = np.flatnonzero(sc.view("employer") == row)
            if len(staff) == 0:
                continue
            founder = staff[rng.integers(len(staff))]
            new = model.add_organisations("sme", 1, designs=o.design[row][None, :].copy())
            seed_capital(model, new)
            sc.employer[founder] = new[0]
            model.tick_startups += 1
    refresh_expertise(model)


def seed_capital(model, rows: np.ndarray) -> None:
    """Investors (the market) put in the new firms' starting capital."""
    from kctsim.mechanisms import network, spillover  # imported late: no import cycle

    o = model.orgs
    model.ledger.record(
        model.tick,
        "seed_capital",
        TYPE_CODE["market"],
        NO_ID,
        o.type[rows],
        o.uid[rows],
        o.capital[rows],
    )
    spillover.join_consortium(model, rows)
    network.link_to_hubs(model, rows)
    model.tick_entries += len(rows)
