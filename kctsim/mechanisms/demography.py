"""Step 6: exit with rescue, soft budgets, and entry of start-ups.

State-managed organisations have a soft budget: below ``soft_budget_floor``
of their starting capital the government tops them up. Any other
organisation whose capital falls below zero is rescued (topped up to
``rescue_floor`` of its start) with probability risk_tolerance, and exits
otherwise: its links dissolve, its scientists and users go elsewhere. Start-ups
enter as SMEs at Poisson(entry_rate) per tick (MODEL.md section 4, step 6).
"""

from __future__ import annotations

import numpy as np

from kctsim.config import AGENT_TYPES
from kctsim.ledger import NO_ID, TYPE_CODE
from kctsim.mechanisms import market, network, people

GOV = AGENT_TYPES.index("government")
INSOLVENCY_TOLERANCE = 1e-9  # below zero by more than rounding error


def _government_pays(model, kind: str, rows: np.ndarray, amounts: np.ndarray) -> None:
    """Government pays from its balance; the treasury covers any shortfall."""
    o, tick, ledger = model.orgs, model.tick, model.ledger
    gov = model.government_row
    total = float(amounts.sum())
    shortfall = max(0.0, total - o.capital[gov])
    if shortfall > 0:
        ledger.record(tick, "budget", TYPE_CODE["treasury"], NO_ID, GOV, o.uid[gov], shortfall)
        o.capital[gov] += shortfall
    o.capital[gov] -= total
    o.capital[rows] += amounts
    ledger.record(tick, kind, GOV, o.uid[gov], o.type[rows], o.uid[rows], amounts)


def exit_and_enter(model) -> None:
    o, lev, p, rng = model.orgs, model.levers, model.params, model.rng
    rows = model.census().orgs
    capital, capital0 = o.capital[rows], o.capital0[rows]

    low = o.soft_budget[rows] & (capital < p.soft_budget_floor * capital0)
    if low.any():
        soft = rows[low]
        _government_pays(
            model, "soft_budget", soft, p.soft_budget_floor * o.capital0[soft] - o.capital[soft]
        )

    failing = rows[(capital < -INSOLVENCY_TOLERANCE) & ~low]
    if len(failing):
        saved = rng.random(len(failing)) < lev.risk_tolerance
        rescued = failing[saved]
        if len(rescued):
            _government_pays(
                model, "bailout", rescued, p.rescue_floor * o.capital0[rescued] - o.capital[rescued]
            )
        if (~saved).any():
            remove(model, failing[~saved])

    n_new = int(rng.poisson(lev.entry_rate))
    if n_new:
        new = model.add_organisations("sme", n_new)
        people.seed_capital(model, new)


def remove(model, rows: np.ndarray) -> None:
    """Organisations exit: Mesa agents removed, rows kept with alive False."""
    o = model.orgs
    o.alive[rows] = False
    o.died[rows] = model.tick
    o.member[rows] = False
    model.population_changed()
    for row in rows:
        model.org_agents[row].remove()
    network.drop_rows(model, rows)
    model.tick_exits += len(rows)
    hosts = people.employable_rows(model)
    sc = model.scientists
    homeless = np.flatnonzero(np.isin(sc.view("employer"), rows))
    if len(homeless) and len(hosts):
        # = rng.choice(hosts, n): the same draws without choice's overhead
        sc.employer[homeless] = hosts[model.rng.integers(0, len(hosts), len(homeless))]
    users = np.flatnonzero(np.isin(model.users.view("supplier"), rows))
    market.reassign_suppliers(model, users)
    people.refresh_expertise(model)
