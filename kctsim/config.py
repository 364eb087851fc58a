"""Validated, frozen configuration: levers, technology types, parameters.

Everything a run depends on is read from the data files shipped in
``kctsim/data`` (presets and defaults) and checked here, once, before a model
is built. Mechanism code only ever sees the frozen objects defined below; it
never sees a regime's or a technology type's name (docs/ODD.md, section 4).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from importlib import resources
from typing import Any

AGENT_TYPES = ("leader_firm", "sme", "state_org", "university", "government")
"""Organisation types that search; the row order of the model's arrays."""
GOVERNMENT = AGENT_TYPES.index("government")
"""Type code of the government (its row, its account type in the ledger)."""


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def suggest(key: str, allowed: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' for the closest allowed name, or ''."""
    close = difflib.get_close_matches(key, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(key: str, allowed, where: str) -> ConfigError:
    return ConfigError(
        f"{where}: unknown key {key!r}{suggest(key, list(allowed))}; "
        f"allowed: {', '.join(sorted(allowed))}"
    )


def clip(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error never echoes a whole file."""
    if isinstance(value, int) and value.bit_length() > 128:  # repr() refuses > 4300 digits
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_number(
    value: Any, where: str, lo: float, hi: float, integer: bool = False
) -> int | float:
    """``value`` as a number in ``[lo, hi]`` (an ``int`` if ``integer``), or a ConfigError
    naming ``where``: the one check of every number a user gives (levers, parameters,
    population sizes, technology fields, design factors)."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected {kind}, got {clip(value)}")
    if isinstance(value, int) and abs(value) > 2**63:  # float() of a huge int overflows
        raise ConfigError(f"{where}: {clip(value)} is outside the allowed range [{lo}, {hi}]")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: expected {kind} in [{lo}, {hi}], got {clip(value)}")
    if integer and not float(value).is_integer():
        raise ConfigError(f"{where}: expected an integer, got {clip(value)}")
    if not lo <= value <= hi:
        raise ConfigError(f"{where}: {clip(value)} is outside the allowed range [{lo}, {hi}]")
    return int(value) if integer else float(value)


def check_flag(value: Any, where: str) -> bool:
    """``value`` if it is ``True`` or ``False``, or a ConfigError naming ``where`` (a 0 or
    a "false" is refused: a switch written as a number or a string is likely a slip)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {clip(value)}")
    return value


def check_choice(value: Any, where: str, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, or a ConfigError naming them."""
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(
            f"{where}: {clip(value)} is not allowed{suggest(str(value), list(allowed))}; "
            f"allowed: {', '.join(allowed)}"
        )
    return value


# --------------------------------------------------------------------- levers


@dataclass(frozen=True)
class Lever:
    """One row of the lever table (``kctsim/data/levers.toml``)."""

    name: str
    label: str  # how readers see it
    unit: str
    group: str
    kind: str  # "number", "choice" or "weights"
    default: Any  # a regime's value when it does not set the lever (the lever off)
    description: str
    range: tuple[float, float] = (0.0, 0.0)  # of a number
    choices: tuple[str, ...] = ()  # of a choice


LEVER_KINDS = ("number", "choice", "weights")


def _lever_table() -> dict[str, Lever]:
    table = {}
    for name, row in tomllib.loads(
        resources.files("kctsim").joinpath("data", "levers.toml").read_text("utf-8")
    ).items():
        if row["kind"] not in LEVER_KINDS:
            raise ConfigError(f"levers.toml: {name}.kind must be one of {', '.join(LEVER_KINDS)}")
        default = row["default"]
        table[name] = Lever(
            name=name,
            label=row["name"],
            unit=row.get("unit", ""),
            group=row["group"],
            kind=row["kind"],
            default=tuple(default) if isinstance(default, list) else default,
            description=row["description"],
            range=tuple(row.get("range", (0.0, 0.0))),
            choices=tuple(row.get("choices", ())),
        )
    return table


LEVERS: dict[str, Lever] = _lever_table()
"""The lever table, by name: the one list of levers (config, validation, dashboard, docs)."""
LEVER_NAMES: tuple[str, ...] = tuple(LEVERS)
LEVER_RANGES: dict[str, tuple[float, float]] = {
    name: lever.range for name, lever in LEVERS.items() if lever.kind == "number"
}
"""name -> (lower, upper) of every numeric lever."""
LEVER_GROUPS: dict[str, tuple[str, ...]] = {}
for _lever in LEVERS.values():
    LEVER_GROUPS[_lever.group] = (*LEVER_GROUPS.get(_lever.group, ()), _lever.name)
CORE_SUBJECTS = LEVERS["core_subject"].choices
CONSORTIUM_HUBS = LEVERS["consortium"].choices
_LEVER_TYPES = {"number": float, "choice": str, "weights": tuple[float, ...]}


class _LeverMethods:
    """What every :class:`Levers` can do (its fields come from the lever table)."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "levers") -> Levers:
        """Validate a mapping of lever values; a lever it does not name takes its default."""
        for key in values:
            if key not in LEVERS:
                raise _unknown(key, LEVER_NAMES, where)
        full = {name: values.get(name, lever.default) for name, lever in LEVERS.items()}
        return cls(**{n: check_lever(n, full[n], f"{where}.{n}") for n in LEVER_NAMES})

    def replace(self, where: str = "levers", **changes: Any) -> Levers:
        """A copy with some levers changed, validated."""
        return Levers.from_mapping(asdict(self) | changes, where)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stage_weights"] = list(self.stage_weights)
        return d


Levers = make_dataclass(
    "Levers",
    [(name, _LEVER_TYPES[lever.kind]) for name, lever in LEVERS.items()],
    bases=(_LeverMethods,),
    frozen=True,
    module=__name__,
)
Levers.__doc__ = (
    "One value per governance lever (docs/ODD.md, section 2.5); a regime is one set of them. "
    "The fields are the rows of ``kctsim/data/levers.toml``, in its order."
)


def check_lever(name: str, value: Any, where: str) -> Any:
    """A lever's value checked against its row of the table, or a ConfigError naming
    ``where`` (the value's place, e.g. ``levers.targeted_share``)."""
    lever = LEVERS[name]
    if lever.kind == "choice":
        return check_choice(value, where, lever.choices)
    if lever.kind == "number":
        return check_number(value, where, *lever.range)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected a list of numbers, got {clip(value)}")
    if not value:
        return ()
    ws = [check_number(w, where, 0.0, 1e6) for w in value]
    if sum(ws) <= 0:
        raise ConfigError(f"{where}: weights must not all be zero")
    return tuple(w / sum(ws) for w in ws)


# ----------------------------------------------------------------- technology


@dataclass(frozen=True)
class Stage:
    """One NK landscape of a technology: a whole technology or one chain stage."""

    name: str
    n_bits: int
    k: int
    target_quantile: float
    frontier: bool


@dataclass(frozen=True)
class TechnologyType:
    """A technology type as data (docs/ODD.md, section 2.1).

    Args:
        name: identifier, e.g. ``key_generic``.
        description: one line for reports and the dashboard.
        stages: the chain of landscapes (one for a single technology).
        turbulence: chance per tick that one bit's contribution table is redrawn.
        blockade: chance an attempt to imitate a foreign design is refused.
        rival_hazard: chance per tick a foreign rival reaches the target.
        cost_multiplier: R&D cost relative to the global cost scale.
        externality: how readily the type's designs leak into the public pool, as a
            multiple of the ``spillover`` parameter (the paper's 外部性 of key generic
            technologies).
        rival_market_share: share of the technology premium the foreign rival takes
            when it arrives before the domestic breakthrough (the first-mover rent
            lost; 0 where there is no race).
    """

    name: str
    description: str
    stages: tuple[Stage, ...]
    turbulence: float
    blockade: float
    rival_hazard: float
    cost_multiplier: float
    externality: float
    rival_market_share: float

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> TechnologyType:
        allowed = [f.name for f in fields(cls)]
        for key in data:
            if key not in allowed:
                raise _unknown(key, allowed, where)
        for key in allowed:
            if key not in data:
                raise ConfigError(f"{where}: missing key {key!r}")
        raw_stages = data["stages"]
        if not isinstance(raw_stages, list) or not raw_stages:
            raise ConfigError(f"{where}.stages: expected at least one [[stages]] table")
        stages = []
        for i, st in enumerate(raw_stages):
            w = f"{where}.stages[{i}]"
            stage_keys = [f.name for f in fields(Stage)]
            for key in st:
                if key not in stage_keys:
                    raise _unknown(key, stage_keys, w)
            n = check_number(st.get("n_bits"), f"{w}.n_bits", 2, 16, integer=True)
            stages.append(
                Stage(
                    name=str(st.get("name", f"stage{i}")),
                    n_bits=n,
                    k=check_number(st.get("k"), f"{w}.k", 0, n - 1, integer=True),
                    target_quantile=check_number(
                        st.get("target_quantile"), f"{w}.target_quantile", 0.5, 1.0
                    ),
                    frontier=bool(st.get("frontier", False)),
                )
            )
        return cls(
            name=str(data["name"]),
            description=str(data["description"]),
            stages=tuple(stages),
            turbulence=check_number(data["turbulence"], f"{where}.turbulence", 0.0, 1.0),
            blockade=check_number(data["blockade"], f"{where}.blockade", 0.0, 1.0),
            rival_hazard=check_number(data["rival_hazard"], f"{where}.rival_hazard", 0.0, 1.0),
            cost_multiplier=check_number(
                data["cost_multiplier"], f"{where}.cost_multiplier", 1e-3, 1e3
            ),
            externality=check_number(data["externality"], f"{where}.externality", 0.0, 10.0),
            rival_market_share=check_number(
                data["rival_market_share"], f"{where}.rival_market_share", 0.0, 1.0
            ),
        )

    def replace(self, where: str = "technology", **changes: Any) -> TechnologyType:
        """A copy with ``changes``; ``k_shift`` moves every stage's K by that many
        interactions (clipped to 0..N-1), so one factor makes every type more or
        less rugged whatever its own K."""
        k_shift = changes.pop("k_shift", 0)
        data = asdict(self) | changes
        data["stages"] = [s if isinstance(s, dict) else asdict(s) for s in data["stages"]]
        if k_shift:
            shift = check_number(k_shift, f"{where}.k_shift", -15, 15, integer=True)
            for stage in data["stages"]:
                stage["k"] = min(max(stage["k"] + shift, 0), stage["n_bits"] - 1)
        return TechnologyType.from_mapping(data, where)


# ----------------------------------------------------------------- parameters


@dataclass(frozen=True)
class AgentTypeParams:
    """Per organisation type constants (``[agent_types.*]`` in defaults.toml)."""

    capital: float
    base_revenue: float
    operating_cost: float
    rnd_efficiency: float
    exploration: float
    absorptive_capacity: float
    contribution: float
    premium: float
    learns_contribution: bool
    publishes: bool
    sells: bool
    soft_budget: bool
    stage_preference: tuple[float, ...]


# name -> (lower, upper, integer?) for the global parameters.
PARAMETER_RANGES: dict[str, tuple[float, float, bool]] = {
    "horizon": (1, 100_000, True),
    "cost_scale": (1e-6, 1e6, False),
    "budget": (0.0, 1e9, False),
    "block_grant_share": (0.0, 1.0, False),
    "search_candidates": (1, 16, True),
    "feedback_candidates": (0.0, 16.0, False),
    "max_candidates": (1, 16, True),
    "jump_bits": (1, 16, True),
    "imitation_cost": (1e-3, 10.0, False),
    "passive_absorption": (0.0, 1.0, False),
    "spillover": (0.0, 1.0, False),
    "fermi_temperature": (1e-6, 1e3, False),
    "learning_rate": (0.0, 1.0, False),
    "mutation": (0.0, 1.0, False),
    "trust_gain": (0.0, 1.0, False),
    "trust_decay": (0.0, 1.0, False),
    "link_drop": (0.0, 1.0, False),
    "link_rate": (0.0, 1.0, False),
    "initial_degree": (0.0, 1000.0, False),
    "scientist_mobility": (0.0, 1.0, False),
    "startup_rate": (0.0, 1.0, False),
    "expertise_capability": (0.0, 10.0, False),
    "expertise_absorption": (0.0, 1.0, False),
    "bass_p": (0.0, 1.0, False),
    "bass_q": (0.0, 1.0, False),
    "price": (0.0, 1e6, False),
    "market_size": (0.0, 1e9, False),
    "market_temperature": (1e-6, 10.0, False),
    "usable_fraction": (0.0, 1.0, False),
    "rescue_floor": (0.0, 10.0, False),
    "soft_budget_floor": (0.0, 10.0, False),
    "start_quantile": (0.01, 1.0, False),
    "start_distance": (0.0, 1.0, False),
    "hazard_samples": (1, 10_000, True),
}

BOOLEAN_PARAMETERS: tuple[str, ...] = ("budget_neutral",)
"""Global parameters that are switches (true or false) rather than numbers."""

# One organisation type's R&D efficiency under a flat name (``rnd_efficiency_sme``), so
# that a scenario or a robustness design can vary it like any parameter; it sets the
# type's ``rnd_efficiency`` (defaults.toml ``[agent_types.*]``).
TYPE_EFFICIENCY: dict[str, str] = {f"rnd_efficiency_{t}": t for t in AGENT_TYPES}
PARAMETER_RANGES |= {name: (0.0, 1e3, False) for name in TYPE_EFFICIENCY}

POPULATION_RANGES: dict[str, tuple[int, int]] = {
    "n_leader_firms": (0, 1_000_000),
    "n_smes": (0, 1_000_000),
    "n_state_orgs": (0, 1_000_000),
    "n_universities": (0, 1_000_000),
    "n_scientists": (0, 10_000_000),
    "n_users": (0, 10_000_000),
}


@dataclass(frozen=True)
class Parameters:
    """All non-lever inputs of a run: population sizes, mechanism constants."""

    population: dict[str, int]
    values: dict[str, float]
    agent_types: dict[str, AgentTypeParams] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Each value as a plain attribute too: the mechanisms read some every tick, and
        # __getattr__ (kept for names that clash with a field or method) costs a
        # microsecond a read.
        for name, value in self.values.items():
            if not hasattr(type(self), name) and name not in self.__dataclass_fields__:
                object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(name)

    def replace(self, where: str = "parameters", **changes: Any) -> Parameters:
        population = dict(self.population)
        values = dict(self.values)
        agent_types = dict(self.agent_types)
        for key, value in changes.items():
            if key in TYPE_EFFICIENCY:
                lo, hi, _ = PARAMETER_RANGES[key]
                efficiency = check_number(value, f"{where}.{key}", lo, hi)
                type_name = TYPE_EFFICIENCY[key]
                agent_types[type_name] = dataclasses.replace(
                    agent_types[type_name], rnd_efficiency=efficiency
                )
            elif key in POPULATION_RANGES:
                lo, hi = POPULATION_RANGES[key]
                population[key] = check_number(value, f"{where}.{key}", lo, hi, integer=True)
            elif key in PARAMETER_RANGES:
                lo, hi, integer = PARAMETER_RANGES[key]
                values[key] = check_number(value, f"{where}.{key}", lo, hi, integer)
            elif key in BOOLEAN_PARAMETERS:
                values[key] = check_flag(value, f"{where}.{key}")
            else:
                raise _unknown(
                    key, [*POPULATION_RANGES, *PARAMETER_RANGES, *BOOLEAN_PARAMETERS], where
                )
        if (
            sum(population[k] for k in POPULATION_RANGES if k not in ("n_users", "n_scientists"))
            == 0
        ):
            raise ConfigError(
                f"{where}: at least one organisation (firm, state org or university) is needed"
            )
        return Parameters(population, values, agent_types)

    def as_dict(self) -> dict[str, Any]:
        return {
            "population": dict(self.population),
            "parameters": dict(self.values),
            "agent_types": {k: asdict(v) for k, v in self.agent_types.items()},
        }


# ---------------------------------------------------------------- data files


def _data_file(*parts: str):
    return resources.files("kctsim").joinpath("data", *parts)


def _read_toml(*parts: str) -> dict[str, Any]:
    with _data_file(*parts).open("rb") as fh:
        return tomllib.load(fh)


def regime_names() -> list[str]:
    """Names of the regime presets shipped with kctsim."""
    return sorted(p.name[:-5] for p in _data_file("regimes").iterdir() if p.name.endswith(".toml"))


def technology_names() -> list[str]:
    """Names of the technology types shipped with kctsim."""
    return sorted(
        p.name[:-5] for p in _data_file("technologies").iterdir() if p.name.endswith(".toml")
    )


def load_regime(name: str) -> Levers:
    """The levers of a regime preset, e.g. ``load_regime("spiral")``."""
    check_choice(name, "regime", tuple(regime_names()))
    data = _read_toml("regimes", f"{name}.toml")
    return Levers.from_mapping(data["levers"], f"regimes/{name}.toml [levers]")


def regime_description(name: str) -> str:
    check_choice(name, "regime", tuple(regime_names()))
    return str(_read_toml("regimes", f"{name}.toml").get("description", ""))


def load_technology(name: str) -> TechnologyType:
    """A technology type shipped with kctsim, e.g. ``load_technology("key_generic")``."""
    check_choice(name, "technology type", tuple(technology_names()))
    return TechnologyType.from_mapping(
        _read_toml("technologies", f"{name}.toml"), f"technologies/{name}.toml"
    )


def default_parameters() -> Parameters:
    """The defaults of ``kctsim/data/defaults.toml``, validated."""
    data = _read_toml("defaults.toml")
    agent_types = {}
    for type_name in AGENT_TYPES:
        raw = dict(data["agent_types"][type_name])
        raw["stage_preference"] = tuple(raw["stage_preference"])
        agent_types[type_name] = AgentTypeParams(**raw)
    base = Parameters(dict(data["population"]), {}, agent_types)
    return base.replace("defaults.toml", **data["parameters"], **data["population"])
