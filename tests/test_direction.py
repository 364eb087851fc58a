"""The government's direction is its estimate of where the target lies (docs/ODD.md,
section 7.2): exact without selection noise, a random design at high noise; directed
local search moves toward it (section 7.5)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from kctsim.mechanisms import funding
from kctsim.model import KCTModel
from kctsim.results import run_model
from kctsim.streams import new_stream

HORIZON = 80
SEEDS = range(7000, 7800)  # a block of seeds no other test uses
# Directed local search isolated: no imitation and no long jumps, so every own move of a
# funded organisation is local search, held to the direction whenever direction is set;
# and a lower cost, so that search makes enough moves for a direction to act on (at the
# default 150 an organisation's search succeeds a few times a run, and directing moved
# breakthrough by about 1.4 quarters, 1.8 standard errors over these seeds).
ISOLATED = {"imitation_bias": 0.0, "risk_tolerance": 0.0, "cost_scale": 30.0}


def _directions(technology: str, noise: float, draws: int) -> tuple[KCTModel, np.ndarray]:
    model = KCTModel(technology=technology, regime="spiral", horizon=1, rng=3)
    terrain = model.terrain()
    rng = new_stream(5)
    out = np.empty((draws, model.n_stages), dtype=np.int64)
    for k in range(draws):
        funding._choose_direction_kernel(rng, terrain, noise, out[k])
    return model, out


def test_without_noise_the_direction_is_a_design_past_the_gate():
    for technology in ("key_generic", "cutting_edge", "major_strategic"):
        model, directions = _directions(technology, 0.0, 3)
        tech = model.tech
        assert (directions == directions[0]).all()  # no noise, no randomness
        for s, design in enumerate(directions[0]):
            assert tech.landscapes[s].fitness[design] >= tech.gates[s]
            if tech.frontier[s] >= 0:
                assert design == tech.frontier[s]  # the foreign design: known to be good


def test_each_bit_of_the_direction_is_wrong_with_the_chance_the_noise_gives():
    noise, draws = 0.25, 4000
    model, directions = _directions("key_generic", noise, draws)
    target = model.tech.frontier[0]
    n_bits = int(model.tech.n_bits[0])
    wrong = np.bitwise_count(directions[:, 0] ^ target).sum() / (draws * n_bits)
    p = funding.flip_chance(noise)
    assert p == 0.2
    assert abs(wrong - p) < 4 * np.sqrt(p * (1 - p) / (draws * n_bits))
    assert funding.flip_chance(10.0) == 0.5  # capped: at most a random design


def _restricted_mean_time(args) -> float:
    noise, setting, seed = args
    metrics = run_model(
        "major_strategic", "spiral", horizon=HORIZON, seed=seed, selection_noise=noise,
        direction_setting=setting, **ISOLATED,
    ).metrics  # fmt: skip
    tick = metrics.breakthrough_tick.dropna()
    return float(min(tick.iloc[-1], HORIZON)) if len(tick) else float(HORIZON)


def _directing_minus_not(noise: float) -> np.ndarray:
    """Per seed, time to breakthrough (restricted to the horizon) with direction held
    always minus without direction, at this selection noise."""
    jobs = [(noise, setting, s) for setting in (1.0, 0.0) for s in SEEDS]
    with ProcessPoolExecutor(2) as pool:
        times = np.array(list(pool.map(_restricted_mean_time, jobs, chunksize=20)))
    return times[: len(SEEDS)] - times[len(SEEDS) :]


def test_an_accurate_direction_speeds_breakthrough_and_a_noisy_one_slows_it():
    """The chain (major_strategic, spiral), 800 paired seeds, cost scale 30, no imitation
    or jumps. Measured under the earned-breakthrough and public-purse rules: directing
    always (direction_setting 1) without selection noise shortened the restricted mean
    time to breakthrough by 0.95 quarters (se 0.52, so only the sign is asserted); a
    random direction (noise 10) lengthens it, and how much the direction is worth
    depends on how accurate it is (the difference is asserted at two standard errors).
    The benefit of an exact direction is modest because a move toward the target is
    kept only if it is better (docs/ODD.md, known issue R)."""
    exact, noisy = _directing_minus_not(0.0), _directing_minus_not(10.0)
    assert exact.mean() < 0
    assert noisy.mean() > 2 * _se(noisy)
    assert (exact - noisy).mean() < -2 * _se(exact - noisy)


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x)))
