"""Mesa's own SolaraViz controller drives a plain KCTModel: Step and Reset."""

from __future__ import annotations

import ipyvuetify as v
import solara
from mesa.experimental.scenarios import Scenario
from mesa.visualization.solara_viz import ModelController

from kctsim import KCTModel
from kctsim.results import collect_results

PARAMS = {"technology": "key_generic", "regime": "spiral", "n_users": 40, "horizon": 5, "rng": 3}


def _metrics(model: KCTModel):
    while model.running:
        model.step()
    return collect_results(model).metrics


def test_a_mesa_scenario_is_accepted_and_only_its_rng_is_used():
    plain = _metrics(KCTModel(**PARAMS))
    assert _metrics(KCTModel(**PARAMS, scenario=Scenario())).equals(plain)
    without_rng = {k: v for k, v in PARAMS.items() if k != "rng"}
    assert _metrics(KCTModel(**without_rng, scenario=Scenario(rng=3))).equals(plain)


def test_model_controller_steps_and_resets_a_plain_kctmodel():
    model = solara.reactive(KCTModel(**PARAMS))
    controller = ModelController(
        model,
        model_parameters=solara.reactive(PARAMS),
        play_interval=solara.reactive(100),
        render_interval=solara.reactive(1),
        use_threads=solara.reactive(False),
    )
    box, rc = solara.render(controller, handle_error=False)
    buttons = {b.children[0]: b for b in rc.find(v.Btn).widgets if b.children}
    buttons["Step"].click()
    assert model.value.tick == 1
    before = model.value
    buttons["Reset"].click()  # Mesa rebuilds type(model)(**params, scenario=...)
    assert model.value is not before
    assert isinstance(model.value, KCTModel) and model.value.tick == 0
    assert _metrics(model.value).equals(_metrics(KCTModel(**PARAMS)))
