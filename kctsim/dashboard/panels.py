"""The explore page's live panels, one component per panel.

The page's main component reads Mesa's ``update_counter`` once and hands its
value to every panel as ``frame``: the panels re-render after every Step, Play
frame or Reset (a custom component that reads neither goes stale), in one
render pass. Were each panel to read the counter itself, every step would
cost one render pass per panel.
"""

from __future__ import annotations

import numpy as np
import solara

from kctsim import names
from kctsim.dashboard.plots import PALETTE, Line, bar_chart, line_chart, network_chart
from kctsim.dashboard.series import (
    TYPE_COLOURS,
    network_view,
    series,
    stage_names,
    targets,
    ticks,
)
from kctsim.dashboard.state import Session
from kctsim.model import KCTModel


@solara.component
def StatusLine(frame: int, model: KCTModel):
    if model.breakthrough_tick >= 0:
        broke = f"broke through at tick {model.breakthrough_tick}"
    else:
        broke = "no breakthrough yet"
    rival = ", foreign rival there first" if model.rival_tick >= 0 else ""
    # Plain text, not Markdown: this line changes every step.
    solara.Text(
        f"Tick {model.steps} of {model.horizon} · {names.technology(model.tech_spec.name)} "
        f"under {names.regime(model.regime_name)} · {broke}{rival} · P(breakthrough) so far "
        f"{model.p_breakthrough:.3f}",
        style={"font-weight": "bold"},
    )


@solara.component
def BreakthroughPanel(frame: int, model: KCTModel):
    s = series(model, "p_breakthrough", "breakthrough", "hazard")
    at = float(model.breakthrough_tick) if model.breakthrough_tick >= 0 else None
    line_chart(
        "Breakthrough probability over time",
        ticks(model),
        [
            Line("P(t) from the hazard", s["p_breakthrough"], PALETTE[0]),
            Line("hazard h(t)", s["hazard"], PALETTE[3], dashed=True),
            Line("realised breakthrough", s["breakthrough"], PALETTE[1]),
        ],
        y_min=0.0,
        x_max=model.horizon,
        y_max=1.0,
        vertical_at=at,
    )


@solara.component
def FitnessPanel(frame: int, model: KCTModel):
    x = ticks(model)
    gates = targets(model)
    if len(gates) == 1:
        s = series(model, "best_fitness", "mean_fitness")
        line_chart(
            "Best fitness against the target",
            x,
            [
                Line("best fitness", s["best_fitness"], PALETTE[0]),
                Line("mean fitness", s["mean_fitness"], PALETTE[2]),
                Line(f"target {gates[0]:.3f}", np.full(len(x), gates[0]), PALETTE[1], True),
            ],
            y_min=0.0,
            x_max=model.horizon,
            y_max=1.0,
        )
        return
    progress = [f"stage_progress_{i + 1}" for i in range(len(gates))]
    s = series(model, *progress)
    lines = [
        Line(names.bilingual("stages", stage), s[n], PALETTE[i % len(PALETTE)])
        for i, (stage, n) in enumerate(zip(stage_names(model), progress, strict=True))
    ]
    lines.append(Line("target (gate)", np.ones(len(x)), "#444444", dashed=True))
    line_chart(
        "Best fitness per stage, as a share of its target",
        x,
        lines,
        y_min=0.0,
        x_max=model.horizon,
        y_max=1.05,
    )


@solara.component
def SpilloverPanel(frame: int, model: KCTModel):
    s = series(model, "spillover_share", "free_riding_share", "contribution_gap")
    line_chart(
        "Spillover and free-riding",
        ticks(model),
        [
            Line("spillover share of gains", s["spillover_share"], PALETTE[0]),
            Line("free-riding share", s["free_riding_share"], PALETTE[1]),
            Line("contribution gap", s["contribution_gap"], PALETTE[4], dashed=True),
        ],
        y_min=0.0,
        x_max=model.horizon,
        y_max=1.0,
    )


@solara.component
def FlowsPanel(frame: int, model: KCTModel, session: Session):
    pairs = session.flows(model).top_pairs(8)
    bar_chart(
        "Resource flows between agent types",
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )


@solara.component
def NetworkPanel(frame: int, model: KCTModel):
    view = network_view(model)
    network_chart(
        "Collaboration network",
        view.x,
        view.y,
        view.colours,
        view.edge_x,
        view.edge_y,
    )
    with solara.Row(style={"flex-wrap": "wrap", "font-size": "0.8em"}):
        for kind, n in view.counts.items():
            label = names.name("agents", kind)
            solara.Text(f"● {label} ({n})", style={"color": TYPE_COLOURS.get(kind, "#777")})


@solara.component
def DiversityPanel(frame: int, model: KCTModel):
    s = series(model, "diversity", "lock_in", "imitation_share")
    line_chart(
        "Diversity and lock-in",
        ticks(model),
        [
            Line("design diversity", s["diversity"], PALETTE[2]),
            Line("lock-in", s["lock_in"], PALETTE[1]),
            Line("imitation share of moves", s["imitation_share"], PALETTE[4], dashed=True),
        ],
        y_min=0.0,
        x_max=model.horizon,
        y_max=1.0,
    )


@solara.component
def AdoptionPanel(frame: int, model: KCTModel):
    s = series(model, "adoption_share")
    line_chart(
        "Adoption by users",
        ticks(model),
        [Line("adoption share", s["adoption_share"], PALETTE[5])],
        y_min=0.0,
        x_max=model.horizon,
        y_max=1.0,
    )
