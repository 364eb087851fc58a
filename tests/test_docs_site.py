"""The documentation site (`make docs`): its links point at its own pages, and the built
site opens in a real browser (Debian's chromium, as tests/test_dashboard_e2e.py) with
every notebook's figures drawn and the paper's Chinese terms in the bundled font.

``make test`` builds the site (``mkdocs build --strict``) before pytest runs, so the
browser tests read ``site/``; run alone, they skip until ``make docs`` has built it
(in CI a missing site is an error).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def _hooks():
    spec = importlib.util.spec_from_file_location("kctsim_docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(repo_path: str, src_uri: str) -> SimpleNamespace:
    file = SimpleNamespace(abs_src_path=str(ROOT / repo_path), src_uri=src_uri)
    return SimpleNamespace(file=file)


def _repoint(text: str, repo_path: str = "README.md", src_uri: str = "index.md") -> str:
    return _hooks().on_page_markdown(text, _page(repo_path, src_uri), {}, None)


def test_a_link_to_a_page_of_the_site_points_at_that_page():
    assert _repoint("[ODD 2.1](docs/ODD.md#21-technology)") == "[ODD 2.1](ODD.md#21-technology)"
    assert _repoint("[ref](scenarios/README.md)") == "[ref](scenarios.md)"
    assert _repoint("[n](notebooks/README.md)") == "[n](notebooks/README.md)"
    from_notebooks = _repoint(
        "[p](../docs/propositions.md)", "notebooks/README.md", "notebooks/README.md"
    )
    assert from_notebooks == "[p](../propositions.md)"


def test_a_link_to_a_repository_file_that_is_no_page_becomes_its_path():
    assert _repoint("[`kctsim/data/defaults.toml`](kctsim/data/defaults.toml)") == (
        "`kctsim/data/defaults.toml`"
    )
    assert _repoint("[the presets](kctsim/data/regimes/)") == (
        "the presets (`kctsim/data/regimes`)"
    )


def test_a_broken_link_is_left_a_link_for_the_strict_build_to_fail_on():
    # Still a link (to a page the site does not have), not turned into text.
    assert _repoint("[gone](docs/NO_SUCH_PAGE.md)") == "[gone](NO_SUCH_PAGE.md)"
    assert _repoint("[gone](kctsim/no_such.py)") == "[gone](kctsim/no_such.py)"
    assert _repoint("[web](https://mesa.readthedocs.io)") == "[web](https://mesa.readthedocs.io)"


def test_the_architecture_page_joins_the_nav_once_it_exists():
    nav = [{"Model": [{"ODD protocol": "ODD.md"}, {"Architecture": "ARCHITECTURE.md"}]}]
    assert _hooks()._without(nav, "ARCHITECTURE.md") == [{"Model": [{"ODD protocol": "ODD.md"}]}]


# ------------------------------------------------------------- in the browser


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not (SITE / "index.html").is_file():
        return "the site is not built (make docs)"
    return None


_reason = _missing()
if _reason and os.environ.get("CI"):
    raise RuntimeError(f"documentation site browser test cannot run in CI: {_reason}")
browser_test = pytest.mark.skipif(_reason is not None, reason=_reason or "")


@pytest.fixture(scope="module")
def site_url():
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def tab(site_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(30_000)
        page.problems = []
        page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        # The site must be whole on a closed network: nothing fetched from elsewhere.
        page.on(
            "request",
            lambda r: (
                None if r.url.startswith((site_url, "data:")) else page.problems.append(r.url)
            ),
        )
        yield page
        browser.close()


@browser_test
def test_the_site_opens_on_the_readme_with_its_navigation(tab, site_url):
    tab.goto(site_url)
    assert tab.locator("h1").first.inner_text().strip().startswith("kctsim")
    for title in ("ODD protocol", "Propositions", "Command line", "01 Quickstart"):
        assert tab.get_by_role("link", name=title).count() >= 1, title
    assert tab.problems == []


@browser_test
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_page_shows_its_figures(tab, site_url, notebook):
    tab.goto(f"{site_url}notebooks/{notebook}.html")
    figures = tab.locator(".jp-OutputArea-output img[src^='data:image/png']")
    figures.first.wait_for()
    assert figures.count() >= 2
    for i in range(figures.count()):
        figure = figures.nth(i)
        figure.scroll_into_view_if_needed()
        assert figure.is_visible()
        assert figure.evaluate("img => img.complete && img.naturalWidth > 200")
    assert "PosixPath" not in tab.content()  # figure cells end in the figure, not a path list
    assert tab.problems == []


@browser_test
def test_the_papers_chinese_terms_use_the_bundled_font(tab, site_url):
    tab.goto(site_url)
    term = tab.get_by_text("关键共性").first
    term.scroll_into_view_if_needed()
    tab.wait_for_function(
        """[...document.fonts].some(f => f.family.replace(/"/g, '') === 'Noto Sans SC kctsim'
                                      && f.status === 'loaded')"""
    )
    assert "Noto Sans SC kctsim" in term.evaluate("e => getComputedStyle(e).fontFamily")
    assert tab.problems == []
