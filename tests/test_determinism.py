"""A run is a function of its seed: same seed, same tables; another seed, another run."""

from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pandas as pd
import pytest

from kctsim.config import technology_names
from kctsim.results import collect_results, run_model

HORIZON = 8


@pytest.mark.parametrize("technology", technology_names())
def test_same_seed_gives_identical_metrics_and_ledger(technology):
    a = run_model(technology, "jungle", horizon=HORIZON, seed=11)
    b = run_model(technology, "jungle", horizon=HORIZON, seed=11)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.ledger, b.ledger)
    pd.testing.assert_frame_equal(a.spillover, b.spillover)
    pd.testing.assert_frame_equal(a.summary, b.summary)


@pytest.mark.parametrize("technology", technology_names())
def test_different_seeds_give_different_runs(technology):
    a = run_model(technology, "jungle", horizon=HORIZON, seed=11)
    b = run_model(technology, "jungle", horizon=HORIZON, seed=12)
    assert not a.metrics.equals(b.metrics)
    assert not a.ledger.equals(b.ledger)


@pytest.mark.parametrize("technology", technology_names())
def test_int_seed_and_seed_sequence_of_it_give_the_same_run(technology, run_to_end):
    by_int = run_to_end(technology, "spiral", horizon=HORIZON, seed=7)
    by_seq = run_to_end(technology, "spiral", horizon=HORIZON, seed=np.random.SeedSequence(7))
    a, b = collect_results(by_int, seed=7), collect_results(by_seq, seed=7)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.ledger, b.ledger)


def test_the_run_does_not_depend_on_global_random_state():
    # The legacy global generators are used on purpose: the model must ignore them.
    random.seed(1)
    np.random.seed(1)  # noqa: NPY002
    a = run_model("key_generic", "spiral", horizon=HORIZON, seed=3)
    random.seed(2)
    np.random.seed(2)  # noqa: NPY002
    _ = np.random.random(100), random.random()  # noqa: NPY002
    b = run_model("key_generic", "spiral", horizon=HORIZON, seed=3)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)


def test_a_copied_or_pickled_model_continues_the_same_run_on_its_own_streams():
    """Kernels draw through the address of the run's Generator, which the model caches;
    a copy must use its own Generator, not the original's (which would advance both)."""
    from kctsim import KCTModel

    model = KCTModel(rng=3, horizon=30)
    for _ in range(10):
        model.step()
    copies = [pickle.loads(pickle.dumps(model)), copy.deepcopy(model)]
    while model.running:
        for m in (model, *copies):
            m.step()
        for m in copies:  # the state, not only the metrics (a copy's buffers are its own)
            assert np.array_equal(m.effective_fitness, model.effective_fitness)
            assert np.array_equal(m.raw_fitness, model.raw_fitness)
            assert np.array_equal(m.census().orgs, model.census().orgs)
    expected = model.datacollector.get_model_vars_dataframe()
    for m in copies:
        pd.testing.assert_frame_equal(m.datacollector.get_model_vars_dataframe(), expected)
