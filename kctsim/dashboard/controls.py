"""The explore page's controls: technology, regime, grouped levers, population, horizon, seed.

Every edit goes into the session's :class:`ExploreSettings`. Valid settings
become the model keyword arguments that Mesa's ``ModelController`` uses on
Reset; invalid ones are shown next to their control and never reach the model
(the last valid values stay in force), so a bad value cannot crash a Reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import reacton.ipyvuetify as v
import solara

from kctsim import names
from kctsim.config import regime_names, technology_names
from kctsim.dashboard.settings import (
    CHOICE_LEVERS,
    LEVER_GROUPS,
    POPULATION_LABELS,
    ExploreSettings,
    lever_range_text,
    parse_weights,
    preset_levers,
    validate,
)
from kctsim.dashboard.state import Session

CHANGED = "#e65100"  # the mark of a lever changed from its preset


def apply(session: Session, settings: ExploreSettings) -> None:
    """Store edited settings; pass them on to Reset only if they are valid."""
    session.settings.value = settings
    if not validate(settings):
        session.params.value = settings.model_kwargs()


@solara.component
def NamedSelect(
    label: str, section: str, value: str, keys: list[str], on_value: Callable[[str], None]
):
    """A select of technology types or regimes showing the paper's names (English and
    Chinese; ``section`` of :mod:`kctsim.names`); its value stays the code name."""
    items = [{"title": names.bilingual(section, k), "value": k} for k in keys]
    return v.Select(label=label, v_model=value, items=items, on_v_model=on_value)


@solara.component
def SettingsControls(session: Session):
    """All controls, grouped; messages for bad values next to their control."""
    settings = session.settings.value
    errors = validate(settings)

    def set_technology(name: str) -> None:
        apply(session, replace(session.settings.value, technology=name))

    def set_regime(name: str) -> None:
        apply(session, session.settings.value.with_regime(name))

    NamedSelect(
        "Technology type", "technologies", settings.technology, technology_names(), set_technology
    )
    NamedSelect("Regime preset", "regimes", settings.regime, regime_names(), set_regime)
    for key in ("technology", "regime"):
        if key in errors:
            solara.Error(errors[key], dense=True)

    changed = settings.changed_levers()
    with solara.Row(style={"align-items": "center"}):
        solara.Text(
            f"{len(changed)} lever(s) changed from the preset" if changed else "levers = preset",
            style={"color": CHANGED if changed else "inherit", "font-size": "0.85em"},
        )
        solara.Button(
            "Restore preset",
            small=True,
            text=True,
            disabled=not changed,
            on_click=lambda: apply(session, session.settings.value.with_regime(settings.regime)),
        )
    for group, members in LEVER_GROUPS.items():
        n_changed = sum(n in changed for n in members)
        title = f"{group} ({n_changed} changed)" if n_changed else group
        Group(title, lambda members=members: _levers(session, members, changed, errors))
    Group("Population, horizon, seed", lambda: _population(session, errors))


@solara.component
def Group(title: str, content: Callable[[], None]):
    """A collapsible group whose controls are only built while it is open.

    Closed groups cost nothing to re-render: a regime switch changes every
    lever, and re-rendering all of them took most of a control's response time.
    """
    open_, set_open = solara.use_state(False)
    solara.Button(
        f"{'▾' if open_ else '▸'} {title}",
        text=True,
        block=True,
        on_click=lambda: set_open(not open_),
        style={"justify-content": "flex-start", "text-transform": "none"},
    )
    if open_:
        with solara.Column(gap="0px", style={"padding-left": "8px"}):
            content()


def _levers(session: Session, names, changed: list[str], errors: dict[str, str]) -> None:
    for name in names:
        LeverInput(session, name, name in changed, errors.get(name))


def _population(session: Session, errors: dict[str, str]) -> None:
    settings = session.settings.value
    for name, label in POPULATION_LABELS.items():
        solara.InputInt(
            label,
            value=settings.population[name],
            on_value=lambda v, name=name: apply(
                session, session.settings.value.with_population(name, v)
            ),
            continuous_update=False,
        )
        if name in errors:
            solara.Error(errors[name], dense=True)
    if "population" in errors:
        solara.Error(errors["population"], dense=True)
    solara.InputInt(
        "horizon (ticks)",
        value=settings.horizon,
        on_value=lambda v: apply(session, replace(session.settings.value, horizon=v)),
        continuous_update=False,
    )
    if "horizon" in errors:
        solara.Error(errors["horizon"], dense=True)
    solara.InputInt(
        "seed",
        value=settings.seed,
        on_value=lambda v: apply(session, replace(session.settings.value, seed=v)),
        continuous_update=False,
    )
    if "seed" in errors:
        solara.Error(errors["seed"], dense=True)


@solara.component
def LeverInput(session: Session, name: str, changed: bool, error: str | None):
    """One lever: a select, a number or a list of weights, marked when changed."""
    value = session.settings.value.levers.get(name)
    preset = preset_levers(session.settings.value.regime)[name]
    mark = " ●" if changed else ""
    label = f"{names.name('levers', name)} ({lever_range_text(name)}){mark}"

    def set_value(v: Any) -> None:
        apply(session, session.settings.value.with_lever(name, v))

    style = {"border-left": f"3px solid {CHANGED}", "padding-left": "4px"} if changed else {}
    with solara.Column(gap="0px", style=style):
        if name in CHOICE_LEVERS:
            solara.Select(label, value=value, values=list(CHOICE_LEVERS[name]), on_value=set_value)
        elif name == "stage_weights":
            text = value if isinstance(value, str) else ", ".join(f"{w:g}" for w in value)
            solara.InputText(
                label,
                value=text,
                on_value=lambda t: set_value(parse_weights(t)),
                continuous_update=False,
            )
        else:
            solara.InputFloat(label, value=value, on_value=set_value, continuous_update=False)
        if changed:
            shown = ", ".join(f"{w:g}" for w in preset) if name == "stage_weights" else preset
            solara.Text(
                f"changed; preset value {shown}", style={"color": CHANGED, "font-size": "0.8em"}
            )
        if error:
            solara.Error(error, dense=True)
