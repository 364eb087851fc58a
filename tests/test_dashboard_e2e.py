"""The dashboard end to end in a real browser: Debian's chromium driven by Playwright.

One server for the module (``kctsim dashboard`` on a free port); each page is
loaded, used and photographed (``results/screenshots/``), and the browser
console must stay free of errors. Skipped where chromium, Playwright or
Solara's offline assets are missing, except in CI (``CI`` set), where that is
a failure: ``make test`` installs all three.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "results" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Flags for a headless chromium on a closed network (no background calls home).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    from kctsim.dashboard import assets

    if assets.missing():
        return "Solara's browser assets are missing (python -m kctsim.dashboard.assets)"
    return None


_reason = _missing()
if _reason and os.environ.get("CI"):
    raise RuntimeError(f"dashboard browser test cannot run in CI: {_reason}")
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kctsim", "dashboard", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    assert process.stdout is not None
    assert f"kctsim dashboard: {url}" in process.stdout.readline()
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, "the dashboard server exited"
            assert time.monotonic() < deadline, "the dashboard server did not start"
            time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A new tab on the dashboard that records console errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.errors = errors
    yield tab
    context.close()
    assert errors == [], f"errors in the browser console: {errors}"


def choose(tab, label: str, option: str) -> None:
    """Pick ``option`` in the Vuetify select labelled ``label``."""
    tab.locator(".v-input", has_text=label).first.click()
    option_re = re.compile(f"^{re.escape(option)}$")
    tab.locator(".v-overlay .v-list-item", has_text=option_re).first.click()


def status(tab) -> str:
    return tab.get_by_text(re.compile(r"^Tick \d+ of \d+")).inner_text()


def plot_svg(tab, title: str) -> str:
    """The drawn content of a bqplot figure (axes and marks)."""
    return tab.locator(".bqplot.figure", has_text=title).first.inner_html()


def step_to(tab, tick: int) -> None:
    tab.get_by_role("button", name="Step", exact=True).click()
    tab.get_by_text(re.compile(rf"^Tick {tick} of")).wait_for()


def test_explore_page_steps_and_switches_regime_and_technology(page, server):
    page.goto(server)
    page.get_by_text(re.compile(r"^Tick 0 of 80")).wait_for()
    choose(page, "Regime preset", "Jungle Competition (丛林竞争)")
    choose(page, "Technology type", "Cutting-edge (前沿引领)")
    page.get_by_text("Settings changed: press Reset to apply them.").wait_for()
    page.get_by_text("Cutting-edge technology").first.wait_for()
    page.get_by_text("Jungle Competition").first.wait_for()
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text(re.compile(r"Cutting-edge \(前沿引领\) under Jungle Competition")).wait_for()
    before = plot_svg(page, "Diversity and lock-in")
    for tick in range(1, 11):
        step_to(page, tick)
    assert status(page).startswith("Tick 10 of 80")
    page.wait_for_timeout(500)  # let d3 finish drawing
    assert plot_svg(page, "Diversity and lock-in") != before
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explore.png"), full_page=True)


def test_the_tabs_are_explore_compare_results(page, server):
    page.goto(server)
    tabs = page.locator(".v-tab")
    tabs.first.wait_for()
    assert [t.strip() for t in tabs.all_inner_texts()] == ["EXPLORE", "COMPARE", "RESULTS"]
    tabs.nth(2).click()
    page.get_by_text("Results directory").first.wait_for()
    assert page.url == server + "results"


def test_the_papers_chinese_terms_are_drawn_with_the_bundled_font(page, server):
    from kctsim.fonts import FAMILY, FILE

    page.goto(server)
    page.get_by_text("螺旋递进").first.wait_for()
    # The face is fetched only when text needs it: loaded means the page used it.
    page.wait_for_function(
        f"""[...document.fonts].some(f => f.family.replace(/"/g, '') === '{FAMILY}'
                                      && f.status === 'loaded')"""
    )
    family = page.get_by_text("螺旋递进").first.evaluate("e => getComputedStyle(e).fontFamily")
    assert FAMILY in family
    response = page.request.get(server + f"static/assets/{FILE}")
    assert response.ok and len(response.body()) > 10_000


def test_a_second_tab_has_its_own_model(browser, page, server):
    page.goto(server)
    page.get_by_text(re.compile(r"^Tick 0 of")).wait_for()
    step_to(page, 1)
    other = browser.new_page()
    try:
        other.goto(server)
        other.get_by_text(
            re.compile(r"^Tick 0 of 80 · Key generic \(关键共性\) under Spiral Progressive")
        ).wait_for(timeout=TIMEOUT_MS)
    finally:
        other.close()
    assert status(page).startswith("Tick 1 of")


def test_compare_page_runs_a_small_comparison_to_completion(page, server):
    page.goto(server + "compare")
    page.get_by_role("button", name="Run comparison").wait_for()
    for label, value in (("replicates per regime", "2"), ("horizon (ticks)", "5")):
        field = page.get_by_label(label).first
        field.fill(value)
        field.press("Enter")
    page.get_by_role("button", name="Run comparison").click()
    page.get_by_text("Running:").wait_for()
    # The page stays responsive meanwhile: another control still answers.
    choose(page, "Technology type", "Major strategic (重大战略)")
    page.get_by_text("Comparison finished: 6 runs.").wait_for(timeout=180_000)
    page.locator(".bqplot.figure", has_text="replicates per regime").first.wait_for()
    page.get_by_text("Headline metrics").wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)


def test_results_page_opens_a_sweep_and_explains_a_foreign_directory(page, server, tmp_path):
    from test_dashboard_results import tiny_sweep

    sweep = tiny_sweep(tmp_path / "sweep")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"format": "other-tool/3"}')
    page.goto(server + "results")
    path = page.get_by_label("path")
    path.fill(str(foreign))
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_text("unknown results format").wait_for()
    path.fill(str(sweep))
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_text("By technology type and regime").wait_for()
    page.get_by_text("dislocated").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "results.png"), full_page=True)
