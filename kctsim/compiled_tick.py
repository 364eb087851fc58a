"""Steps 0-5 of a tick in one compiled call: turbulence and the foreign rival, funding,
market, contribution, R&D, spillover, network and scientists' moves (MODEL.md section
4) -- and on a quiet tick steps 6 and 7 as well.

Each step's rule is its mechanism module's kernel; :func:`advance` gathers the
model's columns once and :func:`_advance_kernel` calls the kernels in the order of
the tick. Handing the same columns to seven kernels one by one (numba unboxes every
array argument of every call), with Python in between, had cost about 8% of a tick.
What needs Python -- Mesa agents for start-ups, exits and entries -- comes after, in
:meth:`kctsim.model.KCTModel.step`. So the call goes on past step 5 only while no
Mesa agent has to be made or removed: without start-ups it decides the exits and the
entry draw (step 6), and when nobody exits or enters it measures the tick (step 7).
The kernels and their order are the same either way, and so are the results.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kctsim import metrics
from kctsim.kernels import JIT, generator
from kctsim.ledger import TYPE_CODE
from kctsim.mechanisms import (
    contribution,
    demography,
    funding,
    market,
    network,
    people,
    rnd,
    spillover,
)
from kctsim.technology import _refresh_kernel, all_stages_passed

# The steps' constants (levers and parameters), in this order in ``_constants``.
(
    BUDGET,
    BLOCK_GRANT_SHARE,
    BOTTLENECK_FOLLOWING,
    SELECTION_NOISE,
    TARGETED_SHARE,
    CORE_SUBJECT,
    MATCHING_RATIO,
    MARKET_SIZE,
    MARKET_TEMPERATURE,
    RESULT_SHARING,
    USABLE_LEVEL,
    BASS_P,
    BASS_Q,
    PRICE,
    FERMI_TEMPERATURE,
    LEARNING_RATE,
    MUTATION,
    LEAK,
    SHARE,
    TRUST_GAIN,
    TRUST_KEPT,
    LINK_DROP,
    LINK_RATE,
    SOCIAL_TRUST,
    MOBILITY,
    SOFT_BUDGET_FLOOR,
    RESCUE_FLOOR,
    RISK_TOLERANCE,
    ENTRY_RATE,
    USABLE_FRACTION,
    HAS_RIVAL,
    TURBULENCE,
    RIVAL_HAZARD,
) = range(33)


def _constants(model) -> np.ndarray:
    """The steps' lever and parameter values as one array (made again if they change)."""
    cached = model.__dict__.get("_tick_constants")
    if (
        cached is not None
        and cached[0] is model.levers
        and cached[1] is model.params
        and cached[2] is model.tech
    ):
        return cached[3]
    lev, v = model.levers, model.params.values
    values = np.array(
        [
            v["budget"],
            v["block_grant_share"],
            lev.bottleneck_following,
            lev.selection_noise,
            lev.targeted_share,
            TYPE_CODE.get(lev.core_subject, -1),
            lev.matching_ratio,
            v["market_size"],
            v["market_temperature"],
            lev.result_sharing,
            v["usable_fraction"] * model.tech.gates[-1],
            v["bass_p"],
            v["bass_q"],
            v["price"],
            v["fermi_temperature"],
            v["learning_rate"],
            v["mutation"],
            v["spillover"] * (1.0 - lev.ip_protection),
            spillover.link_share(lev),
            v["trust_gain"],
            1 - v["trust_decay"] * (1 - lev.social_trust),
            v["link_drop"],
            v["link_rate"] * min(1.0, lev.social_trust + lev.platform),
            lev.social_trust,
            v["scientist_mobility"] * lev.people_orientation,
            v["soft_budget_floor"],
            v["rescue_floor"],
            lev.risk_tolerance,
            lev.entry_rate,
            v["usable_fraction"],
            model.tech.rival_hazard > 0,
            model.tech.spec.turbulence,
            model.tech.rival_hazard,
        ],
        dtype=float,
    )
    model._tick_constants = (model.levers, model.params, model.tech, values)
    return values


def advance(model) -> int:
    """Steps 0-5 of the tick, and 6 and 7 as far as no Mesa agent is made or removed;
    returns the last step done (5, 6 or 7).

    Step 0 draws turbulence stage by stage; a stage it strikes stops the call, its
    landscape changes (in Python: :meth:`Technology.strike`) and the call starts again
    from the next stage's draw, so the draws come in the order of the rule."""
    first_stage = 0
    while True:
        result = _call_kernel(model, first_stage)
        struck = result[-2]  # the stage turbulence struck, or -1
        if struck < 0:
            break
        model.tech.strike(struck)
        model.refresh_fitness()
        first_stage = struck + 1
    ledger = model.ledger
    (
        ledger.n,
        paid,
        model.tick_adoptions,
        model.tick_private_rnd,
        model.hazard,
        model.tick_spill,
        model.tick_innovation,
        n_imitation,
        n_innovation,
        n_discoveries,
        passed,
        model.tick_leaks,
        model.n_edges,
        done,
        n_exit,
        model.entrants_due,
        _,
        model.rival_tick,
    ) = result
    model._fitness_current = True
    model.split_progress = model.allocation_progress
    model.tick_gov_money = paid
    model.cum_gov_money += paid
    model.tick_moves_imitation += n_imitation
    model.tick_moves_innovation += n_innovation
    if n_discoveries:
        model.discoveries.extend(rnd.tables(model).discoveries[:n_discoveries].tolist())
    if model.breakthrough_tick < 0 and passed:
        model.breakthrough_tick = model.tick
    model.exits_due = demography.exit_buffer(model)[:n_exit] if n_exit else demography.NOBODY
    if done == 7:
        metrics.finish(model)
    return done


def _scratch(model) -> tuple:
    """The kernel's tables and scratch buffers, sized for the population, and the most
    ledger rows a tick can write; kept until the population or the levers change."""
    kept = model.__dict__.get("_tick_scratch")
    if (
        kept is not None
        and kept[0] is model.census()
        and kept[1] is model.levers
        and kept[2] is model.params
    ):
        return kept
    o, S, census = model.orgs, model.n_stages, model.census()
    tables = rnd.tables(model)
    if len(tables.discoveries) < o.n * S:
        tables.discoveries = np.empty(2 * o.n * S, dtype=np.int64)
    ledger_rows = (
        1
        + len(census.orgs) * (2 * S + 1)  # funding, market, R&D spending
        + 2 * len(census.alive_rows)
        + 3 * len(census.sellers)
        + model.users.n
        + o.n * S
        + len(census.orgs)  # step 6: a payment per organisation
        + 2  # and at most two treasury top-ups
    )
    model._tick_scratch = (
        census,
        model.levers,
        model.params,
        tables,
        *spillover.visible_buffers(model),
        demography.exit_buffer(model),
        people.look_buffer(model),
        funding.fixed_split(model),
        ledger_rows,
    )
    return model._tick_scratch


def _call_kernel(model, first_stage: int) -> tuple:
    """Gather the columns and levers, make room in the buffers, and call the kernel."""
    o, u, sc, tech, ledger = model.orgs, model.users, model.scientists, model.tech, model.ledger
    n, S = o.n, model.n_stages
    census, _, _, tables, visible, visible_row, exits, look, fixed, ledger_rows = _scratch(model)
    do_hazard = model.breakthrough_tick < 0
    if do_hazard:
        tables.refresh_reach(tech)
    ledger.reserve(ledger_rows)
    network.reserve(model, len(census.orgs))  # at most one new link per seeker
    return _advance_kernel(
        tech.rng_at,
        first_stage,
        model.rng_at,
        model.hazard_rng_at,
        model.tick,
        model.horizon,
        _constants(model),
        model.government_row,
        n,
        S,
        o.alive,
        o.type,
        o.uid,
        o.member,
        o.hub,
        o.publishes,
        o.design,
        o.capital,
        o.capital_prev,
        o.capital0,
        o.payoff,
        o.r,
        o.grant,
        o.gov_money,
        o.own_rnd,
        o.base_revenue,
        o.operating_cost,
        o.premium,
        o.stage_pref,
        o.efficiency,
        o.expertise,
        o.n_feedback,
        o.exploration,
        o.absorption,
        o.succeeded,
        o.spill_gain,
        o.own_gain,
        census.orgs,
        census.alive_rows,
        census.sellers,
        census.learners_by_type,
        census.peer_start,
        census.peer_count,
        model.raw_fitness,
        model.effective_fitness,
        model.stage_progress,
        model.budget_profile,
        model.direction,
        model.allocation_progress,
        model.stage_need,
        model.stage_split,
        fixed,
        model.split_progress is None,
        u.n,
        u.supplier,
        u.adopted,
        u.uid,
        do_hazard,
        visible,
        visible_row,
        model.public_design,
        model.public_row,
        tech.fitness_table(),
        tables.n_bits,
        tech.frontier,
        tech.gates,
        tables.reach,
        tables.miss,
        tables.params,
        model.spill_matrix,
        model.changed,
        tables.discoveries,
        model.tick_spill,
        model.tick_innovation,
        model.pool_design,
        model.pool_row,
        model.pool_next,
        model.edge_a,
        model.edge_b,
        model.edge_trust,
        model.n_edges,
        sc.n,
        sc.employer,
        sc.expertise,
        look,
        ledger.ints,
        ledger.amounts,
        ledger.n,
        o.soft_budget,
        exits,
        model.breakthrough_tick,
        model.rival_tick,
        model.tick_moves_imitation,
        model.tick_moves_innovation,
        model.run_totals,
        model.run_counts,
        o.r0,
        census.learners,
        census.org_position,
        *model.metrics_rows,
    )


@njit(**JIT)
def _advance_kernel(
    tech_rng_at, first_stage, rng_at, hazard_rng_at, tick, horizon, c, government_row, n, S,
    alive, otype, uid, member, hub, publishes, design, capital, capital_prev, capital0, payoff,
    r, grant, gov_money, own_rnd, base_revenue, operating_cost, premium, stage_pref, efficiency,
    expertise, n_feedback, exploration, absorption, succeeded, spill_gain, own_gain, org_rows,
    alive_rows, sellers, learners, peer_start, peer_count, raw_fitness, effective_fitness,
    stage_progress, budget_profile, direction, allocation_progress, stage_need, stage_split,
    fixed_split, split_first, n_users, supplier, adopted, user_uid, do_hazard, visible,
    visible_row, public_design, public_row, fitness_table, n_bits, frontier, gates, reach, miss,
    rnd_params, spill_matrix, changed, discoveries, tick_spill, tick_innovation, pool_design,
    pool_row, pool_next, ea, eb, et, n_edges, n_scientists, employer, sc_expertise, look, ints,
    amounts, pos, soft_budget, exits, breakthrough_tick, rival_tick, moves_imitation,
    moves_innovation, run_totals, run_counts, r0, learners_in_order, org_position, fout, iout,
):  # fmt: skip
    """Steps 0-5 in the order of the tick (each call is one mechanism's kernel), then
    6 and 7 while no Mesa agent has to be made or removed."""
    # 0. Turbulence, stage by stage from ``first_stage``: a stage it strikes returns at
    # once (the landscape changes in Python); then the foreign rival's draw.
    tech_rng = generator(tech_rng_at)
    for s in range(first_stage, S):
        if tech_rng.random() < c[TURBULENCE]:
            return (
                pos, 0.0, 0, 0.0, 0.0, tick_spill, tick_innovation, 0, 0, 0, False, 0, n_edges,
                -1, 0, 0, s, rival_tick,
            )  # fmt: skip
    if rival_tick < 0 and generator(rng_at).random() < c[RIVAL_HAZARD]:
        rival_tick = tick
    # 1. The government allocates its budget.
    pos, paid, own_research = funding._allocate_kernel(
        rng_at, tick, horizon, c[BUDGET], c[BLOCK_GRANT_SHARE], budget_profile, government_row,
        n, org_rows, alive_rows, otype, uid, member, own_rnd, design, capital, grant, gov_money,
        raw_fitness, effective_fitness, direction, stage_progress, allocation_progress,
        stage_need, stage_split, fixed_split, c[BOTTLENECK_FOLLOWING], split_first,
        c[SELECTION_NOISE], c[TARGETED_SHARE], int(c[CORE_SUBJECT]), c[MATCHING_RATIO], ints,
        amounts, pos,
    )  # fmt: skip
    # 2. Users adopt and pay; revenue and premium.
    pos, adoptions = market._trade_kernel(
        rng_at, tick, alive_rows, sellers, n, alive, otype, uid, capital, base_revenue,
        operating_cost, premium, member, hub, own_rnd, effective_fitness, c[MARKET_SIZE],
        c[MARKET_TEMPERATURE], c[RESULT_SHARING], c[USABLE_LEVEL], c[BASS_P], c[BASS_Q],
        c[PRICE], n_users, supplier, adopted, user_uid, ints, amounts, pos,
    )  # fmt: skip
    # 3a. Contributions r move toward better-paid peers (from the second tick on).
    contribution._learn_kernel(
        rng_at, tick == 1, n, capital, capital_prev, capital0, payoff, r, learners, peer_start,
        peer_count, c[FERMI_TEMPERATURE], c[LEARNING_RATE], c[MUTATION],
    )  # fmt: skip
    # 3b. R&D: success, imitation or search; the hazard.
    (
        pos, private_rnd, hazard, tick_spill, tick_innovation, n_imitation, n_innovation,
        n_discoveries,
    ) = rnd._research_kernel(
        rng_at, hazard_rng_at, do_hazard, n, S, tick, alive, otype, uid, capital, grant, r,
        stage_pref, own_rnd, efficiency, expertise, n_feedback, exploration, absorption,
        gov_money, design, succeeded, spill_gain, own_gain, raw_fitness, stage_progress,
        visible[:n], visible_row[:n], public_design, public_row, direction, fitness_table,
        n_bits, frontier, gates, reach, miss, rnd_params, spill_matrix, changed, discoveries,
        ints, amounts, pos, tick_spill, tick_innovation,
    )  # fmt: skip
    # The fitness arrays are refreshed in place (their values before R&D are not needed
    # again this tick): arrays a kernel returns cost Python calls to box.
    _refresh_kernel(
        fitness_table, design, alive, n, gates, raw_fitness, effective_fitness, stage_progress
    )
    passed = all_stages_passed(raw_fitness, alive, gates)
    # 4. Knowledge spills to partners and the public.
    leaks = spillover._spread_kernel(
        rng_at, n, changed, alive, publishes, member, design, c[LEAK], fitness_table, ea, eb, et,
        n_edges, c[SHARE], c[RESULT_SHARING], pool_design, pool_row, pool_next, visible,
        visible_row, public_design, public_row,
    )  # fmt: skip
    # 5. Trust and links change; scientists move (start-ups follow in Python).
    n_edges = network._evolve_kernel(
        rng_at, ea, eb, et, n_edges, succeeded, c[TRUST_GAIN], c[TRUST_KEPT], c[LINK_DROP],
        org_rows, c[LINK_RATE], c[SOCIAL_TRUST],
    )  # fmt: skip
    founding = n_discoveries > 0 and n_scientists > 0
    people._move_kernel(
        rng_at, employer, n_scientists, org_rows, c[MOBILITY], effective_fitness, look,
        sc_expertise, expertise, n, not founding,
    )  # fmt: skip
    gov_money = paid + own_research
    if founding:  # start-ups are Mesa agents: step 6 follows them, in Python
        return (
            pos, gov_money, adoptions, private_rnd, hazard, tick_spill, tick_innovation,
            n_imitation, n_innovation, n_discoveries, passed, leaks, n_edges, 5, 0, 0, -1,
            rival_tick,
        )  # fmt: skip
    # 6. Exit unless rescued; entry.
    pos, n_exit, n_new = demography._exit_and_enter_kernel(
        rng_at, org_rows, capital, capital0, soft_budget, otype, uid, government_row,
        c[SOFT_BUDGET_FLOOR], c[RESCUE_FLOOR], c[RISK_TOLERANCE], c[ENTRY_RATE], ints, amounts,
        pos, tick, exits,
    )  # fmt: skip
    if n_exit or n_new:  # Mesa agents leave or arrive, in Python; then the metrics
        return (
            pos, gov_money, adoptions, private_rnd, hazard, tick_spill, tick_innovation,
            n_imitation, n_innovation, n_discoveries, passed, leaks, n_edges, 6, n_exit, n_new,
            -1, rival_tick,
        )  # fmt: skip
    # 7. Metrics: nobody was founded, exited or entered, so the census and the fitness
    # arrays are current.
    if breakthrough_tick < 0 and passed:
        breakthrough_tick = tick
    metrics._measure_kernel(
        tick, breakthrough_tick, rival_tick, c[HAS_RIVAL] > 0, hazard, tick_spill,
        tick_innovation, gov_money, private_rnd, moves_imitation + n_imitation,
        moves_innovation + n_innovation, n_scientists, 0, 0, 0, run_totals, run_counts,
        effective_fitness, alive, otype, n, org_rows, learners_in_order, r, r0, capital,
        spill_gain, design, fitness_table, n_bits, gates, stage_progress, stage_split,
        stage_need, allocation_progress, c[USABLE_FRACTION], adopted, n_users, changed, ea, eb,
        n_edges, org_position, fout, iout,
    )  # fmt: skip
    return (
        pos, gov_money, adoptions, private_rnd, hazard, tick_spill, tick_innovation,
        n_imitation, n_innovation, n_discoveries, passed, leaks, n_edges, 7, 0, 0, -1,
        rival_tick,
    )  # fmt: skip
