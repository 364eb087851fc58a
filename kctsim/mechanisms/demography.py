"""Step 6: exit with rescue, soft budgets, and entry of start-ups.

State-managed organisations have a soft budget: below ``soft_budget_floor``
of their starting capital the government tops them up. Any other
organisation whose capital falls below zero is rescued (topped up to
``rescue_floor`` of its start) with probability risk_tolerance, and exits
otherwise: its links dissolve, its scientists and users go elsewhere. Start-ups
enter as SMEs at Poisson(entry_rate) per tick (docs/ODD.md, section 7.10).

The government pays from its balance. With ``budget_neutral`` (one public purse)
that is all: a top-up or rescue the balance cannot cover is not made, and an
insolvent organisation left without it exits. Without it the treasury covers any
shortfall, beyond the budget.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.config import GOVERNMENT
from kctsim.kernels import JIT, put, total
from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE
from kctsim.mechanisms import people
from kctsim.mechanisms.market import _reassign_kernel
from kctsim.mechanisms.network import _drop_rows_kernel
from kctsim.mechanisms.people import _expertise_kernel
from kctsim.state import Links
from kctsim.streams import integers, poisson, random

INSOLVENCY_TOLERANCE = 1e-9  # below zero by more than rounding error
_TREASURY = TYPE_CODE["treasury"]
_BUDGET = KIND_CODE["budget"]
_SOFT_BUDGET = KIND_CODE["soft_budget"]
_BAILOUT = KIND_CODE["bailout"]


class Constants(NamedTuple):
    """What the levers and parameters make of step 6."""

    soft_budget_floor: float  # soft-budget organisations are topped up to this share of capital0
    rescue_floor: float  # a rescued organisation is put back to this share of capital0
    risk_tolerance: float  # chance a failing organisation is rescued
    entry_rate: float  # mean entrants per tick
    neutral: bool  # one public purse: no treasury money beyond the budget (budget_neutral)


def constants(levers, params) -> Constants:
    """Step 6's constants from the levers and parameters."""
    return Constants(
        float(params.soft_budget_floor),
        float(params.rescue_floor),
        float(levers.risk_tolerance),
        float(levers.entry_rate),
        bool(params.budget_neutral),
    )


@njit(**JIT)
def _affordable_kernel(balance, paid, k, made):
    """Which of the ``k`` requests ``paid[:k]`` one balance covers, in row order, each in
    full or not at all (``made``); returns how many were made. A request that does not
    fit is skipped, and later smaller ones may still be met."""
    n_made = 0
    for j in range(k):
        made[j] = paid[j] <= balance
        if made[j]:
            balance -= paid[j]
            n_made += 1
    return n_made


@njit(**JIT)
def _keep_made(rows, paid, made, k):
    """``rows[:k]`` and ``paid[:k]`` compacted in place to the requests made; their number."""
    n = 0
    for j in range(k):
        if made[j]:
            rows[n] = rows[j]
            paid[n] = paid[j]
            n += 1
    return n


@njit(**JIT)
def _pay_kernel(
    ints, amounts, pos, tick, kind, gov, capital, types_, uids, rows, paid, k, backstop
):
    """Government pays ``paid[:k]`` to ``rows[:k]`` from its balance; with ``backstop``
    the treasury covers any shortfall. Returns the new ledger length."""
    amount = paid[:k]
    whole = total(amount)  # numpy's amounts.sum()
    shortfall = whole - capital[gov]
    if backstop and shortfall > 0.0:
        pos = put(
            ints,
            amounts,
            pos,
            tick,
            _BUDGET,
            _TREASURY,
            NO_ID,
            GOVERNMENT,
            uids[gov],
            -1,
            shortfall,
        )
        capital[gov] += shortfall
    capital[gov] -= whole
    for j in range(k):
        capital[rows[j]] += amount[j]
    for j in range(k):
        r = rows[j]
        pos = put(
            ints, amounts, pos, tick, kind, GOVERNMENT, uids[gov], types_[r], uids[r], -1, amount[j]
        )
    return pos


@njit(**JIT)
def _exit_and_enter_kernel(
    rng, rows, capital, capital0, soft_budget, types_, uids, gov, c, held, ints, amounts, pos,
    tick, exits,
):  # fmt: skip
    """Soft budgets, then rescue or exit, then (when nobody exits) the entry draw.

    ``c`` is step 6's :class:`Constants`; ``held[0]`` becomes what the top-ups and
    rescues asked for, made or not (what funding holds back next tick under one purse).
    Returns (ledger length, exits written to ``exits``, entrants); entrants is -1
    when someone exits: the exit draws come first, so the entry draw waits for the
    draws of the exits themselves (:func:`exit_and_enter`)."""
    soft_floor, rescue_floor, risk_tolerance = c.soft_budget_floor, c.rescue_floor, c.risk_tolerance
    low_rows = np.empty(len(rows), dtype=np.int64)
    failing = np.empty(len(rows), dtype=np.int64)
    paid = np.empty(len(rows))
    made = np.empty(len(rows), dtype=np.bool_)
    asked = 0.0
    n_exit = 0
    # Which rows are low and which fail is judged on the capital before any payment.
    n_low = 0
    n_fail = 0
    for r in rows:
        low = soft_budget[r] and capital[r] < soft_floor * capital0[r]
        if low:
            low_rows[n_low] = r
            n_low += 1
        elif capital[r] < -INSOLVENCY_TOLERANCE:
            failing[n_fail] = r
            n_fail += 1
    if n_low:
        for j in range(n_low):
            r = low_rows[j]
            paid[j] = soft_floor * capital0[r] - capital[r]
            asked += paid[j]
        if c.neutral:
            _affordable_kernel(capital[gov], paid, n_low, made)
            for j in range(n_low):  # left without its top-up, an insolvent one exits
                if not made[j] and capital[low_rows[j]] < -INSOLVENCY_TOLERANCE:
                    exits[n_exit] = low_rows[j]
                    n_exit += 1
            n_low = _keep_made(low_rows, paid, made, n_low)
        pos = _pay_kernel(
            ints, amounts, pos, tick, _SOFT_BUDGET, gov, capital, types_, uids, low_rows, paid,
            n_low, not c.neutral,
        )  # fmt: skip
    if n_fail:
        saved = np.empty(n_fail, dtype=np.bool_)
        for j in range(n_fail):
            saved[j] = random(rng) < risk_tolerance
        if c.neutral:  # a rescue the balance cannot cover is not made
            n_saved = 0
            for j in range(n_fail):
                if saved[j]:
                    paid[n_saved] = rescue_floor * capital0[failing[j]] - capital[failing[j]]
                    asked += paid[n_saved]
                    n_saved += 1
            _affordable_kernel(capital[gov], paid, n_saved, made)
            n_saved = 0
            for j in range(n_fail):
                if saved[j]:
                    saved[j] = made[n_saved]
                    n_saved += 1
        n_saved = 0
        for j in range(n_fail):
            r = failing[j]
            if saved[j]:
                low_rows[n_saved] = r  # reused as the list of the rescued
                paid[n_saved] = rescue_floor * capital0[r] - capital[r]
                n_saved += 1
            else:
                exits[n_exit] = r
                n_exit += 1
        if n_saved:
            pos = _pay_kernel(
                ints, amounts, pos, tick, _BAILOUT, gov, capital, types_, uids, low_rows, paid,
                n_saved, not c.neutral,
            )  # fmt: skip
    held[0] = asked
    if n_exit:
        return pos, n_exit, -1
    return pos, 0, poisson(rng, c.entry_rate)


def exit_buffer(model) -> np.ndarray:
    """Room for the rows that exit this tick (one per organisation)."""
    rows = model.census().orgs
    if len(model.exit_rows) < len(rows):
        model.exit_rows = np.empty(2 * len(rows) + 8, dtype=np.int64)
    return model.exit_rows


def decide(model) -> None:
    """Step 6's compiled part: soft budgets, rescue or exit, and how many enter; the
    Mesa agents leave and arrive in :func:`exit_and_enter`."""
    o, ledger = model.orgs, model.ledger
    rows = model.census().orgs
    exits = exit_buffer(model)
    ledger.reserve(len(rows) + 2)  # a payment per row and at most two treasury top-ups
    ledger.n, n_exit, n_new = _exit_and_enter_kernel(
        model.streams.main, rows, o.capital, o.capital0, o.soft_budget, o.type, o.uid,
        model.government_row, model.constants.demography, model.allocation.held, ledger.ints,
        ledger.amounts, ledger.n, model.tick, exits,
    )  # fmt: skip
    model.exits_due, model.entrants_due = exits[:n_exit], n_new


def exit_and_enter(model) -> None:
    """The organisations :func:`decide` let go exit; after their draws, the entry draw
    if it had to wait; the entrants arrive."""
    n_new = model.entrants_due
    if len(model.exits_due):
        remove(model, model.exits_due)
        n_new = int(poisson(model.streams.main, model.levers.entry_rate))
    if n_new:
        new = model.add_organisations("sme", n_new)
        people.seed_capital(model, new)
    model.exits_due, model.entrants_due = NOBODY, 0


NOBODY = np.empty(0, dtype=np.int64)
"""No rows (nobody exits)."""


@njit(**JIT)
def _remove_kernel(
    rng, rows, tick, n, orgs, links, m, scientists, n_sci, users, n_users, government_row
):
    """remove in one call: mark the rows exited, drop their links, move their scientists
    to random hosts, reassign their users. Returns the number of links left."""
    alive, died, member, types_ = orgs.alive, orgs.died, orgs.member, orgs.type
    ea, eb, et = links.a, links.b, links.trust
    employer, sc_expertise = scientists.employer, scientists.expertise
    expertise, capital0, sells, n_feedback = (
        orgs.expertise,
        orgs.capital0,
        orgs.sells,
        orgs.n_feedback,
    )
    supplier, adopted, participating = users.supplier, users.adopted, users.participating
    gone = np.zeros(n, dtype=np.bool_)
    for r in rows:
        alive[r] = False
        died[r] = tick
        member[r] = False
        gone[r] = True
    m = _drop_rows_kernel(ea, eb, et, m, rows)
    # Hosts: the alive organisations but the government, in row order (employable_rows).
    n_hosts = 0
    for r in range(n):
        n_hosts += alive[r] and types_[r] != GOVERNMENT
    if n_hosts:
        hosts = np.empty(n_hosts, dtype=np.int64)
        j = 0
        for r in range(n):
            if alive[r] and types_[r] != GOVERNMENT:
                hosts[j] = r
                j += 1
        for i in range(n_sci):  # = rng.choice(hosts, n) over the homeless, in row order
            if gone[employer[i]]:
                employer[i] = hosts[integers(rng, 0, n_hosts)]
    _expertise_kernel(employer, sc_expertise, n_sci, expertise, n)
    k = 0
    for i in range(n_users):
        k += gone[supplier[i]]
    if k:
        users = np.empty(k, dtype=np.int64)
        k = 0
        for i in range(n_users):
            if gone[supplier[i]]:
                users[k] = i
                k += 1
        _reassign_kernel(
            rng, users, alive, sells, capital0, n, government_row, supplier, adopted,
            participating, n_users, n_feedback,
        )  # fmt: skip
    return m


def remove(model, rows: np.ndarray) -> None:
    """Organisations exit: Mesa agents removed, rows kept with alive False."""
    o, sc, u = model.orgs, model.scientists, model.users
    model.n_edges = _remove_kernel(
        model.streams.main, rows, model.tick, o.n, o.bundle(),
        Links(model.edge_a, model.edge_b, model.edge_trust), model.n_edges, sc.bundle(), sc.n,
        u.bundle(), u.n, model.government_row,
    )  # fmt: skip
    model.population_changed()
    agents = model.org_agents
    for row in rows.tolist():
        agents[row].remove()
    model.tick_exits += len(rows)
