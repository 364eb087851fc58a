"""Dashboard speed: one Step plus the explore page's re-render, and control latency
while a comparison runs in the background.

The page is rendered server-side with ``solara.render`` (what a browser tab
drives through its websocket), so the times are the server's work per
interaction: model step, component renders and widget updates. The browser
then draws the changed bqplot data itself.

Goals (issue 5): step + re-render < 150 ms at the default size; controls
respond while a comparison runs.

    .venv/bin/python benchmarks/bench_dashboard.py [--steps 30] [--replicates 10] [--browser]

``--browser`` also times Step in a real browser (Debian's chromium via
Playwright, against ``kctsim dashboard``): click to the new tick on screen,
websocket and client-side drawing included.
"""

from __future__ import annotations

import argparse
import statistics
import time

import ipyvuetify as v
import solara

from kctsim.dashboard.app import Standalone
from kctsim.dashboard.compare import CompareRequest
from kctsim.dashboard.compare_page import start
from kctsim.dashboard.explore_page import ExplorePage
from kctsim.dashboard.state import ExploreModel, Session


def ms(seconds: list[float]) -> str:
    data = sorted(1000 * s for s in seconds)
    p90 = data[min(len(data) - 1, int(0.9 * len(data)))]
    return f"median {statistics.median(data):6.1f} ms  p90 {p90:6.1f} ms  max {data[-1]:6.1f} ms"


def timed(action) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="Step clicks to time")
    parser.add_argument("--replicates", type=int, default=10, help="per regime, comparison")
    parser.add_argument("--browser", action="store_true", help="also time Step in chromium")
    args = parser.parse_args()

    session = Session.new()  # default technology, regime, population and horizon
    _, rc = solara.render(Standalone(ExplorePage, session), handle_error=False)
    step = rc.find(v.Btn, children=["Step"]).widget
    regime = rc.find(v.Select, label="Regime preset").widget

    for _ in range(3):  # warm-up: first renders create the widgets
        step.click()
    step_render = [timed(step.click) for _ in range(args.steps)]

    bare = ExploreModel(**session.params.value)  # the same ticks, model only
    model_only = [timed(bare.step) for _ in range(3 + args.steps)][3:]

    def toggle(i: int) -> float:
        return timed(lambda: setattr(regime, "v_model", "jungle" if i % 2 == 0 else "spiral"))

    idle = [toggle(i) for i in range(20)]

    rc.find(v.Btn, children=["Reset"]).widget.click()
    session.compare_request.value = CompareRequest(
        "key_generic",
        ("spiral", "jungle", "main_layout"),
        replicates=args.replicates,
        horizon=80,
        workers=1,
    )
    start(session)
    while session.compare_progress.value[0] == 0 and session.compare_status.value == "running":
        time.sleep(0.05)  # wait until worker runs are really under way
    busy, busy_steps = [], []
    i = 0
    while session.compare_status.value == "running" and i < 200:
        busy.append(toggle(i))
        busy_steps.append(timed(step.click) if session.model.value.running else 0.0)
        time.sleep(0.1)  # a user's pace, not a tight loop
        i += 1
    done, total = session.compare_progress.value
    status = session.compare_status.value
    rc.close()

    print(
        f"explore page at default size ({session.model.value.orgs.n} org rows), {args.steps} steps"
    )
    print(f"  step + re-render : {ms(step_render)}   (goal < 150 ms)")
    print(f"  model step alone : {ms(model_only)}")
    print("control response (regime select -> settings re-render)")
    print(f"  idle             : {ms(idle)}")
    print(f"  during comparison: {ms(busy)}   ({len(busy)} changes)")
    print(f"  step + re-render during comparison: {ms([s for s in busy_steps if s])}")
    print(f"comparison: {done}/{total} runs, {status} (1 worker process, 3 regimes x 80 ticks)")
    if args.browser:
        print(f"in chromium, click Step -> new tick drawn: {ms(browser_steps(args.steps))}")


_STEP_JS = """
async (target) => {
  const spans = () => [...document.querySelectorAll('span')];
  const status = spans().find((s) => s.textContent.startsWith('Tick '));
  const step = [...document.querySelectorAll('button')].find(
    (b) => b.textContent.trim().toLowerCase() === 'step');
  return await new Promise((resolve) => {
    const t0 = performance.now();
    const done = () => requestAnimationFrame(() => resolve(performance.now() - t0));
    const observer = new MutationObserver(() => {
      if (status.isConnected ? status.textContent.startsWith(target)
          : spans().some((s) => s.textContent.startsWith(target))) {
        observer.disconnect();
        done();
      }
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
    step.click();
  });
}
"""


def browser_steps(n: int) -> list[float]:
    """Seconds from a Step click until the page shows the new tick, in chromium."""
    import socket
    import subprocess
    import sys

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kctsim", "dashboard", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for _ in range(240):  # the server takes a while to import everything
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    time.sleep(0.5)
            page.get_by_text("Tick 0 of").first.wait_for(timeout=60_000)
            # Timed inside the page (performance.now), so Playwright's own
            # overhead is left out: from the click to the frame after the new
            # tick's text is in the DOM.
            times = [page.evaluate(_STEP_JS, f"Tick {tick} of") / 1000 for tick in range(1, n + 4)]
            browser.close()
        return times[3:]
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
