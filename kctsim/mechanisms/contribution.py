"""Step 3a: organisations learn their R&D contribution r from their payoffs.

Each organisation that learns (firms and state-managed organisations) compares
its payoff -- its track record: a moving average (memory PAYOFF_MEMORY) of the
change in capital per unit of starting capital -- with a random peer of its own
type and, with the Fermi probability 1 / (1 + exp(-(payoff_peer - payoff_own) /
kappa)) (Szabo & Toke 1998), moves its r part of the way toward the peer's,
plus a small exploration noise. Where
results leak and appropriability is low, low-r imitators earn more and r falls:
free-riding emerges rather than being imposed (MODEL.md section 6).
"""

from __future__ import annotations

import numpy as np

R_MAX = 0.9
PAYOFF_MEMORY = 0.9  # weight of the past in the payoff track record (about ten quarters)


def _clip(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """np.clip in place, without its wrapper's overhead (the arrays here are small)."""
    return np.minimum(np.maximum(x, lo, out=x), hi, out=x)


def learn(model) -> None:
    o, p, rng = model.orgs, model.params, model.rng
    capital = o.view("capital")
    latest = (capital - o.view("capital_prev")) / np.maximum(o.view("capital0"), 1e-9)
    o.view("capital_prev")[:] = capital
    # Organisations judge by their recent track record, not by one quarter.
    payoff = o.view("payoff")
    payoff[:] = (1 - PAYOFF_MEMORY) * latest + PAYOFF_MEMORY * payoff
    if model.tick == 1:
        return  # the track record has one quarter only: learn from the next tick on
    census = model.census()
    learners = census.learners_by_type
    n = len(learners)
    if n < 2:
        return
    # A random peer of the same type for every learner.
    peer = learners[census.peer_start + (rng.random(n) * census.peer_count).astype(np.int64)]
    z = _clip((payoff[peer] - payoff[learners]) / p.fermi_temperature, -50.0, 50.0)
    switch = rng.random(n) < 1.0 / (1.0 + np.exp(-z))
    r = o.r[learners]
    r += switch * p.learning_rate * (o.r[peer] - r)
    r += p.mutation * rng.standard_normal(n)
    o.r[learners] = _clip(r, 0.0, R_MAX)
