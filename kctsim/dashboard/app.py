"""The kctsim dashboard as a Solara app: ``solara run kctsim.dashboard.app``.

Three pages (Explore, Compare, Results) share one :class:`Layout`, which
creates the tab's session state and runs its comparison in the background, so
both survive switching pages.
"""

from __future__ import annotations

import solara

from kctsim.dashboard.compare_page import ComparePage, use_compare_runner
from kctsim.dashboard.explore_page import ExplorePage
from kctsim.dashboard.results_page import ResultsPage
from kctsim.dashboard.state import Session, SessionContext

TITLE = "kctsim: breaking through key core technologies"


@solara.component
def Layout(children: list | None = None):
    """The app frame: navigation tabs, this tab's session, the comparison runner."""
    session = solara.use_memo(Session.new, [])
    SessionContext.provide(session)
    use_compare_runner(session)
    return solara.AppLayout(children=children or [], title=TITLE, navigation=True)


@solara.component
def Standalone(page, session: Session | None = None):
    """One page with its own session, outside routing (component tests, notebooks)."""
    session = solara.use_memo(lambda: session or Session.new(), [])
    SessionContext.provide(session)
    use_compare_runner(session)
    return solara.AppLayout(children=[page()], title=TITLE)


routes = [
    # The root route's layout wraps every page (solara.autorouting).
    solara.Route(path="/", component=ExplorePage, label="Explore", layout=Layout),
    solara.Route(path="compare", component=ComparePage, label="Compare"),
    solara.Route(path="results", component=ResultsPage, label="Results"),
]
