"""Compare: one technology type under several regimes, R replicates each, in the background.

The runs execute in worker processes (:mod:`kctsim.dashboard.compare`); a
thread of the tab's layout (:func:`use_compare_runner`) only waits for them
and reports progress, so every control stays responsive and the comparison
goes on while the user switches pages. Closing the tab cancels it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import reacton.ipyvuetify as v
import solara

from kctsim import names
from kctsim.config import regime_names, technology_names
from kctsim.dashboard.compare import MAX_REPLICATES, run_comparison
from kctsim.dashboard.controls import NamedSelect
from kctsim.dashboard.plots import PALETTE, Band, Line, line_chart
from kctsim.dashboard.settings import POPULATION_LABELS, default_population
from kctsim.dashboard.state import CompareJob, Session, use_session


def use_compare_runner(session: Session) -> None:
    """Hook: run the session's current comparison job in a background thread."""
    job = session.compare_job.value

    def work() -> None:
        if job is None:
            return
        try:
            result = run_comparison(
                job.request,
                job.cancel,
                on_progress=lambda done, total: session.compare_progress.set((done, total)),
            )
        except Exception as exc:  # shown on the page; the server carries on
            session.compare_error.value = f"{type(exc).__name__}: {exc}"
            session.compare_status.value = "failed"
            return
        if result is None:
            session.compare_status.value = "cancelled"
        else:
            session.compare_result.value = result
            session.compare_status.value = "done"

    # Not intrusive: solara would otherwise trace every line of the thread to cancel it.
    solara.use_thread(work, dependencies=[job], intrusive_cancel=False)
    solara.use_effect(lambda: (lambda: job.cancel.set()) if job else None, [job])


def start(session: Session) -> None:
    """Start the requested comparison (if it is valid), replacing any earlier one."""
    request = session.compare_request.value
    problems = request.problems()
    if problems:
        session.compare_error.value = "; ".join(problems)
        session.compare_status.value = "invalid"
        return
    old = session.compare_job.value
    if old is not None:
        old.cancel.set()
    session.compare_error.value = ""
    session.compare_result.value = None
    session.compare_progress.value = (0, request.n_runs())
    session.compare_status.value = "running"
    session.compare_job.value = CompareJob(request)


def cancel(session: Session) -> None:
    job = session.compare_job.value
    if job is not None:
        job.cancel.set()


@solara.component
def ComparePage():
    session = use_session()
    with solara.Sidebar(), solara.Card("Comparison", margin=0):
        CompareControls(session)
    CompareProgress(session)
    CompareResults(session)


@solara.component
def CompareControls(session: Session):
    request = session.compare_request.value
    running = session.compare_status.value == "running"

    def update(**changes) -> None:
        session.compare_request.value = replace(session.compare_request.value, **changes)

    NamedSelect(
        "Technology type",
        "technologies",
        request.technology,
        technology_names(),
        lambda v: update(technology=v),
    )
    v.Select(
        label="Regimes",
        v_model=list(request.regimes),
        items=[{"title": names.regime(r), "value": r} for r in regime_names()],
        multiple=True,
        chips=True,
        on_v_model=lambda chosen: update(regimes=tuple(chosen)),
    )
    solara.InputInt(
        f"replicates per regime (1–{MAX_REPLICATES})",
        value=request.replicates,
        on_value=lambda v: update(replicates=v),
        continuous_update=False,
    )
    solara.InputInt(
        "horizon (ticks)",
        value=request.horizon,
        on_value=lambda v: update(horizon=v),
        continuous_update=False,
    )
    solara.InputInt(
        "root seed", value=request.seed, on_value=lambda v: update(seed=v), continuous_update=False
    )
    solara.InputInt(
        "worker processes",
        value=request.workers,
        on_value=lambda v: update(workers=v),
        continuous_update=False,
    )
    with solara.Details("Population", expand=False):
        population = {**default_population(), **request.population}
        for name, label in POPULATION_LABELS.items():
            solara.InputInt(
                label,
                value=population[name],
                on_value=lambda v, name=name: update(
                    population={**session.compare_request.value.population, name: v}
                ),
                continuous_update=False,
            )
    problems = request.problems()
    for problem in problems:
        solara.Error(problem, dense=True)
    with solara.Row():
        solara.Button(
            "Run comparison",
            color="primary",
            disabled=running or bool(problems),
            on_click=lambda: start(session),
        )
        solara.Button("Cancel", disabled=not running, on_click=lambda: cancel(session))


@solara.component
def CompareProgress(session: Session):
    status = session.compare_status.value
    done, total = session.compare_progress.value
    if status == "running":
        solara.Text(f"Running: {done} of {total} runs done")
        solara.ProgressLinear(value=100 * done / total if total else True)
    elif status == "cancelled":
        solara.Warning(f"Comparison cancelled after {done} of {total} runs.")
    elif status in ("failed", "invalid"):
        solara.Error(f"Comparison could not run: {session.compare_error.value}")
    elif status == "done":
        solara.Success(f"Comparison finished: {total} runs.")
    else:
        solara.Info(
            "Choose a technology type and regimes, then Run comparison. Runs go to worker "
            "processes; this page and the others stay usable meanwhile."
        )


@solara.component
def CompareResults(session: Session):
    result = session.compare_result.value
    if result is None:
        return
    lines, bands = [], []
    for i, curve in enumerate(result.curves):
        colour = PALETTE[i % len(PALETTE)]
        bands.append(Band(curve.low, curve.high, colour))
        regime = names.name("regimes", curve.regime)
        lines.append(Line(f"{regime}: share broken through", curve.fraction, colour))
        lines.append(Line(f"{regime}: model P(t)", curve.model_p, colour, dashed=True))
    req = result.request
    line_chart(
        f"Breakthrough probability, {names.technology(req.technology)}, "
        f"{req.replicates} replicates per regime "
        "(band: Wilson 95%)",
        result.ticks,
        lines,
        bands=bands,
        y_min=0.0,
        y_max=1.0,
        height="340px",
    )
    frame = pd.DataFrame(result.table).set_index("regime").T
    frame = frame.map(lambda x: f"{x:.3f}" if isinstance(x, float | np.floating) else str(x))
    frame.columns = [names.regime(r) for r in frame.columns]
    solara.Markdown("**Headline metrics** (mean over replicates at the horizon)")
    solara.DataFrame(frame.reset_index(names="metric"), items_per_page=20)
