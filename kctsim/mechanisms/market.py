"""Step 2: users adopt and pay; firms earn base revenue and a premium.

Users adopt the domestic product by Bass diffusion (Bass 1969: innovation p,
imitation q) once it is usable, and then pay their supplier each tick.
Sellers earn base revenue, pay operating costs, and share a technology premium
by logit demand on their product's fitness (better technology sells; a rent
is shared with whoever holds an equally good design, so leaks erode it). In a
consortium with benefit sharing, a share of the members' premium is pooled at
the hub and paid back in proportion to each member's own R&D, so contributors
rather than free-riders gain (MODEL.md section 6).
"""

from __future__ import annotations

import numpy as np

from kctsim.ledger import NO_ID, TYPE_CODE

USER = TYPE_CODE["user"]
MARKET = TYPE_CODE["market"]


def setup(model) -> None:
    """Assign each user a supplier (by seller size) and a participation flag."""
    u = model.users
    n = u.n
    u.view("participating")[:] = model.rng.random(n) < model.levers.user_participation
    reassign_suppliers(model, np.arange(n))
    model.tick_adoptions = 0


def reassign_suppliers(model, user_rows: np.ndarray) -> None:
    """Give users a supplier among alive sellers, weighted by starting capital."""
    if len(user_rows) == 0:
        return
    o, u = model.orgs, model.users
    sellers = np.flatnonzero(o.view("alive") & o.view("sells"))
    if len(sellers) == 0:
        u.supplier[user_rows] = model.government_row
        u.adopted[user_rows] = False
    else:
        w = o.capital0[sellers] / o.capital0[sellers].sum()
        u.supplier[user_rows] = model.rng.choice(sellers, len(user_rows), p=w)
    count_feedback(model)


def count_feedback(model) -> None:
    """Participating users per supplier (they make its local search directed)."""
    u, o = model.users, model.orgs
    part = u.view("participating")
    o.view("n_feedback")[:] = np.bincount(u.view("supplier")[part], minlength=o.n)[: o.n]


def usable(model) -> bool:
    """The domestic product is usable once it is close enough to the target."""
    best = model.effective_fitness[:, -1].max()
    return bool(best >= model.params.usable_fraction * model.tech.gates[-1])


def adopt(model) -> None:
    """Bass adoption: each non-adopter adopts with p + q * (share adopted)."""
    u = model.users
    n = u.n
    model.tick_adoptions = 0
    if n == 0 or not usable(model):
        return
    adopted = u.view("adopted")
    share = adopted.mean()
    rate = model.params.bass_p + model.params.bass_q * share
    new = ~adopted & (model.rng.random(n) < rate)
    adopted |= new
    model.tick_adoptions = int(new.sum())


def trade(model) -> None:
    """Revenue, costs, premium, benefit sharing and users' payments."""
    o, p, tick, ledger = model.orgs, model.params, model.tick, model.ledger
    census = model.census()
    sellers = census.sellers
    capital = o.view("capital")

    rows = census.alive_rows
    base, cost = o.base_revenue[rows], o.operating_cost[rows]
    capital[rows] += base - cost
    ledger.record(tick, "base_revenue", MARKET, NO_ID, o.type[rows], o.uid[rows], base)
    ledger.record(tick, "operating_cost", o.type[rows], o.uid[rows], MARKET, NO_ID, cost)

    if len(sellers):
        # Logit demand: the technology premium goes mostly to the best products,
        # weighted by market access; whoever copies the best design shares its rent.
        f = model.effective_fitness[sellers, -1]
        w = o.premium[sellers] * np.exp((f - f.max()) / p.market_temperature)
        premium = p.market_size * w / w.sum()
        capital[sellers] += premium
        ledger.record(
            tick, "premium_revenue", MARKET, NO_ID, o.type[sellers], o.uid[sellers], premium
        )
        share_benefits(model, sellers, premium)

    adopt(model)
    u = model.users
    buyers = np.flatnonzero(u.view("adopted"))
    if len(buyers):
        supplier = u.supplier[buyers]
        paid = np.full(len(buyers), p.price)
        np.add.at(capital, supplier, paid)
        ledger.record(
            tick, "user_revenue", USER, u.uid[buyers], o.type[supplier], o.uid[supplier], paid
        )


def share_benefits(model, sellers: np.ndarray, premium: np.ndarray) -> None:
    """Pool ``result_sharing`` of members' premium at the hub; pay it back by own R&D."""
    o, lev = model.orgs, model.levers
    if lev.result_sharing <= 0:
        return
    hubs = np.flatnonzero(o.view("alive") & o.view("hub"))
    is_member = o.member[sellers]
    if len(hubs) == 0 or not is_member.any():
        return
    hub = hubs[np.argmax(o.capital[hubs])]
    members, paid_in = sellers[is_member], lev.result_sharing * premium[is_member]
    effort = o.own_rnd[members]  # last tick's own R&D (this tick's is not spent yet)
    if effort.sum() <= 0:
        return
    back = paid_in.sum() * effort / effort.sum()
    o.capital[members] += back - paid_in
    tick, ledger = model.tick, model.ledger
    ledger.record(
        tick,
        "consortium_contribution",
        o.type[members],
        o.uid[members],
        o.type[hub],
        o.uid[hub],
        paid_in,
    )
    ledger.record(
        tick, "benefit_share", o.type[hub], o.uid[hub], o.type[members], o.uid[members], back
    )
