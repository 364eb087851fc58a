"""kctsim.streams against its oracle, numpy itself: for the same seed, every compiled
draw equals numpy's ``Generator(PCG64)`` draw, and the state after the draws equals
numpy's ``bit_generator.state``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from kctsim import streams
from kctsim._ziggurat import ZIGGURAT_NOR_R
from kctsim.streams import (
    as_numpy,
    fill_random,
    integers,
    load_from_generator,
    new_stream,
    next_uint32,
    next_uint64,
    poisson,
    random,
    standard_normal,
    state_dict,
    to_generator,
    uniform,
)

SEEDS = [0, 1, 42, 20261127, 2**64 + 12345, np.random.SeedSequence([3, 1, 4, 1, 5])]
RANGES = [1, 2, 7, 100, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**40, 2**62, 2**63 - 1]
LOWS = [0, 5, -7, -(2**40)]
LAMS = [0.0, 0.3, 4.0, 9.99, 10.0, 37.5]


def pair(seed):
    """A stream and numpy's Generator for the same seed."""
    return new_stream(seed), np.random.default_rng(seed)


def assert_same_state(s, rng):
    assert state_dict(s) == rng.bit_generator.state


@pytest.mark.parametrize("seed", SEEDS)
def test_new_stream_is_numpys_state(seed):
    s, rng = pair(seed)
    assert s.dtype == np.uint64 and s.shape == (streams.N_WORDS,)
    assert_same_state(s, rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_next_uint64_is_random_raw(seed):
    s, rng = pair(seed)
    ours = np.array([next_uint64(s) for _ in range(2000)], dtype=np.uint64)
    assert np.array_equal(ours, rng.bit_generator.random_raw(2000))
    assert_same_state(s, rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_uniform_and_fill(seed):
    s, rng = pair(seed)
    for _ in range(500):
        assert random(s) == rng.random()
        assert uniform(s, 0.5, 1.5) == rng.uniform(0.5, 1.5)
        assert uniform(s, -3.25, 1e6) == rng.uniform(-3.25, 1e6)
    out = np.empty(1000)
    fill_random(s, out)
    assert np.array_equal(out, rng.random(1000))
    assert_same_state(s, rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_next_uint32_buffers_like_numpy(seed):
    """numpy's next_uint32 (integers over 2**32 values) returns the low half of a 64-bit
    draw and keeps the high half for the next call; a 64-bit draw in between leaves the
    buffered half in place."""
    s, rng = pair(seed)
    for n in range(300):
        assert next_uint32(s) == rng.integers(0, 2**32, dtype=np.uint32)
        assert_same_state(s, rng)
        if n % 7 == 3:
            assert random(s) == rng.random()
            assert_same_state(s, rng)


INTEGER_CASES = [
    (low, low + span) for low in LOWS for span in RANGES if low + span <= np.iinfo(np.int64).max
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("low", "high"), INTEGER_CASES)
def test_integers(seed, low, high):
    s, rng = pair(seed)
    for _ in range(200):
        assert integers(s, low, high) == rng.integers(low, high)
        assert random(s) == rng.random()  # the 32-bit buffer survives doubles as in numpy
    assert_same_state(s, rng)


def test_integers_full_int64_range():
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    s, rng = pair(7)
    for _ in range(500):
        assert integers(s, low, high) == rng.integers(low, high)
    assert_same_state(s, rng)


def test_integers_refuses_an_empty_range():
    s = new_stream(0)
    with pytest.raises(ValueError, match="low >= high"):
        integers(s, 3, 3)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**128 - 1),
    low=st.integers(-(2**62), 2**62 - 1),
    span=st.one_of(st.integers(1, 2**33), st.integers(1, 2**62)),
    n=st.integers(1, 20),
)
def test_integers_any_range(seed, low, span, n):
    s, rng = pair(seed)
    for _ in range(n):
        assert integers(s, low, low + span) == rng.integers(low, low + span)
    assert_same_state(s, rng)


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_standard_normal_including_the_tail(seed):
    s, rng = pair(seed)
    ours = np.array([standard_normal(s) for _ in range(100_000)])
    theirs = np.array([rng.standard_normal() for _ in range(100_000)])
    assert np.array_equal(ours, theirs)
    assert np.abs(ours).max() > ZIGGURAT_NOR_R  # the tail branch was drawn
    assert_same_state(s, rng)


@pytest.mark.parametrize("seed", SEEDS[:4])
@pytest.mark.parametrize("lam", LAMS)
def test_poisson(seed, lam):
    s, rng = pair(seed)
    for _ in range(5000):
        assert poisson(s, lam) == rng.poisson(lam)
    assert_same_state(s, rng)


def test_poisson_refuses_what_numpy_refuses():
    s = new_stream(0)
    for lam in (-1.0, np.nan, 1e20):
        with pytest.raises(ValueError):
            np.random.default_rng(0).poisson(lam)
        with pytest.raises(ValueError):
            poisson(s, lam)


# ------------------------------------------------------------- interleaved sequences
OPS = 8


def plan(seed: int, n: int) -> np.ndarray:
    """n operations (code, low, high) mixing every draw."""
    rng = np.random.default_rng(seed)
    rows = []
    for code in rng.integers(0, OPS, n).tolist():
        low = [-5, 0, 3, -(2**40)][rng.integers(4)]
        high = min(low + RANGES[rng.integers(len(RANGES))], np.iinfo(np.int64).max)
        rows.append((code, low, high))
    return np.array(rows, dtype=np.int64)


def numpy_sequence(rng: np.random.Generator, ops: np.ndarray) -> np.ndarray:
    out = np.empty(len(ops))
    for i, (code, a, b) in enumerate(ops):
        if code == 0:
            out[i] = int(rng.bit_generator.random_raw()) >> 11  # exact in a double
        elif code == 1:
            out[i] = rng.integers(0, 2**32, dtype=np.uint32)
        elif code == 2:
            out[i] = rng.random()
        elif code == 3:
            out[i] = rng.uniform(0.5, 1.5)
        elif code == 4:
            out[i] = rng.integers(a, b)
        elif code == 5:
            out[i] = rng.standard_normal()
        elif code == 6:
            out[i] = rng.poisson(LAMS[i % len(LAMS)])
        else:
            out[i] = rng.integers(0, 7)
    return out


def ours_python(s, ops: np.ndarray) -> np.ndarray:
    out = np.empty(len(ops))
    for i, (code, a, b) in enumerate(ops):
        if code == 0:
            out[i] = int(next_uint64(s)) >> 11
        elif code == 1:
            out[i] = next_uint32(s)
        elif code == 2:
            out[i] = random(s)
        elif code == 3:
            out[i] = uniform(s, 0.5, 1.5)
        elif code == 4:
            out[i] = integers(s, a, b)
        elif code == 5:
            out[i] = standard_normal(s)
        elif code == 6:
            out[i] = poisson(s, LAMS[i % len(LAMS)])
        else:
            out[i] = integers(s, 0, 7)
    return out


_LAMS = np.array(LAMS)


@njit(cache=False)
def ours_compiled(s, ops):
    """The same sequence inside one kernel (the draws inlined into a caller)."""
    out = np.empty(len(ops))
    for i in range(len(ops)):
        code, a, b = ops[i, 0], ops[i, 1], ops[i, 2]
        if code == 0:
            out[i] = next_uint64(s) >> np.uint64(11)
        elif code == 1:
            out[i] = next_uint32(s)
        elif code == 2:
            out[i] = random(s)
        elif code == 3:
            out[i] = uniform(s, 0.5, 1.5)
        elif code == 4:
            out[i] = integers(s, a, b)
        elif code == 5:
            out[i] = standard_normal(s)
        elif code == 6:
            out[i] = poisson(s, _LAMS[i % len(_LAMS)])
        else:
            out[i] = integers(s, 0, 7)
    return out


@pytest.mark.parametrize(("n", "seed"), list(enumerate(SEEDS)))
def test_interleaved_sequence(n, seed):
    ops = plan(n, 6000)
    theirs = numpy_sequence(np.random.default_rng(seed), ops)
    rng = np.random.default_rng(seed)
    numpy_sequence(rng, ops)
    s = new_stream(seed)
    assert np.array_equal(ours_python(s, ops), theirs)
    assert_same_state(s, rng)
    s = new_stream(seed)
    assert np.array_equal(ours_compiled(s, ops), theirs)
    assert_same_state(s, rng)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 1000, 1001])
def test_state_after_n_draws(n):
    """The state array after n draws is numpy's state after n draws (also with a half
    32-bit draw buffered)."""
    s, rng = pair(99)
    for _ in range(n):
        next_uint32(s)
    rng.integers(0, 2**32, size=n, dtype=np.uint32)
    assert_same_state(s, rng)
    assert state_dict(s)["has_uint32"] == n % 2


# --------------------------------------------------------------- numpy round trips
def test_as_numpy_round_trip():
    s, rng = pair(2026)
    nodes = np.arange(50)
    for _ in range(20):
        assert random(s) == rng.random()
        assert integers(s, 0, 9) == rng.integers(0, 9)
        with as_numpy(s) as ours:
            assert np.array_equal(ours.choice(nodes, 7), rng.choice(nodes, 7))
            assert ours.permutation(10).tolist() == rng.permutation(10).tolist()
        assert_same_state(s, rng)
        assert standard_normal(s) == rng.standard_normal()
    assert_same_state(s, rng)


def test_as_numpy_writes_back_on_an_exception():
    s, rng = pair(5)
    with pytest.raises(KeyError), as_numpy(s) as ours:
        ours.random(3)
        raise KeyError
    rng.random(3)
    assert_same_state(s, rng)


def test_to_generator_is_a_copy_and_load_writes_back():
    s = new_stream(11)
    before = s.copy()
    gen = to_generator(s)
    gen.random(5)
    assert np.array_equal(s, before)
    load_from_generator(s, gen)
    assert state_dict(s) == gen.bit_generator.state
    assert random(s) == gen.random()


def test_new_stream_from_a_generator_copies_its_state():
    rng = np.random.default_rng(8)
    rng.random(3)
    rng.integers(0, 2**32, dtype=np.uint32)  # a half draw buffered
    s = new_stream(rng)
    assert_same_state(s, rng)
    assert next_uint32(s) == rng.integers(0, 2**32, dtype=np.uint32)
    assert random(s) == rng.random()
    assert np.array_equal(new_stream(rng.bit_generator), s)


def test_stream_rows_of_a_2d_array():
    """Several streams kept as rows of one (n, N_WORDS) array."""
    states = np.stack([new_stream(seed) for seed in range(3)])
    rngs = [np.random.default_rng(seed) for seed in range(3)]
    for _ in range(100):
        for row, rng in zip(states, rngs, strict=True):
            assert random(row) == rng.random()
    for row, rng in zip(states, rngs, strict=True):
        assert_same_state(row, rng)


@pytest.mark.parametrize(
    "bit_generator", [np.random.MT19937, np.random.Philox, np.random.SFC64, np.random.PCG64DXSM]
)
def test_refuses_other_bit_generators(bit_generator):
    other = np.random.Generator(bit_generator(0))
    with pytest.raises(TypeError, match="PCG64"):
        new_stream(other)
    with pytest.raises(TypeError, match="PCG64"):
        new_stream(other.bit_generator)
    with pytest.raises(TypeError, match="PCG64"):
        load_from_generator(new_stream(0), other)


def test_refuses_a_bad_state_array():
    for bad in (np.zeros(6, np.int64), np.zeros(5, np.uint64), [0] * 6):
        with pytest.raises(TypeError, match="uint64"):
            to_generator(bad)


# ------------------------------------------- numba's own Generator (today's kernels)
@njit(cache=False)
def _numba_draws(rng, n):
    out = np.empty((n, 4))
    for i in range(n):
        out[i, 0] = rng.random()
        out[i, 1] = rng.uniform(0.5, 1.5)
        out[i, 2] = rng.standard_normal()
        out[i, 3] = rng.integers(0, 1 + i % 97)
    return out


@njit(cache=False)
def _our_draws(s, n):
    out = np.empty((n, 4))
    for i in range(n):
        out[i, 0] = random(s)
        out[i, 1] = uniform(s, 0.5, 1.5)
        out[i, 2] = standard_normal(s)
        out[i, 3] = integers(s, 0, 1 + i % 97)
    return out


def test_same_draws_as_numbas_generator():
    """The draws today's kernels take from numba's Generator support."""
    rng = np.random.default_rng(314)
    s = new_stream(314)
    assert np.array_equal(_our_draws(s, 20_000), _numba_draws(rng, 20_000))
    assert_same_state(s, rng)
