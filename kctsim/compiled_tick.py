"""Steps 0-5 of a tick in one compiled call: turbulence and the foreign rival, funding,
market, contribution, R&D, spillover, network and scientists' moves (docs/ODD.md,
process overview) -- and on a quiet tick steps 6 and 7 as well.

Each step's rule is its mechanism module's kernel, and each module turns the levers and
parameters into its rule's constants (``constants``). :func:`advance` hands the model's
state to :func:`_advance_kernel` as named bundles (:mod:`kctsim.state`), which calls the
kernels in the order of the tick: one compiled call rather than seven, because numba
unboxes every argument of every call. What needs Python -- Mesa agents for start-ups,
exits and entries -- comes after, in :meth:`kctsim.model.KCTModel.step`. So the call
goes on past step 5 only while no Mesa agent has to be made or removed: without
start-ups it decides the exits and the entry draw (step 6), and when nobody exits or
enters it measures the tick (step 7). The kernels and their order are the same either
way, and so are the results.
"""

from __future__ import annotations

from operator import is_
from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim import metrics
from kctsim.kernels import JIT
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
from kctsim.state import TICK_STATE_FIELDS, Books, Links, TickState
from kctsim.streams import random
from kctsim.technology import _refresh_kernel, stages_earned

# How far a call of the kernel went: the last step it did.
STRUCK = -1  # turbulence struck a stage: its landscape changes in Python, then again
FOUNDING = 5  # start-ups are founded (Mesa agents): step 6 follows in Python
MOVING = 6  # organisations exit or enter (Mesa agents): then step 7 in Python
MEASURED = 7  # the whole tick


class TechnologyConstants(NamedTuple):
    """Step 0: turbulence and the foreign rival."""

    turbulence: float  # chance a stage's landscape changes this tick
    rival_hazard: float  # chance the foreign rival arrives this tick


class TickConstants(NamedTuple):
    """Every step's constants, each made by its mechanism module."""

    technology: TechnologyConstants
    funding: funding.Constants
    market: market.Constants
    contribution: contribution.Constants
    research: rnd.Constants
    spillover: spillover.Constants
    network: network.Constants
    people: people.Constants
    demography: demography.Constants
    metrics: metrics.Constants


def tick_constants(levers, params, tech) -> TickConstants:
    """The constants of every step, from the levers, parameters and technology."""
    return TickConstants(
        technology=TechnologyConstants(float(tech.spec.turbulence), float(tech.rival_hazard)),
        funding=funding.constants(levers, params),
        market=market.constants(levers, params, tech),
        contribution=contribution.constants(params),
        research=rnd.constants(levers, params, tech),
        spillover=spillover.constants(levers, params, tech),
        network=network.constants(levers, params),
        people=people.constants(levers, params),
        demography=demography.constants(levers, params),
        metrics=metrics.constants(params, tech),
    )


class TickResult(NamedTuple):
    """What a call of :func:`_advance_kernel` did, beyond the arrays it wrote."""

    done: int  # the last step done: STRUCK, FOUNDING, MOVING or MEASURED
    struck: int  # the stage turbulence struck (done == STRUCK), else -1
    pos: int  # the ledger's length
    gov_money: float  # public money spent this tick
    adoptions: int
    private_rnd: float
    hazard: float
    tick_spill: float
    tick_innovation: float
    n_imitation: int
    n_innovation: int
    n_discoveries: int
    passed: bool  # every stage is past its gate with an earned design
    earned_stages: int  # stages past their gate with an earned design
    leaks: int
    n_edges: int
    n_exit: int  # rows in the exit buffer
    n_new: int  # entrants (-1: drawn after the exits, in Python)
    rival_tick: int


@njit(**JIT)
def _rival_arrives_first(terrain):
    """The foreign rival reached the target before any domestic breakthrough: its design
    becomes the foreign design of every stage that had none (imitable unless the
    blockade refuses it; the government's target; docs/ODD.md, section 7.1)."""
    for s in range(len(terrain.frontier)):
        if terrain.frontier[s] < 0:
            terrain.frontier[s] = terrain.rival_design[s]


def advance(model) -> int:
    """Steps 0-5 of the tick, and 6 and 7 as far as no Mesa agent is made or removed;
    returns the last step done (FOUNDING, MOVING or MEASURED).

    Step 0 draws turbulence stage by stage; a stage it strikes stops the call, its
    landscape changes (in Python: :meth:`Technology.strike`) and the call starts again
    from the next stage's draw, so the draws come in the order of the rule."""
    first_stage = 0
    while True:
        result = _call_kernel(model, first_stage)
        if result.done != STRUCK:
            break
        model.tech.strike(result.struck)
        # A redraw earns nothing: what the stage's designs are worth now was not reached
        # by R&D on this landscape (ODD 7.1).
        model.orgs.earned[:, result.struck] = False
        model.refresh_fitness()
        first_stage = result.struck + 1
    model.ledger.n = result.pos
    model.tick_adoptions = result.adoptions
    model.tick_private_rnd = result.private_rnd
    model.hazard = result.hazard
    model.earned_stages = result.earned_stages
    model.tick_spill, model.tick_innovation = result.tick_spill, result.tick_innovation
    model.n_edges = result.n_edges
    model.entrants_due = result.n_new
    model.rival_tick = result.rival_tick
    model.tick_leaks = result.leaks
    model._fitness_current = True
    model.split_first = False
    model.tick_gov_money = result.gov_money
    model.cum_gov_money += result.gov_money
    model.tick_moves_imitation += result.n_imitation
    model.tick_moves_innovation += result.n_innovation
    if result.n_discoveries:  # rows with a new best design: start-ups may follow
        model.discoveries.extend(model.discovery_buffer[: result.n_discoveries].tolist())
    if model.breakthrough_tick < 0 and result.passed:
        model.breakthrough_tick = model.tick
    exits = demography.exit_buffer(model)
    model.exits_due = exits[: result.n_exit] if result.n_exit else demography.NOBODY
    if result.done == MEASURED:
        metrics.finish(model)
    return result.done


def _call_kernel(model, first_stage: int) -> TickResult:
    """Room made in the buffers, the state handed over, and the kernel called."""
    o, ledger, census = model.orgs, model.ledger, model.census()
    if len(model.discovery_buffer) < o.n * model.n_stages:
        model.discovery_buffer = np.empty(2 * o.n * model.n_stages, dtype=np.int64)
    if model.breakthrough_tick < 0:
        model.reach.refresh(model.tech)  # in place: the hazard's jump counts
    ledger.reserve(_most_ledger_rows(model, census))
    network.reserve(model, len(census.orgs))  # at most one new link per seeker
    return _advance_kernel(tick_state(model), model.now(first_stage))


def tick_state(model) -> TickState:
    """The model's bundles as one :class:`~kctsim.state.TickState`: the one made before,
    with the bundles replaced since (census and fitness after entries and exits) set
    into it, or a new one when others were replaced."""
    bundles = (
        model.constants,
        model.streams,
        model.orgs.bundle(),
        model.census(),
        model.fitness,
        model.terrain(),
        model.allocation,
        model.users.bundle(),
        model.scientists.bundle(),
        model.kept(Links, model.edge_a, model.edge_b, model.edge_trust),
        model.knowledge_state(),
        model.kept(Books, model.ledger.ints, model.ledger.amounts),
        model.reach.counts,
        model.reach.miss,
        demography.exit_buffer(model),
        model.measurements,
    )
    kept = model.tick_state
    if kept is not None:
        made, state = kept
        if all(map(is_, made, bundles)):
            return state
        changed = [k for k, (a, b) in enumerate(zip(made, bundles, strict=True)) if a is not b]
        if all(k in _SETTERS for k in changed):
            for k in changed:
                _SETTERS[k](state, bundles[k])
            model.tick_state = (bundles, state)
            return state
    model.tick_state = (bundles, TickState(*bundles))
    return model.tick_state[1]


@njit(**JIT)
def _set_census(state, census):
    state.census = census


@njit(**JIT)
def _set_fitness(state, fitness):
    state.fitness = fitness


@njit(**JIT)
def _set_knowledge(state, knowledge):
    state.knowledge = knowledge


# The bundles replaced on every entry or exit, set into the state rather than making a
# new one (by their place in TICK_STATE_FIELDS).
_SETTERS = {
    TICK_STATE_FIELDS.index("census"): _set_census,
    TICK_STATE_FIELDS.index("fitness"): _set_fitness,
    TICK_STATE_FIELDS.index("knowledge"): _set_knowledge,
}


def _most_ledger_rows(model, census) -> int:
    """The most transfers one tick can book."""
    S = model.n_stages
    return (
        1
        + len(census.orgs) * (2 * S + 1)  # funding, market, R&D spending
        + 2 * len(census.alive_rows)
        + 3 * len(census.sellers)
        + model.users.n
        + model.orgs.n * S
        + len(census.orgs)  # step 6: a payment per organisation
        + 2  # and at most two treasury top-ups
    )


@njit(**JIT)
def _advance_kernel(state, now):
    """Steps 0-5 in the order of the tick (each call is one mechanism's kernel), then
    6 and 7 while no Mesa agent has to be made or removed."""
    c, streams, orgs, census, fitness = (
        state.constants,
        state.streams,
        state.orgs,
        state.census,
        state.fitness,
    )
    terrain, plan, users, scientists = state.terrain, state.plan, state.users, state.scientists
    links, knowledge, books, measurements = (
        state.links,
        state.knowledge,
        state.books,
        state.measurements,
    )
    reach, miss, exits = state.reach, state.miss, state.exits
    tick, n, S = now.tick, now.n, len(terrain.gates)
    rng = streams.main
    pos, n_edges, rival_tick = now.pos, now.n_edges, now.rival_tick
    # 0. Turbulence, stage by stage from ``first_stage``: a stage it strikes returns at
    # once (the landscape changes in Python); then the foreign rival's draw.
    for s in range(now.first_stage, S):
        if random(streams.technology) < c.technology.turbulence:
            return TickResult(
                STRUCK, s, pos, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, False, 0, 0, n_edges, 0,
                0, rival_tick,
            )  # fmt: skip
    if rival_tick < 0 and random(rng) < c.technology.rival_hazard:
        rival_tick = tick
        if now.breakthrough_tick < 0:
            _rival_arrives_first(terrain)
    rival_first = rival_tick >= 0 and not (0 <= now.breakthrough_tick < rival_tick)
    # 1. The government sets its direction (every PLAN_PERIOD ticks) and allocates its
    # budget.
    funding.direct(rng, c.funding, tick, terrain, plan.direction)
    pos, paid, own_research = funding._allocate_kernel(
        rng, c.funding, now, orgs, census, fitness, plan, books, pos
    )
    # 2. Users adopt and pay; revenue and premium.
    pos, adoptions = market._trade_kernel(
        rng, c.market, now, orgs, census, fitness, users, books, pos, rival_first
    )
    # 3a. Contributions r move toward better-paid peers (from the second tick on).
    cc = c.contribution
    contribution._learn_kernel(
        rng, tick == 1, n, orgs.capital, orgs.capital_prev, orgs.capital0, orgs.payoff, orgs.r,
        census.learners_by_type, census.peer_start, census.peer_count, cc.temperature,
        cc.learning_rate, cc.mutation,
    )  # fmt: skip
    # 3b. R&D: success, imitation or search; the hazard.
    (
        pos, private_rnd, hazard, tick_spill, tick_innovation, n_imitation, n_innovation,
        n_discoveries,
    ) = rnd._research_kernel(
        rng, streams.hazard, c.research, now, orgs, fitness, terrain, plan.direction, knowledge,
        reach, miss, books, pos, now.spill, now.innovation,
    )  # fmt: skip
    # The fitness arrays are refreshed in place (their values before R&D are not needed
    # again this tick).
    _refresh_kernel(
        terrain.table, orgs.design, orgs.alive, n, terrain.gates, fitness.raw, fitness.effective,
        fitness.progress,
    )  # fmt: skip
    earned = stages_earned(fitness.raw, orgs.alive, orgs.earned, terrain.gates)
    passed = earned == S
    # 4. Knowledge spills to partners and the public.
    leaks = spillover._spread_kernel(rng, c.spillover, n, n_edges, orgs, terrain, links, knowledge)
    # 5. Trust and links change; scientists move (start-ups follow in Python).
    cn = c.network
    n_edges = network._evolve_kernel(
        rng, links.a, links.b, links.trust, n_edges, orgs.succeeded, cn.trust_gain, cn.trust_kept,
        cn.link_drop, census.orgs, cn.link_rate, cn.social_trust,
    )  # fmt: skip
    founding = n_discoveries > 0 and now.n_scientists > 0
    people._move_kernel(
        rng, scientists.employer, now.n_scientists, census.orgs, c.people.mobility,
        fitness.effective, scientists.look, scientists.expertise, orgs.expertise, n, not founding,
    )  # fmt: skip
    gov_money = paid + own_research
    if founding:  # start-ups are Mesa agents: step 6 follows them, in Python
        return TickResult(
            FOUNDING, -1, pos, gov_money, adoptions, private_rnd, hazard, tick_spill,
            tick_innovation, n_imitation, n_innovation, n_discoveries, passed, earned, leaks,
            n_edges, 0, 0, rival_tick,
        )  # fmt: skip
    # 6. Exit unless rescued; entry.
    pos, n_exit, n_new = demography._exit_and_enter_kernel(
        rng, census.orgs, orgs.capital, orgs.capital0, orgs.soft_budget, orgs.type, orgs.uid,
        now.government, c.demography, plan.held, books.ints, books.amounts, pos, tick, exits,
    )  # fmt: skip
    if n_exit or n_new:  # Mesa agents leave or arrive, in Python; then the metrics
        return TickResult(
            MOVING, -1, pos, gov_money, adoptions, private_rnd, hazard, tick_spill,
            tick_innovation, n_imitation, n_innovation, n_discoveries, passed, earned, leaks,
            n_edges, n_exit, n_new, rival_tick,
        )  # fmt: skip
    # 7. Metrics: nobody was founded, exited or entered, so the census and the fitness
    # arrays are current.
    breakthrough_tick = now.breakthrough_tick
    if breakthrough_tick < 0 and passed:
        breakthrough_tick = tick
    tally = metrics.Tally(
        breakthrough_tick, rival_tick, n_edges, hazard, tick_spill, tick_innovation, gov_money,
        private_rnd, now.moves_imitation + n_imitation, now.moves_innovation + n_innovation, 0,
        0, 0, earned,
    )  # fmt: skip
    metrics._measure_kernel(
        now, tally, c.metrics, orgs, census, fitness, terrain, plan, users, links, knowledge,
        measurements,
    )  # fmt: skip
    return TickResult(
        MEASURED, -1, pos, gov_money, adoptions, private_rnd, hazard, tick_spill, tick_innovation,
        n_imitation, n_innovation, n_discoveries, passed, earned, leaks, n_edges, 0, 0,
        rival_tick,
    )  # fmt: skip
