"""NK landscapes reproduce the textbook facts of docs/ODD.md section 2.1.

Statistical claims are checked over many independently drawn landscapes with
a z-score bound of 4 (a correct implementation fails with probability about
6e-5 per claim for a random seed; the seeds here are fixed, so the suite is
deterministic).
"""

from __future__ import annotations

import numpy as np
import pytest

from kctsim.landscape import NKLandscape, linear_quantile

Z = 4.0


def popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.asarray(x, dtype=np.int64))


def brute_local_optima(fitness: np.ndarray, n_bits: int) -> np.ndarray:
    designs = np.arange(fitness.size)
    nb = designs[:, None] ^ (1 << np.arange(n_bits))[None, :]
    return (fitness[nb] < fitness[:, None]).all(axis=1)


def brute_count_reaching(fitness: np.ndarray, gate: float, n_flips: int) -> np.ndarray:
    designs = np.arange(fitness.size)
    distance = popcount(designs[:, None] ^ designs[None, :])
    reaches = fitness >= gate
    return ((distance == n_flips) & reaches[None, :]).sum(axis=1)


def brute_steepest_ascent(fitness: np.ndarray, n_bits: int, design: int) -> int:
    while True:
        nb = [design ^ (1 << b) for b in range(n_bits)]
        best = max(nb, key=lambda d: fitness[d])
        if fitness[best] <= fitness[design]:
            return design
        design = best


# ------------------------------------------------------------------- K = 0


def test_k0_expected_raw_optimum_is_two_thirds():
    # For K=0 each bit contributes max(U0, U1) at the optimum: E = 2/3, Var = 1/18.
    gen = np.random.default_rng(1)
    n_bits, n_landscapes = 8, 4000
    raw_max = np.array([NKLandscape(n_bits, 0, gen).raw_max for _ in range(n_landscapes)])
    se_theory = np.sqrt(1 / 18 / (n_bits * n_landscapes))
    assert raw_max.std(ddof=1) / np.sqrt(n_landscapes) == pytest.approx(se_theory, rel=0.1)
    z = (raw_max.mean() - 2 / 3) / se_theory
    assert abs(z) < Z, f"mean raw optimum {raw_max.mean():.5f} vs 2/3: z = {z:.2f}"


def test_k0_local_search_from_every_start_reaches_the_global_optimum():
    gen = np.random.default_rng(2)
    n_bits = 8
    for _ in range(20):
        land = NKLandscape(n_bits, 0, gen)
        best = int(np.argmax(land.fitness))
        assert land.local_optima().sum() == 1
        assert land.local_optima()[best]
        ends = {land.climb(x) for x in range(land.size)}
        assert ends == {best}


def test_k0_fitness_is_additive_over_bits():
    # No interactions: the effect of flipping bit i does not depend on the other bits.
    land = NKLandscape(8, 0, np.random.default_rng(3))
    designs = np.arange(land.size)
    for i in range(land.n_bits):
        with_bit = designs[(designs >> i) & 1 == 1]
        effect = land.raw[with_bit] - land.raw[with_bit ^ (1 << i)]
        np.testing.assert_allclose(effect, effect[0], atol=1e-12)


# ----------------------------------------------------------- local optima


def mean_local_optima(n_bits: int, k: int, n_landscapes: int, seed: int) -> tuple[float, float]:
    gen = np.random.default_rng(seed)
    counts = np.array(
        [NKLandscape(n_bits, k, gen).local_optima().sum() for _ in range(n_landscapes)]
    )
    return counts.mean(), counts.std(ddof=1) / np.sqrt(n_landscapes)


def test_number_of_local_optima_rises_with_k():
    n_bits = 10
    stats = {k: mean_local_optima(n_bits, k, 200, seed=10 + k) for k in (0, 2, 5, n_bits - 1)}
    assert stats[0] == (1.0, 0.0)
    ks = sorted(stats)
    for lo, hi in zip(ks, ks[1:], strict=False):
        (m_lo, se_lo), (m_hi, se_hi) = stats[lo], stats[hi]
        z = (m_hi - m_lo) / np.hypot(se_lo, se_hi)
        assert z > Z, f"mean optima K={lo}: {m_lo:.2f}, K={hi}: {m_hi:.2f} (z = {z:.1f})"


def test_local_optima_at_k_n_minus_1_average_2_to_the_n_over_n_plus_1():
    # K = N-1: all 2^N fitness values are independent, so P(local optimum) = 1/(N+1).
    n_bits = 10
    mean, se = mean_local_optima(n_bits, n_bits - 1, 1000, seed=4)
    expected = 2**n_bits / (n_bits + 1)
    z = (mean - expected) / se
    assert abs(z) < Z, f"mean {mean:.2f} (se {se:.2f}) vs 2^N/(N+1) = {expected:.2f}: z = {z:.2f}"


@pytest.mark.parametrize("k", [0, 3, 7])
def test_local_optima_table_matches_brute_force(k):
    land = NKLandscape(9, k, np.random.default_rng(5 + k))
    np.testing.assert_array_equal(land.local_optima(), brute_local_optima(land.fitness, 9))


@pytest.mark.parametrize("k", [2, 6])
def test_climb_is_steepest_ascent_to_a_local_optimum(k):
    land = NKLandscape(8, k, np.random.default_rng(6 + k))
    optima = land.local_optima()
    for x in range(land.size):
        end = land.climb(x)
        assert optima[end]
        assert land.fitness[end] >= land.fitness[x]
        assert end == brute_steepest_ascent(land.fitness, 8, x)


# ----------------------------------------------------------------- tables


@pytest.mark.parametrize(("n_bits", "k"), [(1, 0), (6, 0), (10, 4), (12, 11)])
def test_fitness_table_has_2_to_the_n_entries_and_max_exactly_1(n_bits, k):
    land = NKLandscape(n_bits, k, np.random.default_rng(7))
    assert land.fitness.shape == (2**n_bits,)
    assert land.raw.shape == (2**n_bits,)
    assert land.fitness.max() == 1.0
    assert land.raw_max == land.raw.max()
    np.testing.assert_allclose(land.fitness, land.raw / land.raw_max, rtol=0, atol=0)
    # Raw fitness is a mean of U(0,1) contributions.
    assert land.raw.min() > 0.0 and land.raw.max() < 1.0


def test_neighbours_are_the_n_one_bit_flips():
    land = NKLandscape(7, 2, np.random.default_rng(8))
    designs = np.array([0, 5, 127, 64])
    nb = land.neighbours(designs)
    assert nb.shape == (len(designs), 7)
    assert (popcount(nb ^ designs[:, None]) == 1).all()
    assert all(len(set(row)) == 7 for row in nb.tolist())


def test_quantile_is_the_quantile_of_the_fitness_table():
    land = NKLandscape(10, 3, np.random.default_rng(9))
    for q in (0.0, 0.5, 0.9, 0.98, 1.0):
        assert land.quantile(q) == pytest.approx(float(np.quantile(land.fitness, q)))
    assert land.quantile(1.0) == 1.0
    share_above = (land.fitness >= land.quantile(0.98)).mean()
    assert share_above == pytest.approx(0.02, abs=2 / land.size)


def test_linear_quantile_is_numpys_quantile_bit_for_bit():
    """Start designs are those below the quantile: one ulp off could change a run."""
    rng = np.random.default_rng(4)
    for size in (1, 2, 3, 17, 1000, 4096):
        for values in (rng.random(size), np.round(rng.random(size), 1)):  # with ties
            for q in (0.0, 0.001, 0.34, 0.5, 0.98, 0.999, 1.0, *rng.random(5)):
                assert linear_quantile(values, q) == float(np.quantile(values, q))


@pytest.mark.parametrize("n_flips", [1, 2, 3])
def test_count_reaching_agrees_with_brute_force(n_flips):
    land = NKLandscape(10, 4, np.random.default_rng(11))
    for gate in (land.quantile(0.5), land.quantile(0.95), 1.0, float(land.fitness[37])):
        np.testing.assert_array_equal(
            land.count_reaching(gate, n_flips), brute_count_reaching(land.fitness, gate, n_flips)
        )


# -------------------------------------------------------------- turbulence


@pytest.mark.parametrize(("n_bits", "k", "bit"), [(8, 0, 3), (9, 2, 0), (10, 4, 7), (8, 7, 5)])
def test_redraw_bit_changes_fitness_only_through_that_bits_contribution(n_bits, k, bit):
    land = NKLandscape(n_bits, k, np.random.default_rng(12))
    before = land.raw.copy()
    land.redraw_bit(bit)
    delta = land.raw - before
    designs = np.arange(land.size)
    # One contribution in [0, 1] out of N changed: |change of the mean| <= 1/N.
    assert np.abs(delta).max() <= 1 / n_bits + 1e-12
    assert np.abs(delta).max() > 0
    # The change is a function of the redrawn bit and its K dependencies only:
    # exactly K+1 bits matter, the redrawn bit among them (a redraw of another
    # bit's table, or of the whole landscape, would make more bits matter).
    matters = [
        j for j in range(n_bits) if not np.allclose(delta, delta[designs ^ (1 << j)], atol=1e-12)
    ]
    assert bit in matters
    assert len(matters) == k + 1
    assert len(np.unique(np.round(delta, 12))) <= 2 ** (k + 1)
    # Still normalised to the (new) global optimum.
    assert land.fitness.max() == 1.0
    assert land.raw_max == land.raw.max()
    np.testing.assert_allclose(land.fitness, land.raw / land.raw_max, rtol=0, atol=0)


def test_redraw_bit_refreshes_every_derived_table():
    # Cached statistics must follow the new fitness table, not the old one.
    n_bits = 9
    land = NKLandscape(n_bits, 3, np.random.default_rng(13))
    gate = land.quantile(0.9)
    land.local_optima()
    land.count_reaching(gate, 1)
    land.count_reaching(gate, 3)
    for bit in (0, 4, 8):
        land.redraw_bit(bit)
        np.testing.assert_array_equal(land.local_optima(), brute_local_optima(land.fitness, n_bits))
        for n_flips in (1, 3):
            np.testing.assert_array_equal(
                land.count_reaching(gate, n_flips),
                brute_count_reaching(land.fitness, gate, n_flips),
            )
        assert land.quantile(0.9) == pytest.approx(float(np.quantile(land.fitness, 0.9)))


def test_compiled_tables_equal_numpys():
    """The landscape's index, contributions and raw fitness, built by kernels, equal the
    numpy formulation (take_along_axis and mean over axis 0) bit for bit."""
    land = NKLandscape(12, 4, np.random.default_rng(21))
    designs = np.arange(land.size)
    index = np.zeros((land.n_bits, land.size), dtype=np.int64)
    for j in range(land.k + 1):
        index |= ((designs >> land.dependencies[:, j, None]) & 1) << j
    contrib = np.take_along_axis(land.tables, index, axis=1)
    assert np.array_equal(land._index, index)
    assert np.array_equal(land._contrib, contrib)
    assert np.array_equal(land.raw, contrib.mean(axis=0))
    land.redraw_bit(3)
    assert np.array_equal(land.raw, land._contrib.mean(axis=0))


@pytest.mark.parametrize("turbulence", [1.0, 0.4])
def test_turbulence_draws_come_in_the_rules_order(turbulence):
    """The tick's compiled call draws turbulence stage by stage and stops where it
    strikes; the landscape changes in Python and the draws go on from the next stage.
    The tables must be what the rule drawn by hand with numpy gives: per stage a
    draw, and on a strike the bit and its new contribution table."""
    from kctsim import KCTModel
    from kctsim.config import load_technology
    from kctsim.streams import to_generator

    spec = load_technology("major_strategic").replace(turbulence=turbulence)
    model = KCTModel(technology=spec, horizon=6, rng=8)
    for _ in range(5):
        rng = to_generator(model.tech.stream)  # the technology's stream before the tick
        tables = [land.tables.copy() for land in model.tech.landscapes]
        for table, land in zip(tables, model.tech.landscapes, strict=True):
            if rng.random() < turbulence:
                bit = int(rng.integers(land.n_bits))
                table[bit] = rng.random(table.shape[1])
        model.step()
        for table, land in zip(tables, model.tech.landscapes, strict=True):
            np.testing.assert_array_equal(land.tables, table)
        # the technology's stream then goes on where the rule leaves it (no draw skipped)
        if model.latest["entries"] == 0:
            assert to_generator(model.tech.stream).random() == rng.random()
