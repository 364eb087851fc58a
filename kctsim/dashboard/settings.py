"""What the explore page's controls hold, checked the same way the model checks it.

:class:`ExploreSettings` is plain data (technology type, regime preset, lever
values, population sizes, horizon, seed). The preset gives every lever's
default; :meth:`ExploreSettings.changed_levers` says which levers differ from
it, and :func:`validate` turns bad values into one message per field (never an
exception), using the config module's own validation so the dashboard accepts
exactly what :class:`~kctsim.model.KCTModel` accepts.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from kctsim.config import (
    CONSORTIUM_HUBS,
    CORE_SUBJECTS,
    LEVER_NAMES,
    LEVER_RANGES,
    POPULATION_RANGES,
    ConfigError,
    default_parameters,
    load_regime,
    load_technology,
    regime_names,
    technology_names,
)
from kctsim.config import LEVER_GROUPS as LEVER_GROUPS  # the dashboard's groups

CHOICE_LEVERS: dict[str, tuple[str, ...]] = {
    "core_subject": CORE_SUBJECTS,
    "consortium": CONSORTIUM_HUBS,
}

POPULATION_LABELS = {
    "n_leader_firms": "leader firms",
    "n_smes": "SMEs",
    "n_state_orgs": "state-managed orgs",
    "n_universities": "universities",
    "n_scientists": "scientists",
    "n_users": "users",
}


def _model_default(name: str) -> str:
    """A default of :class:`~kctsim.model.KCTModel`, so the page starts where the model does."""
    from kctsim.model import KCTModel

    return inspect.signature(KCTModel).parameters[name].default


DEFAULT_TECHNOLOGY: str = _model_default("technology")
DEFAULT_REGIME: str = _model_default("regime")


def preset_levers(regime: str) -> dict[str, Any]:
    """The lever values of a regime preset, as the controls hold them (a fresh dict)."""
    return dict(_preset(regime))


@cache
def _preset(regime: str) -> dict[str, Any]:
    values = load_regime(regime).as_dict()
    values["stage_weights"] = tuple(values["stage_weights"])
    return values


@cache
def default_population() -> dict[str, int]:
    return dict(default_parameters().population)


@cache
def default_horizon() -> int:
    return int(default_parameters().horizon)


@dataclass(frozen=True)
class ExploreSettings:
    """Everything the explore page builds a model from.

    Args:
        technology: technology type name.
        regime: regime preset name (the levers' defaults).
        levers: lever values as entered (may be invalid until :func:`validate`);
            default: the regime preset's.
        population: population sizes by ``n_*`` name.
        horizon: ticks the run lasts.
        seed: the run's seed.
    """

    technology: str = DEFAULT_TECHNOLOGY
    regime: str = DEFAULT_REGIME
    levers: dict[str, Any] = field(default_factory=dict)
    population: dict[str, Any] = field(default_factory=default_population)
    horizon: Any = field(default_factory=default_horizon)
    seed: Any = 0

    def __post_init__(self) -> None:
        if not self.levers and self.regime in regime_names():
            object.__setattr__(self, "levers", preset_levers(self.regime))

    def with_regime(self, regime: str) -> ExploreSettings:
        """Switch preset: every lever takes the new preset's value."""
        return replace(self, regime=regime, levers=preset_levers(regime))

    def with_lever(self, name: str, value: Any) -> ExploreSettings:
        return replace(self, levers={**self.levers, name: value})

    def with_population(self, name: str, value: Any) -> ExploreSettings:
        return replace(self, population={**self.population, name: value})

    def changed_levers(self) -> list[str]:
        """Levers whose value differs from the preset's, in group order."""
        if self.regime not in regime_names():
            return []
        preset = preset_levers(self.regime)
        return [n for n in LEVER_NAMES if not _same(self.levers.get(n), preset[n])]

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~kctsim.model.KCTModel` (after :func:`validate`).

        Only levers changed from the preset are passed as overrides, so the
        model keeps the preset's name when nothing was changed.
        """
        kwargs: dict[str, Any] = {
            "technology": self.technology,
            "regime": self.regime,
            "horizon": int(self.horizon),
            "rng": int(self.seed),
        }
        for name in self.changed_levers():
            value = self.levers[name]
            kwargs[name] = list(value) if name == "stage_weights" else value
        kwargs |= {k: int(v) for k, v in self.population.items()}
        return kwargs


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def parse_weights(text: str) -> tuple[float, ...] | str:
    """``"0.2, 0.3, 0.5"`` as a tuple of floats, or the text itself if it does not parse."""
    try:
        return tuple(float(p) for p in text.replace(";", ",").split(",") if p.strip())
    except ValueError:
        return text


# The data files are read once per process: controls validate on every edit.
_regime = cache(load_regime)
_technology = cache(load_technology)
_defaults = cache(default_parameters)
_regime_names = cache(lambda: tuple(regime_names()))
_technology_names = cache(lambda: tuple(technology_names()))


def validate(settings: ExploreSettings) -> dict[str, str]:
    """Problems with the settings, as ``{field: message}``; empty when a model can be built."""
    try:
        key = _key(settings)
    except TypeError:  # an unhashable value typed in: check it uncached
        return _validate(settings)
    if key not in _CHECKED:
        if len(_CHECKED) > 256:
            _CHECKED.clear()
        _CHECKED[key] = _validate(settings)
    return dict(_CHECKED[key])


_CHECKED: dict[tuple, dict[str, str]] = {}
"""Messages by settings: the page validates the same settings several times per edit."""


def _typed(value: Any) -> tuple:
    # With the type: 1, 1.0 and True are equal as keys but not as settings.
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_typed(v) for v in value))
    return (type(value).__name__, value)


def _key(settings: ExploreSettings) -> tuple:
    levers = tuple((k, _typed(v)) for k, v in sorted(settings.levers.items()))
    population = tuple((k, _typed(v)) for k, v in sorted(settings.population.items()))
    key = (
        settings.technology,
        settings.regime,
        levers,
        population,
        _typed(settings.horizon),
        _typed(settings.seed),
    )
    hash(key)
    return key


def _validate(settings: ExploreSettings) -> dict[str, str]:
    errors: dict[str, str] = {}
    if settings.technology not in _technology_names():
        errors["technology"] = f"unknown technology type {settings.technology!r}"
    if settings.regime not in _regime_names():
        errors["regime"] = f"unknown regime {settings.regime!r}"
    if errors:
        return errors
    base = _regime(settings.regime)
    # One lever at a time, so that each message lands next to its own control.
    for name in LEVER_NAMES:
        value = settings.levers.get(name)
        if value is None:
            errors[name] = f"{name}: a value is needed"
            continue
        try:
            base.replace("levers", **{name: value})
        except ConfigError as exc:
            errors[name] = _short(exc)
    if "stage_weights" not in errors:
        n_stages = len(_technology(settings.technology).stages)
        weights = settings.levers["stage_weights"]
        if n_stages > 1 and len(weights) != n_stages:
            errors["stage_weights"] = (
                f"stage_weights: {len(weights)} weights for a chain of {n_stages} stages; "
                "give one weight per stage"
            )
    for name, value in settings.population.items():
        lo, hi = POPULATION_RANGES[name]
        if not _is_int(value) or not lo <= int(value) <= hi:
            errors[name] = f"{POPULATION_LABELS[name]}: expected an integer from {lo} to {hi}"
    if not any(k in errors for k in settings.population):
        try:
            _defaults().replace("population", **settings.population)
        except ConfigError as exc:
            errors["population"] = _short(exc)
    if not _is_int(settings.horizon) or not 1 <= int(settings.horizon) <= 100_000:
        errors["horizon"] = "horizon: expected an integer from 1 to 100000 ticks"
    if not _is_int(settings.seed) or int(settings.seed) < 0:
        errors["seed"] = "seed: expected an integer >= 0"
    return errors


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(exc: ConfigError) -> str:
    """The config error without its 'levers.' / 'population:' prefix noise."""
    text = str(exc)
    for prefix in ("levers.", "population: ", "population."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def lever_range_text(name: str) -> str:
    """The allowed range of a numeric lever, for its label."""
    if name in LEVER_RANGES:
        lo, hi = LEVER_RANGES[name]
        return f"{lo:g}–{hi:g}"
    if name in CHOICE_LEVERS:
        return " / ".join(CHOICE_LEVERS[name])
    return "weights, one per stage"
