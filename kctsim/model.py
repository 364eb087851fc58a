"""KCTModel: the Mesa model of key-core-technology breakthrough (docs/ODD.md).

One tick is a quarter. The order of a tick (ODD section 3, process overview) is
written in :meth:`KCTModel.step`. The state the rules read and write is made here, as
the named bundles of :mod:`kctsim.state`; steps 0-5 run as one compiled call
(:mod:`kctsim.compiled_tick`, which calls each mechanism's kernel in turn and goes on
with 6 and 7 when no Mesa agent is made or removed).
"""

from __future__ import annotations

from functools import cache
from operator import is_
from typing import Any

import networkx as nx
import numpy as np
from mesa import Model
from numba import njit

from kctsim import compiled_tick, metrics
from kctsim.agents import ORGANISATION_CLASSES, Organisation, Scientist, User
from kctsim.collector import MetricsCollector
from kctsim.compiled_tick import FOUNDING, MEASURED, TickConstants, tick_constants
from kctsim.config import (
    AGENT_TYPES,
    BOOLEAN_PARAMETERS,
    GOVERNMENT,
    LEVER_NAMES,
    PARAMETER_RANGES,
    POPULATION_RANGES,
    ConfigError,
    Levers,
    Parameters,
    TechnologyType,
    default_parameters,
    load_regime,
    load_technology,
    suggest,
    technology_names,
)
from kctsim.kernels import JIT
from kctsim.ledger import Ledger
from kctsim.mechanisms import (
    demography,
    funding,
    market,
    network,
    people,
    spillover,
)
from kctsim.mechanisms.rnd import Reach
from kctsim.metrics import measure
from kctsim.population import Table, census_of, count_into
from kctsim.state import (
    ORGANISATION_COLUMNS,
    Census,
    Fitness,
    Knowledge,
    Now,
    Organisations,
    Scientists,
    Streams,
    Terrain,
    TickState,
    Users,
    measurements,
)
from kctsim.streams import as_numpy, new_stream, uniform
from kctsim.technology import Technology, _refresh_kernel, all_stages_passed, draw_designs

POPULATION_KEYS = {
    "leader_firm": "n_leader_firms",
    "sme": "n_smes",
    "state_org": "n_state_orgs",
    "university": "n_universities",
}


class KCTModel(Model):
    """Agents searching for a key core technology under a governance regime.

    Args:
        technology: a technology type name (``key_generic``, ``cutting_edge``,
            ``major_strategic``) or a :class:`TechnologyType`.
        regime: a regime preset name (``spiral``, ``jungle``, ``main_layout``,
            ``dislocated``, ``path_dependent``, ``misallocated``) or :class:`Levers`.
        horizon: ticks (quarters) after which ``running`` turns False.
        n_leader_firms: leader firms at the start.
        n_smes: SMEs at the start.
        n_state_orgs: state-managed organisations at the start.
        n_universities: universities and research institutes.
        n_scientists: scientists.
        n_users: users.
        parameters: a full :class:`Parameters` to start from instead of the defaults.
        rng: seed (int, SeedSequence or Generator) for every random draw of the run.
        scenario: accepted so that Mesa's ``SolaraViz`` can rebuild the model on
            Reset (it passes a ``mesa.experimental.scenarios.Scenario``); kctsim
            takes its parameters as plain keywords, so only the scenario's ``rng``
            is used, and only when ``rng`` is not given.
        **overrides: any lever (e.g. ``ip_protection=0.9``) or parameter
            (e.g. ``cost_scale=20``) by name, overriding the preset and defaults.
    """

    def __init__(
        self,
        technology: str | TechnologyType = "key_generic",
        regime: str | Levers = "spiral",
        horizon: int | None = None,
        n_leader_firms: int | None = None,
        n_smes: int | None = None,
        n_state_orgs: int | None = None,
        n_universities: int | None = None,
        n_scientists: int | None = None,
        n_users: int | None = None,
        parameters: Parameters | None = None,
        rng: Any = None,
        scenario: Any = None,
        **overrides: Any,
    ) -> None:
        if rng is None and scenario is not None:
            rng = getattr(scenario, "rng", None)
        seed_seq = _seed_sequence(rng)
        super().__init__(rng=np.random.default_rng(seed_seq))
        self.seed_entropy = seed_seq.entropy
        self.seed_spawn_key = tuple(seed_seq.spawn_key)
        tech_seq, hazard_seq = seed_seq.spawn(2)
        # kctsim's own draws come from these streams (PCG64 state the kernels advance);
        # the main one goes on from Mesa's Generator, which is then moved far ahead so
        # that a user's draws from model.rng do not repeat the model's.
        self.streams = Streams(new_stream(self.rng), new_stream(tech_seq), new_stream(hazard_seq))
        self.rng = np.random.Generator(self.rng.bit_generator.jumped())

        self.tech_spec = (
            technology
            if isinstance(technology, TechnologyType)
            else _shipped_technology(technology)
        )
        levers = regime if isinstance(regime, Levers) else _shipped_regime(regime)
        self.regime_name = regime if isinstance(regime, str) else "custom"
        known = (*LEVER_NAMES, *PARAMETER_RANGES, *BOOLEAN_PARAMETERS, *POPULATION_RANGES)
        for key in overrides:
            if key not in known:
                raise ConfigError(
                    f"KCTModel: unknown keyword {key!r}{suggest(key, known)}; allowed: "
                    "technology, regime, horizon, the population sizes, parameters, rng, "
                    "and any lever or parameter by name (see kctsim/data/defaults.toml)"
                )
        lever_changes = {k: v for k, v in overrides.items() if k in LEVER_NAMES}
        if lever_changes:
            levers = levers.replace("levers", **lever_changes)
            self.regime_name = f"{self.regime_name}*"
        self.levers = levers
        params = parameters or _default_parameters()
        param_changes = {k: v for k, v in overrides.items() if k not in LEVER_NAMES}
        given = {
            "horizon": horizon,
            "n_leader_firms": n_leader_firms,
            "n_smes": n_smes,
            "n_state_orgs": n_state_orgs,
            "n_universities": n_universities,
            "n_scientists": n_scientists,
            "n_users": n_users,
        }
        param_changes |= {k: v for k, v in given.items() if v is not None}
        self.params = params.replace("parameters", **param_changes) if param_changes else params
        n_stages = len(self.tech_spec.stages)
        if n_stages > 1 and levers.stage_weights and len(levers.stage_weights) != n_stages:
            raise ConfigError(
                f"levers.stage_weights: {len(levers.stage_weights)} weights for a chain of "
                f"{n_stages} stages; give one weight per stage"
            )

        self.tech = Technology(self.tech_spec, self.streams.technology)
        self.horizon = int(self.params.horizon)
        self.n_stages = n_stages
        self._build_population()
        # Room for about a whole run's transfers: growing by copying costs ms mid-run.
        self.ledger = Ledger(self.horizon * (8 * self.orgs.n + self.users.n) + 1024)
        self.government = self.org_agents[self.government_row]

        self.allocation = funding.allocation(
            self.levers, self.horizon, n_stages, self.orgs.design[self.government_row]
        )
        self.split_first = True  # the stage split is computed at the first allocation
        self.tick_gov_money = self.cum_gov_money = 0.0
        self.tick_adoptions = 0
        # Knowledge: the public pool (a ring of POOL_SIZE designs per stage), what each
        # row sees (full-capacity buffers: rows past the last update see "nothing",
        # design 0 from row -1), who gained from whose designs; the links.
        S = n_stages
        self.pool_design = np.zeros((spillover.POOL_SIZE, S), dtype=np.int64)
        self.pool_row = np.full((spillover.POOL_SIZE, S), -1, dtype=np.int64)
        self.pool_next = np.zeros(S, dtype=np.int64)
        self.visible_design = np.zeros((0, S), dtype=np.int64)
        self.visible_row = np.full((0, S), -1, dtype=np.int64)
        self.public_design = np.zeros(S, dtype=np.int64)
        self.public_row = np.full(S, -1, dtype=np.int64)
        self.spill_matrix = np.zeros((len(AGENT_TYPES) + 1, len(AGENT_TYPES)))  # + foreign
        self.edge_a = np.zeros(0, dtype=np.int64)
        self.edge_b = np.zeros(0, dtype=np.int64)
        self.edge_trust = np.zeros(0)
        self.n_edges = self.tick_leaks = 0
        market.setup(self)
        spillover.join_consortium(self, np.arange(self.orgs.n))  # before links: hubs link members
        network.setup(self)
        spillover.setup(self)
        self.reach = Reach(self.tech, int(self.params.jump_bits))
        self.discovery_buffer = np.empty(0, dtype=np.int64)
        self.exit_rows = np.empty(0, dtype=np.int64)
        self._constants: tuple[Levers, Parameters, TickConstants] | None = None
        self._bundles: dict[type, Any] = {}  # see kept()
        self.tick_state = None  # the compiled tick's state (compiled_tick._call_kernel)
        self.tick = 0
        self.rival_tick = self.breakthrough_tick = -1
        self.refresh_fitness()
        self.measurements = measurements(
            n_stages, len(metrics.FLOAT_METRICS), len(metrics.INT_METRICS)
        )
        self.hazard = 0.0
        self.earned_stages = 0  # stages passed with an earned design (none at the start)
        self.changed = np.zeros(self.orgs.n, dtype=bool)
        self.discoveries: list[int] = []
        self.reset_counters()
        self.exits_due, self.entrants_due = demography.NOBODY, 0

        self.datacollector = MetricsCollector(
            metrics.model_reporters(self.n_stages),
            metrics.metric_slots(self.n_stages),
            metrics.current_row,
        )
        measure(self)  # tick 0: the initial state
        self.datacollector.collect(self)
        self.running = True

    # ------------------------------------------------------------------ setup

    def _build_population(self) -> None:
        p = self.params
        S = self.n_stages
        counts = {t: p.population[POPULATION_KEYS[t]] for t in POPULATION_KEYS}
        counts["government"] = 1
        n_orgs = sum(counts.values())
        capacity = n_orgs + int(4 * (self.levers.entry_rate + 1) * self.horizon) + 8
        columns = {
            name: (dtype, (S,) if per_stage else ())
            for name, (dtype, per_stage) in ORGANISATION_COLUMNS.items()
        }
        self.orgs = Table(columns, capacity, Organisations)
        self._census_block = np.empty((8, capacity), dtype=np.int64)
        self._fitness_buffers = (np.empty((capacity, S)), np.empty((capacity, S)))
        self.fitness = Fitness(np.empty((0, S)), np.empty((0, S)), np.empty(S))
        self.org_agents: list[Organisation] = []
        self._preferences: dict[str, np.ndarray] = {}
        self._templates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._census: Census | None = None
        for type_name in AGENT_TYPES:
            self.add_organisations(type_name, counts[type_name])
        self.government_row = int(np.flatnonzero(self.orgs.view("type") == 4)[0])

        n_sci = p.population["n_scientists"]
        self.scientists = Table(
            {"employer": (np.int64, ()), "expertise": (float, ()), "look": (bool, ())},
            n_sci,
            Scientists,
        )
        rows = self.scientists.add(n_sci)
        hosts = people.employable_rows(self)
        with as_numpy(self.streams.main) as rng:
            self.scientists.expertise[rows] = rng.uniform(0.5, 1.5, n_sci)
            self.scientists.employer[rows] = (
                rng.choice(hosts, n_sci) if len(hosts) else self.government_row
            )
        self.scientist_agents = [Scientist(self, int(r)) for r in rows]
        people.refresh_expertise(self)

        n_users = p.population["n_users"]
        self.users = Table(
            {
                "supplier": (np.int64, ()),
                "adopted": (bool, ()),
                "participating": (bool, ()),
                "uid": (np.int64, ()),
            },
            n_users,
            Users,
        )
        rows = self.users.add(n_users)
        self.user_agents = [User(self, int(r)) for r in rows]
        self.users.uid[rows] = [a.unique_id for a in self.user_agents]

    def add_organisations(
        self, type_name: str, n: int, designs: np.ndarray | None = None
    ) -> np.ndarray:
        """Create ``n`` organisations of a type (Mesa agents plus their rows), starting
        from ``designs`` (one row per organisation) or from designs drawn from the
        technology's start pool."""
        if n == 0:
            return np.empty(0, dtype=np.int64)
        o = self.orgs
        start = o.n
        rows = o.add(n)
        cls = ORGANISATION_CLASSES[type_name]
        agents = [cls(self, row) for row in range(start, start + n)]
        self.org_agents.extend(agents)
        first_uid = agents[0].unique_id
        if agents[-1].unique_id != first_uid + n - 1:  # the kernel numbers them in turn
            raise RuntimeError("Mesa did not number the new agents consecutively")
        if designs is None:
            pool, offsets = self.tech.start_pool(
                self.params.start_quantile, self.params.start_distance
            )
            designs = _NO_DESIGNS
        else:
            pool, offsets = _NO_POOL, _NO_OFFSETS
        values, flags, preference = self._type_template(type_name)
        _start_rows(
            self.streams, o.bundle(), start, n, AGENT_TYPES.index(type_name), first_uid, designs,
            pool, offsets, self.params.agent_types[type_name].contribution, values, flags,
            preference, self.steps,
        )  # fmt: skip
        self.population_changed()
        return rows

    def _type_template(self, type_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A type's starting values, flags and stage preference, in :func:`_start_rows`'s
        order (worked out once per type: start-ups and entries need them all run long)."""
        cached = self._templates.get(type_name)
        if cached is None:
            tp = self.params.agent_types[type_name]
            values = np.array(
                [
                    tp.capital,
                    tp.exploration,
                    tp.absorptive_capacity,
                    tp.rnd_efficiency,
                    tp.premium,
                    tp.base_revenue,
                    tp.operating_cost,
                ],
                dtype=float,
            )
            flags = np.array([tp.learns_contribution, tp.publishes, tp.sells, tp.soft_budget])
            cached = self._templates[type_name] = (values, flags, self._stage_preference(type_name))
        return cached

    def _stage_preference(self, type_name: str) -> np.ndarray:
        """A type's R&D split over the stages (equal where none is given), normalised;
        worked out once per type (every start-up needs it)."""
        cached = self._preferences.get(type_name)
        if cached is None:
            pref = np.asarray(
                self.params.agent_types[type_name].stage_preference[: self.n_stages], dtype=float
            )
            if self.n_stages == 1 or len(pref) < self.n_stages or pref.sum() <= 0:
                pref = np.ones(self.n_stages)
            cached = self._preferences[type_name] = pref / pref.sum()
        return cached

    def population_changed(self) -> None:
        """Organisations entered or exited: row sets and fitness arrays are stale."""
        self._census = None
        self._fitness_current = False

    def census(self) -> Census:
        """Rows of the alive organisations by role (cached until the population changes)."""
        if self._census is None:
            self.catch_up()
        return self._census

    def catch_up(self) -> None:
        """After entries, exits or turbulence: the census made again and every row's raw
        and effective fitness refreshed, as far as they are stale, in one compiled call
        into buffers kept for the purpose."""
        if self._census is not None and self._fitness_current:
            return
        o, tech = self.orgs, self.tech
        n, capacity = o.n, len(o.alive)
        if self._census_block.shape[1] < capacity:  # the table grew: so do the buffers
            self._census_block = np.empty((8, capacity), dtype=np.int64)
            self._fitness_buffers = (
                np.empty((capacity, self.n_stages)),
                np.empty((capacity, self.n_stages)),
            )
            self._census, self._fitness_current = None, False
        raw, eff = self._fitness_buffers
        counts = _catch_up_kernel(
            self._census is None, o.alive, o.type, o.learns, o.sells, n, GOVERNMENT,
            self._census_block, not self._fitness_current, tech.fitness_table(), o.design,
            tech.gates, raw, eff, self.fitness.progress,
        )  # fmt: skip
        if self._census is None:
            self._census = census_of(self._census_block, counts)
        if not self._fitness_current:
            # Views again each time: a pickled or copied model holds copies of the old ones.
            self.fitness = Fitness(raw[:n], eff[:n], self.fitness.progress)
            self._fitness_current = True

    # ------------------------------------------------------------------- tick

    def step(self) -> None:
        """One quarter, in the order of the ODD's process overview.

        0. turbulence and the foreign rival; 1. the government allocates its budget;
        2. users adopt and pay; 3. contributions move toward better-paid peers, then R&D
        and the hazard; 4. knowledge spills; 5. trust and links change, scientists move
        and found start-ups; 6. exit unless rescued, and entry; 7. the metrics.
        Steps 0-5 run as one compiled call (:func:`kctsim.compiled_tick.advance`), which
        goes on with 6 and 7 as long as no Mesa agent is made or removed.
        """
        self.tick = self.steps  # Mesa has already advanced `steps` for this call
        done = compiled_tick.advance(self)  # steps 0-5, and 6-7 on a quiet tick
        if done == FOUNDING:
            people.found_startups(self)  # 5. start-ups after discoveries
            demography.decide(self)  # 6. exit unless rescued; entry
        if done != MEASURED:
            demography.exit_and_enter(self)  # 6. the Mesa agents leave and arrive
            measure(self)  # 7. metrics
        self.datacollector.collect(self)
        self.running = self.steps < self.horizon

    def refresh_fitness(self) -> None:
        """Recompute every organisation's raw and effective fitness."""
        self._fitness_current = False
        self.catch_up()

    def all_stages_passed(self) -> bool:
        """Breakthrough: on every stage some alive organisation holds a design past the gate
        that it reached by R&D since the stage's landscape last changed."""
        o = self.orgs
        return all_stages_passed(self.fitness.raw, o.alive, o.earned, self.tech.gates)

    def reset_counters(self) -> None:
        """The tick's counters back to zero (after each measurement)."""
        self.tick_spill = self.tick_innovation = self.tick_private_rnd = 0.0
        self.tick_moves_imitation = self.tick_moves_innovation = 0
        self.tick_exits = self.tick_entries = self.tick_startups = 0

    # ------------------------------------------------------------- the state as bundles

    @property
    def raw_fitness(self) -> np.ndarray:
        """Every alive row's fitness per stage (rows x stages)."""
        return self.fitness.raw

    @property
    def effective_fitness(self) -> np.ndarray:
        """Fitness as it counts: capped by the progress of the stage before."""
        return self.fitness.effective

    @property
    def stage_progress(self) -> np.ndarray:
        """How far each stage has come toward its gate (0 to 1)."""
        return self.fitness.progress

    @property
    def constants(self) -> TickConstants:
        """Every step's constants (made again when the levers or parameters change)."""
        kept = self._constants
        if kept is None or kept[0] is not self.levers or kept[1] is not self.params:
            kept = self._constants = (
                self.levers,
                self.params,
                tick_constants(self.levers, self.params, self.tech),
            )
        return kept[2]

    def now(self, first_stage: int = 0) -> Now:
        """Where the run is, for a call of the tick's kernel."""
        return Now(
            self.tick, self.horizon, self.orgs.n, self.government_row, self.users.n,
            self.scientists.n, self.n_edges, first_stage, self.breakthrough_tick < 0,
            self.split_first, self.breakthrough_tick, self.rival_tick, self.ledger.n,
            self.tick_spill, self.tick_innovation, self.tick_moves_imitation,
            self.tick_moves_innovation,
        )  # fmt: skip

    def tally(self) -> metrics.Tally:
        """What happened this tick, for the metrics."""
        return metrics.Tally(
            self.breakthrough_tick, self.rival_tick, self.n_edges, self.hazard, self.tick_spill,
            self.tick_innovation, self.tick_gov_money, self.tick_private_rnd,
            self.tick_moves_imitation, self.tick_moves_innovation, self.tick_exits,
            self.tick_entries, self.tick_startups, self.earned_stages,
        )  # fmt: skip

    def terrain(self) -> Terrain:
        """The technology's tables as the rules see them (after turbulence, the new ones)."""
        t = self.tech
        return self.kept(Terrain, t.fitness_table(), t.n_bits, t.gates, t.foreign, t.rival_design)

    def knowledge_state(self) -> Knowledge:
        """Who sees which designs and who gained from whose, as one bundle."""
        visible, visible_row = spillover.visible_buffers(self)
        return self.kept(
            Knowledge, self.pool_design, self.pool_row, self.pool_next, visible, visible_row,
            self.public_design, self.public_row, self.spill_matrix, self.changed,
            self.discovery_buffer,
        )  # fmt: skip

    def kept(self, bundle: type, *arrays: np.ndarray) -> Any:
        """The bundle of these arrays: the one made before while they are the same objects
        (the tick's kernel gets its state again only when a bundle is replaced)."""
        made = self._bundles.get(bundle)
        if made is None or not all(map(is_, made, arrays)):
            made = self._bundles[bundle] = bundle(*arrays)
        return made

    def compiled_state(self) -> TickState:
        """Every bundle as one compiled state (:func:`kctsim.compiled_tick.tick_state`)."""
        return compiled_tick.tick_state(self)

    def __getstate__(self) -> dict[str, Any]:
        # The compiled state refers to the arrays by address: a copy makes its own.
        return {**self.__dict__, "tick_state": None, "_bundles": {}}

    @property
    def latest(self) -> dict[str, float | int]:
        """The latest measurement of every metric (ODD, outputs), by name."""
        return {name: metrics.value(self, name) for name in metrics.model_names(self.n_stages)}

    @property
    def p_breakthrough(self) -> float:
        """P(t): the probability the technology has been broken through by now."""
        return metrics.value(self, "p_breakthrough")

    def collaboration_graph(self) -> nx.Graph:
        """The current collaboration network as a networkx Graph keyed by unique_id.

        Nodes carry ``type``; edges carry ``trust``. Built on demand from the
        model's edge arrays (the hot path never touches networkx).
        """
        return network.to_networkx(self)


@njit(**JIT)
def _start_rows(
    streams, orgs, start, n, type_code, first_uid, designs, pool, offsets, contribution, values,
    flags, preference, tick,
):  # fmt: skip
    """The new rows start..start+n-1 of the organisation table: alive, of the type, with
    its starting values and designs (one call: some twenty column writes and the design
    draws from Python cost more than the rest of an entry)."""
    design = orgs.design
    if len(designs):
        for k in range(n):
            design[start + k] = designs[k]
    else:
        draw_designs(streams.technology, pool, offsets, n, design, start)
    alive, type_, uid, r, r_start = orgs.alive, orgs.type, orgs.uid, orgs.r, orgs.r0
    capital, capital0, capital_prev = orgs.capital, orgs.capital0, orgs.capital_prev
    exploration, absorption, efficiency = orgs.exploration, orgs.absorption, orgs.efficiency
    premium, base_revenue, operating_cost = orgs.premium, orgs.base_revenue, orgs.operating_cost
    learns, publishes, sells, soft_budget = (
        orgs.learns,
        orgs.publishes,
        orgs.sells,
        orgs.soft_budget,
    )
    stage_pref, born, died = orgs.stage_pref, orgs.born, orgs.died
    for k in range(n):
        i = start + k
        alive[i] = True
        type_[i] = type_code
        uid[i] = first_uid + k
        # Learners' contributions start spread around the type's mean, so that
        # payoff-driven learning has variation to act on (numpy's uniform(0.5, 1.5, n)).
        r[i] = r_start[i] = (
            contribution * uniform(streams.main, 0.5, 1.5) if flags[0] else contribution
        )
        capital[i] = capital0[i] = capital_prev[i] = values[0]
        exploration[i] = values[1]
        absorption[i] = values[2]
        efficiency[i] = values[3]
        premium[i] = values[4]
        base_revenue[i] = values[5]
        operating_cost[i] = values[6]
        learns[i], publishes[i], sells[i], soft_budget[i] = flags[0], flags[1], flags[2], flags[3]
        stage_pref[i] = preference
        born[i] = tick
        died[i] = -1


@njit(**JIT)
def _catch_up_kernel(
    census, alive, types, learns, sells, n, government_type, block, fitness, table, design,
    gates, raw, eff, progress,
):  # fmt: skip
    """:meth:`KCTModel.catch_up`: the census into ``block``, the fitness into ``raw``,
    ``eff`` and ``progress``, each when asked; returns the census counts."""
    counts = (n, 0, 0, 0, 0)
    if census:
        counts = count_into(alive, types, learns, sells, n, government_type, block)
    if fitness:
        _refresh_kernel(table, design, alive, n, gates, raw[:n], eff[:n], progress)
    return counts


# Stand-ins for the designs or the start pool that a call to _start_rows does not use.
_NO_DESIGNS = np.empty((0, 0), dtype=np.int64)
_NO_POOL = np.empty(0, dtype=np.int64)
_NO_OFFSETS = np.zeros(1, dtype=np.int64)


_kernels_ready = False


def compile_kernels() -> None:
    """Compile the mechanisms' numba kernels in this process, or load them from numba's
    cache: a few ticks of every technology type (kernels that only events such as an
    exit need load when first used).

    Called before worker processes start (so they load the cache rather than each
    compile, about 45 s on a fresh machine) and by the test suite and benchmarks;
    does nothing the second time in a process.
    """
    global _kernels_ready
    if _kernels_ready:
        return
    for tech in technology_names():  # the default regime reaches every per-tick kernel
        model = KCTModel(technology=tech, horizon=6, rng=0)
        while model.running:
            model.step()
    _kernels_ready = True


# The shipped presets and defaults are read and validated once per process (a sweep
# builds thousands of models). Levers and technology types are frozen and can be shared;
# each model gets its own copy of the parameters' dicts.
_shipped_technology = cache(load_technology)
_shipped_regime = cache(load_regime)
_shipped_defaults = cache(default_parameters)


def _default_parameters() -> Parameters:
    shipped = _shipped_defaults()
    return Parameters(dict(shipped.population), dict(shipped.values), dict(shipped.agent_types))


def _seed_sequence(rng: Any) -> np.random.SeedSequence:
    """A SeedSequence from whatever seed a user or batch_run passes."""
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, str):
        try:
            rng = int(rng)
        except ValueError as exc:
            raise ConfigError(f"rng: seed must be an integer, got {rng!r}") from exc
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0:
        raise ConfigError(f"rng: seed must be a non-negative integer, got {rng!r}")
    return np.random.SeedSequence(int(rng))
