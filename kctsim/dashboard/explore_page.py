"""Explore: one run, stepped live, with every lever at hand.

Step / Play / Reset are Mesa's own ``ModelController`` (SolaraViz's
controller): it steps the session's model, bumps ``update_counter`` so the
panels redraw, and on Reset builds ``type(model)(**params)`` from the last
valid settings.
"""

from __future__ import annotations

import solara
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter

from kctsim.dashboard.controls import SettingsControls
from kctsim.dashboard.explain import regime_explanation, technology_explanation
from kctsim.dashboard.panels import (
    AdoptionPanel,
    BreakthroughPanel,
    DiversityPanel,
    FitnessPanel,
    FlowsPanel,
    NetworkPanel,
    SpilloverPanel,
    StatusLine,
)
from kctsim.dashboard.settings import validate
from kctsim.dashboard.state import Session, use_session


@solara.component
def ExplorePage():
    session = use_session()
    play_interval = solara.use_reactive(150)
    # ModelController reads .value of these whatever their type hints say: pass reactives.
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)
    with solara.Sidebar():
        with solara.Card("Run", margin=0):
            ModelController(
                session.model,
                model_parameters=session.params,
                play_interval=play_interval,
                render_interval=render_interval,
                use_threads=use_threads,
            )
            solara.SliderInt("Play interval (ms)", value=play_interval, min=20, max=1000, step=10)
            PendingNotice(session)
        with solara.Card("Settings", margin=0):
            SettingsControls(session)
    ExploreMain(session)


@solara.component
def PendingNotice(session: Session):
    """Say whether the controls differ from the running model, or are invalid."""
    errors = validate(session.settings.value)
    if errors:
        solara.Error(
            f"{len(errors)} bad value(s) in the settings (see below); Reset keeps using the "
            "last valid settings.",
            dense=True,
        )
    elif session.params.value != session.model.value.built_with:
        solara.Warning("Settings changed: press Reset to apply them.", dense=True)


@solara.component
def Explanation(session: Session):
    settings = session.settings.value
    tech = technology_explanation(settings.technology)
    regime = regime_explanation(settings.regime)
    with solara.Card(margin=0, classes=["kct-explanation"]), solara.Columns([1, 1]):
        for item in (tech, regime):
            with solara.Column(gap="4px"):
                solara.Text(item.title, style={"font-weight": "bold"})
                solara.Text(item.plain)
                if item.quote:
                    solara.Text(f"Paper: “{item.quote}”", style={"font-size": "0.85em"})


@solara.component
def ExploreMain(session: Session):
    Explanation(session)  # outside LivePanels: a step does not redraw it
    LivePanels(session)


@solara.component
def LivePanels(session: Session):
    frame = update_counter.get()  # read once here; see kctsim.dashboard.panels
    model = session.model.value
    StatusLine(frame, model)
    with solara.ColumnsResponsive(12, large=6, xlarge=4):
        BreakthroughPanel(frame, model)
        FitnessPanel(frame, model)
        SpilloverPanel(frame, model)
        FlowsPanel(frame, model, session)
        NetworkPanel(frame, model)
        DiversityPanel(frame, model)
        AdoptionPanel(frame, model)
