"""Step 2: users adopt and pay; firms earn base revenue and a premium.

Users adopt the domestic product by Bass diffusion (Bass 1969: innovation p,
imitation q) once it is usable, and then pay their supplier each tick.
Sellers earn base revenue, pay operating costs, and share a technology premium
by logit demand on their product's fitness (better technology sells; a rent
is shared with whoever holds an equally good design, so leaks erode it). In a
consortium with benefit sharing, a share of the members' premium is pooled at
the hub and paid back in proportion to each member's own R&D, so contributors
rather than free-riders gain (docs/ODD.md, section 7.3).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.config import Levers, Parameters
from kctsim.kernels import JIT, put, total
from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE
from kctsim.streams import as_numpy, random

USER = TYPE_CODE["user"]
MARKET = TYPE_CODE["market"]
BASE_REVENUE, OPERATING_COST, PREMIUM_REVENUE = (
    KIND_CODE[k] for k in ("base_revenue", "operating_cost", "premium_revenue")
)
CONSORTIUM_CONTRIBUTION, BENEFIT_SHARE, USER_REVENUE = (
    KIND_CODE[k] for k in ("consortium_contribution", "benefit_share", "user_revenue")
)


class Constants(NamedTuple):
    """What the levers and parameters make of step 2."""

    market_size: float  # premium paid out per tick
    rival_share: float  # share of it the foreign rival takes once it arrived first
    market_temperature: float
    result_sharing: float  # share of members' premium pooled at the hub
    usable_level: float  # the product is usable from this fitness of the last stage on
    bass_p: float
    bass_q: float
    price: float  # paid by an adopter per tick


def constants(levers: Levers, params: Parameters, tech) -> Constants:
    """Step 2's constants from the levers, the parameters and the technology."""
    return Constants(
        market_size=float(params.market_size),
        rival_share=float(tech.spec.rival_market_share),
        market_temperature=float(params.market_temperature),
        result_sharing=float(levers.result_sharing),
        usable_level=float(params.usable_fraction) * float(tech.gates[-1]),
        bass_p=float(params.bass_p),
        bass_q=float(params.bass_q),
        price=float(params.price),
    )


def setup(model) -> None:
    """Assign each user a supplier (by seller size) and a participation flag."""
    u = model.users
    n = u.n
    with as_numpy(model.streams.main) as rng:
        u.view("participating")[:] = rng.random(n) < model.levers.user_participation
    reassign_suppliers(model, np.arange(n))


def reassign_suppliers(model, user_rows: np.ndarray) -> None:
    """Give users a supplier among alive sellers, weighted by starting capital."""
    if len(user_rows) == 0:
        return
    o, u = model.orgs, model.users
    _reassign_kernel(
        model.streams.main,
        np.ascontiguousarray(user_rows, dtype=np.int64),
        o.alive,
        o.sells,
        o.capital0,
        o.n,
        model.government_row,
        u.supplier,
        u.adopted,
        u.participating,
        u.n,
        o.n_feedback,
    )


def count_feedback(model) -> None:
    """Participating users per supplier (they make its local search directed)."""
    u, o = model.users, model.orgs
    _count_feedback_kernel(u.supplier, u.participating, u.n, o.n_feedback, o.n)


@njit(**JIT)
def _count_feedback_kernel(supplier, participating, n_users, n_feedback, n):
    """``np.bincount(supplier[participating], minlength=n)[:n]`` into ``n_feedback``."""
    n_feedback[:n] = 0
    for i in range(n_users):
        if participating[i] and supplier[i] < n:
            n_feedback[supplier[i]] += 1


@njit(**JIT)
def _reassign_kernel(
    rng, users, alive, sells, capital0, n, government_row, supplier, adopted,
    participating, n_users, n_feedback,
):  # fmt: skip
    """reassign_suppliers on ``users`` (non-empty), then count_feedback."""
    k = 0
    for r in range(n):
        k += alive[r] and sells[r]
    if k == 0:
        for i in users:
            supplier[i] = government_row
            adopted[i] = False
    else:
        sellers = np.empty(k, dtype=np.int64)
        size = np.empty(k)
        j = 0
        for r in range(n):
            if alive[r] and sells[r]:
                sellers[j] = r
                size[j] = capital0[r]
                j += 1
        # numpy's rng.choice(sellers, p=size / size.sum()): cdf = p.cumsum(), cdf /= cdf[-1],
        # then cdf.searchsorted(rng.random(), side="right") per user.
        whole = total(size)
        cdf = np.empty(k)
        run = 0.0
        for j in range(k):
            run += size[j] / whole
            cdf[j] = run
        last = cdf[k - 1]
        for j in range(k):
            cdf[j] /= last
        for i in users:
            u = random(rng)
            lo, hi = 0, k  # the first j with u < cdf[j]
            while lo < hi:
                mid = (lo + hi) >> 1
                if u < cdf[mid]:
                    hi = mid
                else:
                    lo = mid + 1
            supplier[i] = sellers[min(lo, k - 1)]
    _count_feedback_kernel(supplier, participating, n_users, n_feedback, n)


def usable(model) -> bool:
    """The domestic product is usable once it is close enough to the target."""
    return _usable(model.effective_fitness, model.params.usable_fraction * model.tech.gates[-1])


# ------------------------------------------------------------------------ kernels


@njit(**JIT)
def _share_benefits(
    tick, sellers, premium, n, alive, type_, uid, capital, member, hub, own_rnd, rate, ints,
    amounts, pos,
):  # fmt: skip
    """Pool ``rate`` of members' premium at the hub; pay it back by own R&D."""
    if rate <= 0:
        return pos
    centre = -1  # the hub with the most capital (the first on ties)
    for r in range(n):
        if alive[r] and hub[r] and (centre < 0 or capital[r] > capital[centre]):
            centre = r
    members = np.empty(len(sellers), np.int64)
    paid_in = np.empty(len(sellers))
    k = 0
    for j in range(len(sellers)):
        if member[sellers[j]]:
            members[k] = sellers[j]
            paid_in[k] = rate * premium[j]
            k += 1
    if centre < 0 or k == 0:
        return pos
    members, paid_in = members[:k], paid_in[:k]
    effort = np.empty(k)
    for j in range(k):
        effort[j] = own_rnd[members[j]]  # last tick's own R&D (this tick's is not spent yet)
    effort_sum = total(effort)
    if effort_sum <= 0:
        return pos
    pool = total(paid_in)
    back = np.empty(k)
    for j in range(k):
        back[j] = pool * effort[j] / effort_sum
        capital[members[j]] += back[j] - paid_in[j]
    for j in range(k):
        r = members[j]
        pos = put(ints, amounts, pos, tick, CONSORTIUM_CONTRIBUTION, type_[r], uid[r],
                  type_[centre], uid[centre], -1, paid_in[j])  # fmt: skip
    for j in range(k):
        r = members[j]
        pos = put(ints, amounts, pos, tick, BENEFIT_SHARE, type_[centre], uid[centre],
                  type_[r], uid[r], -1, back[j])  # fmt: skip
    return pos


@njit(**JIT)
def _usable(effective_fitness, usable_at):
    """usable: the best product (last stage's effective fitness) reaches ``usable_at``."""
    best = -np.inf
    for r in range(effective_fitness.shape[0]):
        best = max(best, effective_fitness[r, -1])
    return best >= usable_at


@njit(**JIT)
def _adopt(rng, effective_fitness, usable_at, bass_p, bass_q, n_users, adopted):
    """Bass adoption once the product is usable; return the number of new adopters."""
    if n_users == 0 or not _usable(effective_fitness, usable_at):
        return 0
    before = 0
    for i in range(n_users):
        before += adopted[i]
    rate = bass_p + bass_q * (before / n_users)
    new = 0
    for i in range(n_users):  # every user draws, adopted or not (numpy's one array draw)
        if random(rng) < rate and not adopted[i]:
            adopted[i] = True
            new += 1
    return new


@njit(**JIT)
def _trade_kernel(rng, c, now, orgs, census, fitness, users, books, pos, rival_first):
    """trade: base revenue and costs, logit premium (less the foreign rival's share once
    it arrived first), benefit sharing, adoption, payments; returns (ledger length, new
    adopters)."""
    tick, n, n_users = now.tick, now.n, now.n_users
    rows, sellers = census.alive_rows, census.sellers
    alive, type_, uid, capital = orgs.alive, orgs.type, orgs.uid, orgs.capital
    base_revenue, operating_cost, access = orgs.base_revenue, orgs.operating_cost, orgs.premium
    member, hub, own_rnd = orgs.member, orgs.hub, orgs.own_rnd
    effective_fitness = fitness.effective
    supplier, adopted, user_uid = users.supplier, users.adopted, users.uid
    ints, amounts = books.ints, books.amounts
    market_temperature, price = c.market_temperature, c.price
    for r in rows:
        capital[r] += base_revenue[r] - operating_cost[r]
    for r in rows:
        pos = put(ints, amounts, pos, tick, BASE_REVENUE, MARKET, NO_ID, type_[r], uid[r], -1,
                  base_revenue[r])  # fmt: skip
    for r in rows:
        pos = put(ints, amounts, pos, tick, OPERATING_COST, type_[r], uid[r], MARKET, NO_ID, -1,
                  operating_cost[r])  # fmt: skip

    m = len(sellers)
    if m:
        # Logit demand: the technology premium goes mostly to the best products,
        # weighted by market access; whoever copies the best design shares its rent.
        last = effective_fitness.shape[1] - 1
        top = -np.inf
        for j in range(m):
            top = max(top, effective_fitness[sellers[j], last])
        w = np.empty(m)
        for j in range(m):
            f = effective_fitness[sellers[j], last]
            w[j] = access[sellers[j]] * math.exp((f - top) / market_temperature)
        norm = total(w)
        # The first mover's rent: a foreign rival that reached the target first takes its
        # share of the premium (ODD 7.3).
        size = c.market_size * (1.0 - c.rival_share) if rival_first else c.market_size
        premium = np.empty(m)
        for j in range(m):
            premium[j] = size * w[j] / norm
            capital[sellers[j]] += premium[j]
        for j in range(m):
            r = sellers[j]
            pos = put(ints, amounts, pos, tick, PREMIUM_REVENUE, MARKET, NO_ID, type_[r], uid[r],
                      -1, premium[j])  # fmt: skip
        pos = _share_benefits(
            tick, sellers, premium, n, alive, type_, uid, capital, member, hub, own_rnd,
            c.result_sharing, ints, amounts, pos,
        )  # fmt: skip

    adoptions = _adopt(rng, effective_fitness, c.usable_level, c.bass_p, c.bass_q, n_users, adopted)
    for i in range(n_users):
        if adopted[i]:
            capital[supplier[i]] += price
    for i in range(n_users):
        if adopted[i]:
            r = supplier[i]
            pos = put(ints, amounts, pos, tick, USER_REVENUE, USER, user_uid[i], type_[r], uid[r],
                      -1, price)  # fmt: skip
    return pos, adoptions
