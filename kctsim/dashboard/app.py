"""The kctsim dashboard as a Solara app: ``solara run kctsim.dashboard.app``.

Three pages (Explore, Compare, Results) share one :class:`Layout`, which
creates the tab's session state and runs its comparison in the background, so
both survive switching pages.
"""

from __future__ import annotations

import solara

from kctsim import fonts
from kctsim.dashboard.compare_page import ComparePage, use_compare_runner
from kctsim.dashboard.explore_page import ExplorePage
from kctsim.dashboard.results_page import ResultsPage
from kctsim.dashboard.state import Session, SessionContext

TITLE = "kctsim: breaking through key core technologies"


def font_css(root_path: str = "") -> str:
    """CSS that draws the paper's Chinese terms with the bundled font subset.

    Solara serves ``kctsim/dashboard/public/`` at ``/static/public/``. The subset
    comes after Roboto, so Latin text keeps Vuetify's look and only the CJK glyphs
    (missing from Roboto and, on many machines, from every installed font) come
    from it. Icons keep their own icon fonts.
    """
    return f"""
@font-face {{
  font-family: "{fonts.FAMILY}";
  src: url("{root_path}/static/public/{fonts.FILE}") format("opentype");
  font-display: swap;
}}
.v-application, .v-application *:not(.v-icon):not(.mdi):not([class*="fa-"]) {{
  font-family: Roboto, "{fonts.FAMILY}", sans-serif !important;
}}
"""


@solara.component
def NavigationTabs():
    """The page tabs, labelled with the routes' labels (AppLayout's own use the paths:
    "Home", "compare", "results")."""
    route, routes = solara.use_route()
    router = solara.use_router()
    index = routes.index(route) if route in routes else 0

    def go(i: int) -> None:
        router.push(solara.resolve_path(routes[i], level=0))

    with solara.lab.Tabs(value=index, on_value=go, align="center") as tabs:
        for r in routes:
            solara.lab.Tab(r.label)
    return tabs


def _frame(children: list) -> solara.Element:
    from solara.server.settings import main

    # In the app bar, not beside the page: AppLayout would make a second child its sidebar.
    bar = solara.AppBar(children=[NavigationTabs(), solara.Style(font_css(main.root_path or ""))])
    return solara.AppLayout(children=[bar, *children], title=TITLE, navigation=True)


@solara.component
def Layout(children: list | None = None):
    """The app frame: navigation tabs, this tab's session, the comparison runner."""
    session = solara.use_memo(Session.new, [])
    SessionContext.provide(session)
    use_compare_runner(session)
    return _frame(children or [])


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
