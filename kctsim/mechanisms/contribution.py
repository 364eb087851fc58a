"""Step 3a: organisations learn their R&D contribution r from their payoffs.

Each organisation that learns (firms and state-managed organisations) compares
its payoff -- its track record: a moving average (memory PAYOFF_MEMORY) of the
change in capital per unit of starting capital -- with a random peer of its own
type and, with the Fermi probability 1 / (1 + exp(-(payoff_peer - payoff_own) /
kappa)) (Szabo & Toke 1998), moves its r part of the way toward the peer's,
plus a small exploration noise. Where
results leak and appropriability is low, low-r imitators earn more and r falls:
free-riding emerges rather than being imposed (docs/ODD.md, section 7.4).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from kctsim.kernels import JIT
from kctsim.streams import random, standard_normal

R_MAX = 0.9
PAYOFF_MEMORY = 0.9  # weight of the past in the payoff track record (about ten quarters)


class Constants(NamedTuple):
    """What the parameters make of step 3a."""

    temperature: float  # Fermi rule: noise in comparing payoffs
    learning_rate: float  # share of the gap to the peer's contribution closed on a switch
    mutation: float  # sd of the random change of contribution per tick


def constants(params) -> Constants:
    """Step 3a's constants from the parameters."""
    return Constants(
        float(params.fermi_temperature), float(params.learning_rate), float(params.mutation)
    )


@njit(**JIT)
def _learn_kernel(
    rng, first, n, capital, capital_prev, capital0, payoff, r, learners, peer_start,
    peer_count, temperature, learning_rate, mutation,
):  # fmt: skip
    """learn: payoff track record, Fermi imitation of a same-type peer, mutation."""
    for i in range(n):
        latest = (capital[i] - capital_prev[i]) / max(capital0[i], 1e-9)
        capital_prev[i] = capital[i]
        # Organisations judge by their recent track record, not by one quarter.
        payoff[i] = (1 - PAYOFF_MEMORY) * latest + PAYOFF_MEMORY * payoff[i]
    m = len(learners)
    if first or m < 2:
        return
    # Three rounds of draws, one per numpy array draw: peers, switches, mutations.
    peer = np.empty(m, np.int64)
    for k in range(m):  # a random peer of the same type for every learner
        peer[k] = learners[peer_start[k] + np.int64(random(rng) * peer_count[k])]
    new = np.empty(m)
    for k in range(m):
        z = (payoff[peer[k]] - payoff[learners[k]]) / temperature
        z = min(max(z, -50.0), 50.0)
        new[k] = r[learners[k]]  # r is written only at the end: all learners move at once
        if random(rng) < 1.0 / (1.0 + math.exp(-z)):
            new[k] += learning_rate * (r[peer[k]] - new[k])
    for k in range(m):
        new[k] += mutation * standard_normal(rng)
    for k in range(m):
        r[learners[k]] = min(max(new[k], 0.0), R_MAX)
