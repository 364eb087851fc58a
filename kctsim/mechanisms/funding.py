"""Step 1: the government allocates its budget by the regime's levers.

To whom: block grants to universities; a targeted share to the core subject
and its consortium (or to the government's own research when it is the core
subject); the rest broad-based. How: unconditional grants, or matching of the
recipient's own R&D of the last tick. With what error: recipients are ranked
by a noisy view of their designs (``selection_noise``). Over stages and time:
the budget follows a front-loaded or sustained profile, split over the chain's
stages by fixed weights or by the stages' need (MODEL.md sections 4 and 5).
"""

from __future__ import annotations

import numpy as np

from kctsim.ledger import KIND_CODE, NO_ID, TYPE_CODE

GOV = TYPE_CODE["government"]
TREASURY = TYPE_CODE["treasury"]
UNIVERSITY = TYPE_CODE["university"]
MERIT_TEMPERATURE = 0.05  # fitness units: how sharply money follows perceived merit
PLAN_PERIOD = 8  # ticks between the government's choices of direction (two years)


def setup(model) -> None:
    """The budget profile over the horizon and the first direction."""
    T = model.horizon
    phi = model.levers.front_loading
    # exp(-3 phi t/T): phi = 0 is sustained; the total over the horizon is fixed.
    shape = np.exp(-3.0 * phi * np.arange(T) / T)
    model.budget_profile = shape * T / shape.sum()
    model.direction = model.orgs.design[model.government_row].copy()
    model.stage_split = np.full(model.n_stages, 1.0 / model.n_stages)
    model.stage_need = model.stage_split.copy()
    model.allocation_progress = np.zeros(model.n_stages)
    model.split_progress = None  # the progress the current split was computed from
    model.tick_gov_money = 0.0
    model.cum_gov_money = 0.0


def stage_need(progress: np.ndarray) -> np.ndarray:
    """What each stage needs: its remaining gap, weighted by how ready the stage
    before it is (money for a stage whose input is missing is wasted)."""
    gap = 1.0 - progress
    ready = np.concatenate([[1.0], progress[:-1]])
    need = gap * ready
    if need.sum() <= 1e-12:
        return np.full(len(progress), 1.0 / len(progress))
    return need / need.sum()


def stage_split(model) -> np.ndarray:
    """The budget's split over stages: fixed weights blended with the need.

    Recomputed only when the stages' progress has changed since the last tick
    (it depends on nothing else that changes during a run).
    """
    key = model.stage_progress.tobytes()
    if key == model.split_progress:
        return model.stage_split
    model.split_progress = key
    S = model.n_stages
    model.allocation_progress = model.stage_progress.copy()
    need = stage_need(model.allocation_progress)
    fixed = np.asarray(model.levers.stage_weights[:S]) if S > 1 else np.ones(1)
    fixed = fixed / fixed.sum()
    bf = model.levers.bottleneck_following
    model.stage_need = need
    return (1 - bf) * fixed + bf * need


def _weights(seen: np.ndarray, temperature: float) -> np.ndarray:
    """Allocation weights that follow the government's (noisy) view of merit."""
    w = np.exp((seen - seen.max()) / temperature)
    return w / w.sum()


def choose_direction(model) -> None:
    """Every plan period the government picks the design it believes best,
    per stage, among those the organisations hold, by a noisy view."""
    alive = model.census().alive_rows
    noise = model.levers.selection_noise
    for s in range(model.n_stages):
        seen = model.raw_fitness[alive, s] + noise * model.rng.standard_normal(len(alive))
        model.direction[s] = model.orgs.design[alive[np.argmax(seen)], s]


def allocate(model) -> None:
    """Spend this tick's budget; record every transfer in the ledger."""
    o, lev, p = model.orgs, model.levers, model.params
    gov, tick, census = model.government_row, model.tick, model.census()
    o.view("grant")[:] = 0.0
    o.view("gov_money")[:] = 0.0
    if (tick - 1) % PLAN_PERIOD == 0:
        choose_direction(model)

    budget = p.budget * model.budget_profile[min(tick, model.horizon) - 1]
    model.ledger.record(tick, "budget", TREASURY, NO_ID, GOV, o.uid[gov], budget)
    o.capital[gov] += budget
    available = o.capital[gov]
    split = model.stage_split = stage_split(model)

    rows = census.orgs  # every recipient is an alive organisation
    types = o.type[rows]
    # The government's noisy view of each organisation's design this tick.
    seen = np.add.reduce(model.effective_fitness[rows], axis=1) / model.n_stages  # row means
    seen += lev.selection_noise * model.rng.standard_normal(len(rows))
    pay = np.zeros(len(rows))
    kind = np.full(len(rows), KIND_CODE["grant"], dtype=np.int8)

    # Block grants: a share of this tick's budget, equally to the universities.
    is_uni = types == UNIVERSITY
    block = p.block_grant_share * budget if is_uni.any() else 0.0
    rest = available - block
    targeted = lev.targeted_share * rest
    own_research = 0.0
    if lev.core_subject == "government":
        own_research = targeted
    else:
        is_core = types == TYPE_CODE.get(lev.core_subject, -1)
        is_member = ~is_core & o.member[rows]
        if is_core.any() or is_member.any():
            # Half of the targeted money to the core subject, half to the other
            # members (all of it to whichever group exists).
            core_share = 0.5 if (is_core.any() and is_member.any()) else float(is_core.any())
            for group, share in ((is_core, core_share), (is_member, 1 - core_share)):
                if share > 0:
                    pay[group] += targeted * share * _weights(seen[group], MERIT_TEMPERATURE)
                    kind[group] = KIND_CODE["contract"]
        else:
            targeted = 0.0  # no one to target: all of it stays broad-based
    broad = ~is_uni
    if broad.any():
        # Broad-based support: near-equal, only mildly merit-weighted.
        pay[broad] += (rest - targeted) * _weights(seen[broad], 4 * MERIT_TEMPERATURE)
    matched = np.zeros(len(rows), dtype=bool)
    if lev.matching_ratio > 0:
        # Matching reimburses part of last tick's own R&D: conditional money that
        # lowers the recipient's cost of R&D (it is not earmarked again).
        matched = ~is_uni
        # own_rnd still holds last tick's own R&D: this tick's is spent later.
        pay[matched] = np.minimum(pay[matched], lev.matching_ratio * o.own_rnd[rows[matched]])
        kind[matched] = KIND_CODE["matching"]
    block_pay = np.where(is_uni, block / max(1, is_uni.sum()), 0.0)

    # Grants, contracts and block grants are earmarked for R&D by stage.
    earmarked = np.where(matched[:, None], 0.0, pay[:, None] * split[None, :])
    block_earmarked = block_pay[:, None] * split[None, :]
    o.grant[rows] = earmarked + block_earmarked
    o.gov_money[rows] = pay + block_pay
    o.capital[rows] += pay + block_pay
    paid = float(pay.sum() + block_pay.sum())
    o.capital[gov] -= paid
    ledger, uid_gov = model.ledger, o.uid[gov]
    stages = np.arange(model.n_stages)[None, :]
    to_type, to_id = types[:, None], o.uid[rows][:, None]
    ledger.record(tick, kind[:, None], GOV, uid_gov, to_type, to_id, earmarked, stages)
    ledger.record(tick, "block_grant", GOV, uid_gov, to_type, to_id, block_earmarked, stages)
    if matched.any():
        ledger.record(
            tick, "matching", GOV, uid_gov, types[matched], o.uid[rows[matched]], pay[matched]
        )
    # The government's own research programme is spent from its balance in R&D.
    o.grant[gov] = own_research * split
    o.gov_money[gov] = own_research
    model.tick_gov_money = paid + own_research
    model.cum_gov_money += model.tick_gov_money
