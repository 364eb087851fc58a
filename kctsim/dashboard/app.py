"""The kctsim dashboard as a Solara app: ``solara run kctsim.dashboard.app``.

Three pages (Explore, Compare, Results) share one :class:`Layout`, which
creates the tab's session state and runs its comparison in the background, so
both survive switching pages.
"""

from __future__ import annotations

import solara
from solara.server import settings

from kctsim import fonts
from kctsim.dashboard.compare_page import ComparePage, use_compare_runner
from kctsim.dashboard.explore_page import ExplorePage
from kctsim.dashboard.results_page import ResultsPage
from kctsim.dashboard.state import Session, SessionContext

TITLE = "kctsim: breaking through key core technologies"

# Solara serves <app's parent>/public and /assets (kctsim/ here), not files beside the app;
# as an extra assets location, dashboard/public is served at /static/assets/.
PUBLIC = str(fonts.font_path().parent)
if PUBLIC not in settings.assets.extra_locations:
    settings.assets.extra_locations.append(PUBLIC)


def font_css(root_path: str = "") -> str:
    """CSS that draws the paper's Chinese terms with the bundled font subset.

    The dashboard serves ``kctsim/dashboard/public/`` at ``/static/assets/``. The subset
    comes after Roboto, so Latin text keeps Vuetify's look and only the CJK glyphs
    (missing from Roboto and, on many machines, from every installed font) come
    from it. Icons keep their own icon fonts.
    """
    return f"""
@font-face {{
  font-family: "{fonts.FAMILY}";
  src: url("{root_path}/static/assets/{fonts.FILE}") format("opentype");
  font-display: swap;
}}
.v-application, .v-application *:not(.v-icon):not(.mdi):not([class*="fa-"]) {{
  font-family: Roboto, "{fonts.FAMILY}", sans-serif !important;
}}
"""


def _navigation_tabs() -> solara.Element:
    """The page tabs, labelled with the routes' labels (AppLayout's own tabs show the
    paths: "Home", "compare", "results"). A Tabs element in the app bar replaces them;
    each tab links to its page, and the current page's tab is the active one."""
    tabs = [solara.lab.Tab(r.label, path_or_route="/" + r.path.lstrip("/")) for r in routes]
    return solara.lab.Tabs(align="center", children=tabs)


def _frame(children: list) -> solara.Element:
    # In the app bar, not beside the page: AppLayout would make a second child its sidebar.
    style = solara.Style(font_css(settings.main.root_path or ""))
    bar = solara.AppBar(children=[_navigation_tabs(), style])
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
