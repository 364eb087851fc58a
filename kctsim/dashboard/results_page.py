"""Results: browse a stored sweep or propositions directory (verdicts, figures, runs)."""

from __future__ import annotations

import solara

from kctsim.dashboard.plots import PALETTE, Line, line_chart
from kctsim.dashboard.results_browser import (
    PropositionsView,
    ResultsError,
    SweepView,
    find_result_dirs,
    open_results,
)
from kctsim.dashboard.state import use_session


def _open(path: str) -> SweepView | PropositionsView | str | None:
    """The opened directory, an error message, or None before anything was asked for."""
    if not path:
        return None
    try:
        return open_results(path)
    except ResultsError as exc:
        return str(exc)


@solara.component
def ResultsPage():
    session = use_session()
    typed = solara.use_reactive(session.results_dir.value)
    reload, set_reload = solara.use_state(0)
    path = session.results_dir.value
    view = solara.use_memo(lambda: _open(path), [path, reload])

    def open_typed() -> None:
        session.results_dir.value = typed.value.strip()
        set_reload(reload + 1)

    with solara.Sidebar(), solara.Card("Results directory", margin=0):
        solara.InputText("path", value=typed, continuous_update=True)
        found = find_result_dirs()
        if found:
            solara.Select(
                "found under results/",
                value=typed.value if typed.value in found else None,
                values=found,
                on_value=lambda v: typed.set(v or ""),
            )
        solara.Button("Open", color="primary", on_click=open_typed)
    if view is None:
        solara.Info(
            "Open a sweep directory (written by kctsim sweep) or a propositions results "
            "directory to browse its verdicts, figures and runs."
        )
    elif isinstance(view, str):
        solara.Error(view)
    elif isinstance(view, PropositionsView):
        PropositionsBrowser(view)
    else:
        SweepBrowser(view)


@solara.component
def PropositionsBrowser(view: PropositionsView):
    solara.Markdown(f"## Propositions: `{view.path}`")
    solara.Markdown("### Verdicts")
    solara.DataFrame(view.verdicts, items_per_page=12)
    if view.figures:
        solara.Markdown("### Figures")
        with solara.ColumnsResponsive(12, large=6):
            for figure in view.figures:
                with solara.Column():
                    solara.Text(figure.stem.replace("_", " ").capitalize())
                    solara.Image(str(figure), width="100%")
    if view.report_md:
        with solara.Details("Report (report.md)"):
            solara.Markdown(view.report_md)
    for name, sweep in view.sweeps.items():
        with solara.Details(f"Runs of the {name} sweep ({len(sweep.runs)} runs)"):
            SweepBrowser(sweep)


@solara.component
def SweepBrowser(view: SweepView):
    status = view.status
    solara.Markdown(
        f"## Sweep `{view.name}` — `{view.path}`\n\n"
        f"{status['committed']} of {status['n_runs']} runs stored, "
        f"{len(status['failed'])} failed, status {status.get('status') or 'unknown'}"
    )
    solara.Markdown("### By technology type and regime")
    solara.DataFrame(view.cells(), items_per_page=20)
    solara.Markdown("### Runs")
    solara.DataFrame(view.runs, items_per_page=10)
    RunDetail(view)


@solara.component
def RunDetail(view: SweepView):
    ids = [int(i) for i in view.runs["run_id"]] if len(view.runs) else []
    chosen = solara.use_reactive(ids[0] if ids else None)
    if not ids:
        return
    solara.Select("run", value=chosen, values=ids)
    if chosen.value not in ids:
        return
    wide = view.run_metrics(chosen.value)
    if wide.empty:
        solara.Warning(f"run {chosen.value} has no per-tick metrics (it failed)")
        return
    names = [n for n in ("p_breakthrough", "breakthrough", "best_fitness") if n in wide]
    line_chart(
        f"Run {chosen.value}",
        wide["tick"].to_numpy(),
        [Line(n, wide[n].to_numpy(), PALETTE[i]) for i, n in enumerate(names)],
        y_min=0.0,
        y_max=1.0,
    )
