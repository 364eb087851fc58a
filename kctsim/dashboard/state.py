"""Per-browser-tab state of the dashboard.

One :class:`Session` is created per tab by the app's layout (``use_memo``) and
handed to the pages through a Solara context. Nothing lives in module globals,
so one tab's model, comparison or results directory never shows in another
(a module-level model would be shared by every tab until Reset).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import solara

from kctsim.dashboard.compare import CompareRequest, CompareResult
from kctsim.dashboard.explain import default_compare_regimes
from kctsim.dashboard.results_browser import default_results_dir
from kctsim.dashboard.series import FlowTally
from kctsim.dashboard.settings import ExploreSettings
from kctsim.model import KCTModel


class ExploreModel(KCTModel):
    """A :class:`KCTModel` that remembers the keyword arguments it was built with.

    Mesa's ``ModelController`` rebuilds the model on Reset as
    ``type(model)(**params)``; the page compares these with the controls to
    say when a change is not yet applied.
    """

    def __init__(self, scenario: Any = None, rng: Any = None, **kwargs: Any) -> None:
        # Mesa 3.5's Reset adds ``scenario=`` (a default Scenario) for any model
        # taking **kwargs, and routes ``rng`` into that scenario unless the
        # signature names it: KCTModel would reject the one and lose the other.
        super().__init__(rng=rng, **kwargs)
        self.built_with = {**kwargs, "rng": rng}


@dataclass(frozen=True, eq=False)  # each job is its own identity (it keys the runner thread)
class CompareJob:
    """One comparison asked for: what to run and the event that cancels it."""

    request: CompareRequest
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class Session:
    """Reactive state of one browser tab."""

    settings: solara.Reactive[ExploreSettings]
    params: solara.Reactive[dict[str, Any]]  # the last valid model keyword arguments
    model: solara.Reactive[ExploreModel]
    compare_request: solara.Reactive[CompareRequest]
    compare_job: solara.Reactive[CompareJob | None]
    compare_status: solara.Reactive[str]  # idle, running, done, cancelled, failed
    compare_progress: solara.Reactive[tuple[int, int]]  # runs done, runs in all
    compare_error: solara.Reactive[str]
    compare_result: solara.Reactive[CompareResult | None]
    results_dir: solara.Reactive[str]
    _flows: dict[int, FlowTally] = field(default_factory=dict)

    @classmethod
    def new(cls, settings: ExploreSettings | None = None) -> Session:
        settings = settings or ExploreSettings()
        params = settings.model_kwargs()
        return cls(
            settings=solara.reactive(settings),
            params=solara.reactive(params),
            model=solara.reactive(ExploreModel(**params)),
            compare_request=solara.reactive(
                CompareRequest(settings.technology, default_compare_regimes())
            ),
            compare_job=solara.reactive(None),
            compare_status=solara.reactive("idle"),
            compare_progress=solara.reactive((0, 0)),
            compare_error=solara.reactive(""),
            compare_result=solara.reactive(None),
            results_dir=solara.reactive(default_results_dir()),
        )

    def flows(self, model: KCTModel) -> FlowTally:
        """The flow tally of ``model`` (a new one after Reset)."""
        key = id(model)
        tally = self._flows.get(key)
        if tally is None or tally.ledger is not model.ledger:
            self._flows = {key: FlowTally(model.ledger)}  # drop the old model's tally
            tally = self._flows[key]
        return tally


SessionContext = solara.create_context(None)


def use_session() -> Session:
    """The tab's :class:`Session` (provided by the app's layout or ``Standalone``)."""
    session = solara.use_context(SessionContext)
    if session is None:
        raise RuntimeError("dashboard pages need a session: render them in the app or Standalone")
    return session
