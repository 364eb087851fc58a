"""Compare page: replicates in the background, curves with bands, cancelling."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bqplot
import ipyvuetify as v
import numpy as np
import pytest
import solara
from solara.components.datatable import DataTableWidget

from kctsim.dashboard.app import Standalone
from kctsim.dashboard.compare import CompareRequest, run_comparison, summarise, wilson
from kctsim.dashboard.compare_page import ComparePage
from kctsim.dashboard.state import Session

TINY = {
    "n_leader_firms": 1,
    "n_smes": 2,
    "n_state_orgs": 1,
    "n_universities": 1,
    "n_scientists": 2,
    "n_users": 5,
}


def fake_run(regime: str, tick: int, horizon: int = 4) -> dict:
    p = np.linspace(0, 0.5, horizon + 1)
    return {
        "regime": regime,
        "breakthrough_tick": tick,
        "p_curve": p,
        "headline": {
            k: 0.5
            for k in (
                "p_breakthrough",
                "best_fitness",
                "spillover_share",
                "free_riding_share",
                "contribution_gap",
                "misallocation_index",
                "chain_blockage",
                "diversity",
                "lock_in",
                "adoption_share",
            )
        },
    }


def test_curve_is_the_share_broken_through_by_each_tick_with_a_band_around_it():
    request = CompareRequest("key_generic", ("spiral", "jungle"), replicates=4, horizon=4)
    runs = [fake_run("spiral", t) for t in (1, 2, -1, -1)] + [
        fake_run("jungle", t) for t in (0, 0, 3, 4)
    ]
    result = summarise(request, runs)
    spiral, jungle = result.curves
    assert spiral.fraction.tolist() == [0, 0.25, 0.5, 0.5, 0.5]
    assert jungle.fraction.tolist() == [0.5, 0.5, 0.5, 0.75, 1.0]
    assert np.all(spiral.low <= spiral.fraction) and np.all(spiral.fraction <= spiral.high)
    assert result.table[0]["broke through"].startswith("0.50 [")
    assert result.table[1]["median tick to breakthrough"] == 1.5


def test_wilson_interval_matches_scipy():
    from scipy.stats import binomtest

    low, high = wilson(np.array([3]), 10)
    ci = binomtest(3, 10).proportion_ci(method="wilson")
    assert low[0] == pytest.approx(ci.low) and high[0] == pytest.approx(ci.high)


def test_replicate_i_of_every_regime_shares_its_seed():
    request = CompareRequest(
        "key_generic", ("spiral", "spiral"), replicates=2, horizon=3, population=TINY
    )
    with ThreadPoolExecutor(1) as pool:
        result = run_comparison(request, threading.Event(), executor=pool)
    first, second = result.curves  # the same regime twice: identical runs
    assert np.array_equal(first.model_p, second.model_p)


def test_bad_requests_are_refused_with_messages():
    request = CompareRequest("key_generic", (), replicates=0, population={"n_smes": -1})
    problems = " ".join(request.problems())
    assert "at least one regime" in problems and "replicates" in problems
    with pytest.raises(ValueError, match="replicates"):
        run_comparison(request, threading.Event())


def test_cancelling_stops_the_comparison_early():
    request = CompareRequest("key_generic", ("spiral",), replicates=40, horizon=60)
    cancel = threading.Event()
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        cancel.set()

    start = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        assert run_comparison(request, cancel, progress, executor=pool) is None
    assert seen == [0]
    assert time.perf_counter() - start < 30


def wait_for(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_page_runs_a_comparison_in_worker_processes_and_shows_curves_and_table():
    session = Session.new()
    session.compare_request.value = CompareRequest(
        "key_generic", ("spiral", "dislocated"), replicates=2, horizon=5, population=TINY
    )
    _, rc = solara.render(Standalone(ComparePage, session), handle_error=False)
    rc.find(v.Btn, children=["Run comparison"]).widget.click()
    assert session.compare_status.value == "running"
    wait_for(lambda: session.compare_status.value != "running")
    assert session.compare_status.value == "done", session.compare_error.value
    assert session.compare_progress.value == (4, 4)
    figures = [w for w in rc.find(bqplot.Figure).widgets if "replicates" in w.title]
    assert len(figures) == 1
    assert len(figures[0].marks) == 2 * 3  # per regime: band, realised share, model P(t)
    table = rc.find(DataTableWidget).widget
    shown = {str(h.get("value", h.get("key"))) for h in table.headers}
    assert {"Spiral Progressive (螺旋递进)", "Subject dislocation (主体错位)"} <= shown
    rc.close()


def test_page_refuses_an_invalid_request_without_running():
    session = Session.new()
    session.compare_request.value = CompareRequest("key_generic", (), replicates=2)
    _, rc = solara.render(Standalone(ComparePage, session), handle_error=False)
    assert rc.find(v.Btn, children=["Run comparison"]).widget.disabled
    alerts = [str(c) for w in rc.find(v.Alert).widgets for c in w.children]
    assert any("choose at least one regime" in a for a in alerts)
    rc.close()


def test_page_cancel_stops_a_running_comparison():
    session = Session.new()
    session.compare_request.value = CompareRequest(
        "key_generic", ("spiral",), replicates=200, horizon=80
    )
    _, rc = solara.render(Standalone(ComparePage, session), handle_error=False)
    rc.find(v.Btn, children=["Run comparison"]).widget.click()
    cancel = rc.find(v.Btn, children=["Cancel"]).widget
    assert not cancel.disabled
    cancel.click()
    wait_for(lambda: session.compare_status.value != "running", timeout=60)
    assert session.compare_status.value == "cancelled"
    assert session.compare_progress.value[0] < 200
    rc.close()
