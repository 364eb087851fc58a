"""Users adopt by Bass diffusion (docs/ODD.md, section 7.3).

With the product usable from the start (``usable_fraction=0``) and R&D made
irrelevant (``cost_scale`` at its maximum), the adoption share is a pure Bass
process. The model is discrete-time: each tick every non-adopter adopts with
probability p + q F(t-1), F(t-1) the share adopted before the tick. So:

1. each tick's new adopters are Binomial(non-adopters, p + q F(t-1)) given the
   realised F(t-1) -- checked tick by tick (|z| < 4.5) and jointly (the sum of
   z^2 is chi-square with T degrees of freedom, 99.9% interval);
2. the realised path follows the deterministic recursion
   f(t) = f(t-1) + (1 - f(t-1)) (p + q f(t-1)) within 5 standard deviations of
   its linear-noise approximation;
3. the recursion is the Euler scheme of the Bass equation dF/dt = (1-F)(p+qF),
   so the path follows the analytic curve
   F(t) = (1 - exp(-(p+q)t)) / (1 + (q/p) exp(-(p+q)t)) within the computed
   discretisation error max_t |f(t) - F(t)| plus the same sampling band.
   With p = 0.005, q = 0.05 over 100 ticks that error is 0.0084, which the
   test checks is below 0.01.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

P, Q = 0.005, 0.05
N_USERS = 20_000
HORIZON = 100
DISCRETISATION_BOUND = 0.01


def recursion(p: float, q: float, horizon: int) -> np.ndarray:
    f = np.zeros(horizon + 1)
    for t in range(1, horizon + 1):
        f[t] = f[t - 1] + (1 - f[t - 1]) * (p + q * f[t - 1])
    return f


def analytic(p: float, q: float, horizon: int) -> np.ndarray:
    decay = np.exp(-(p + q) * np.arange(horizon + 1))
    return (1 - decay) / (1 + (q / p) * decay)


def linear_noise_sd(p: float, q: float, f: np.ndarray, n: int) -> np.ndarray:
    """Sd of the share around the recursion: Var_t = a_t^2 Var_{t-1} + v_t / n."""
    var = np.zeros_like(f)
    for t in range(1, len(f)):
        prev = f[t - 1]
        rate = p + q * prev
        slope = 1 - p + q - 2 * q * prev  # d f(t) / d f(t-1)
        var[t] = slope**2 * var[t - 1] + (1 - prev) * rate * (1 - rate) / n
    return np.sqrt(var)


@pytest.fixture(scope="module")
def adoption(run_to_end) -> np.ndarray:
    model = run_to_end(
        "key_generic",
        "spiral",
        horizon=HORIZON,
        seed=5,
        usable_fraction=0.0,
        cost_scale=1e6,
        n_users=N_USERS,
        bass_p=P,
        bass_q=Q,
    )
    metrics = model.datacollector.get_model_vars_dataframe()
    assert (metrics["n_user"] == N_USERS).all()
    return metrics["adoption_share"].to_numpy()


def test_each_tick_adopters_are_binomial_with_rate_p_plus_q_share(adoption):
    adopters = np.rint(adoption * N_USERS)
    assert adopters[0] == 0
    prev, new = adopters[:-1], np.diff(adopters)
    rate = P + Q * prev / N_USERS
    at_risk = N_USERS - prev
    z = (new - at_risk * rate) / np.sqrt(at_risk * rate * (1 - rate))
    assert np.abs(z).max() < 4.5, (
        f"tick {np.argmax(np.abs(z)) + 1}: z = {z[np.argmax(np.abs(z))]:.2f}"
    )
    chi2 = float((z**2).sum())
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], df=len(z))
    assert lo < chi2 < hi, f"sum of z^2 = {chi2:.1f} outside [{lo:.1f}, {hi:.1f}] (df {len(z)})"
    assert abs(z.sum()) / np.sqrt(len(z)) < 3.5


def test_adoption_follows_the_discrete_bass_recursion(adoption):
    f = recursion(P, Q, HORIZON)
    sd = linear_noise_sd(P, Q, f, N_USERS)
    dev = np.abs(adoption - f)
    assert (dev <= 5 * sd + 1e-12).all(), (
        f"tick {np.argmax(dev - 5 * sd)}: share {adoption[np.argmax(dev - 5 * sd)]:.4f}"
    )
    assert adoption[-1] > 0.9  # the run covered most of the S-curve


def test_adoption_follows_the_analytic_bass_curve_within_discretisation_error(adoption):
    f = recursion(P, Q, HORIZON)
    curve = analytic(P, Q, HORIZON)
    discretisation = float(np.abs(f - curve).max())
    assert discretisation < DISCRETISATION_BOUND
    sd = linear_noise_sd(P, Q, f, N_USERS)
    dev = np.abs(adoption - curve)
    assert (dev <= discretisation + 5 * sd + 1e-12).all(), f"max deviation {dev.max():.4f}"


def test_nobody_adopts_a_product_that_is_not_usable(run_to_end):
    model = run_to_end(
        "key_generic",
        "spiral",
        horizon=15,
        seed=6,
        usable_fraction=1.0,
        cost_scale=1e6,
        passive_absorption=0.0,
    )  # no R&D succeeds and nobody absorbs public designs: nothing reaches the gate
    metrics = model.datacollector.get_model_vars_dataframe()
    assert (metrics["best_fitness"] < model.tech.gates[-1]).all()
    assert (metrics["adoption_share"] == 0).all()
    assert (model.ledger.frame()["kind"] != "user_revenue").all()
