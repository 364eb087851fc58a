"""The compiled building blocks: numpy-exact sums, compiled draws, the ledger buffer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from kctsim.kernels import put, total
from kctsim.ledger import KIND_CODE, Ledger
from kctsim.streams import uniform


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 255, 256, 257, 1000, 4099])
def test_total_gives_numpys_bits(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 6, n)
        assert total(a) == a.sum()


def test_total_works_from_the_cache_in_a_new_process():
    # A self-recursive kernel compiles but cannot be loaded from numba's cache.
    code = (
        "import numpy as np; from kctsim.kernels import total; "
        "a = np.random.default_rng(1).random(1000); assert total(a) == a.sum(); print('ok')"
    )
    for _ in range(2):  # the first run may compile; the second loads the cache
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_a_model_refuses_a_stream_that_is_not_pcg64():
    from kctsim.streams import new_stream

    with pytest.raises(TypeError, match="PCG64"):
        new_stream(np.random.Generator(np.random.Philox(1)))


def test_compiled_array_draws_equal_numpys_calls():
    """Start designs and start contributions are drawn in kernels, as numpy drew them:
    integers(k, size=n) and uniform(a, b, n) in one call."""
    from kctsim.streams import new_stream, to_generator
    from kctsim.technology import _draw

    pool = np.arange(3, 9000, 7)
    ours, theirs = new_stream(5), np.random.default_rng(5)
    for n in (1, 2, 40):
        assert np.array_equal(_draw(ours, pool, n), pool[theirs.integers(len(pool), size=n)])
        assert np.array_equal(_uniforms(ours, n), theirs.uniform(0.5, 1.5, n))
    assert to_generator(ours).random() == theirs.random()


@njit
def _uniforms(stream, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(stream, 0.5, 1.5)
    return out


@njit
def _book(ints, amounts, pos, values):
    for v in values:
        pos = put(ints, amounts, pos, 3, 1, 4, 7, 0, 9, -1, v)
    return pos


def test_put_appends_transfers_and_skips_zeros():
    ledger = Ledger(capacity=2)
    ledger.reserve(4)
    ledger.n = _book(ledger.ints, ledger.amounts, ledger.n, np.array([1.5, 0.0, 2.0, 0.0]))
    ledger.record(4, "budget", 6, -1, 4, 7, np.array([0.0, 3.0]))
    tick, kind, ft, fi, tt, ti, stage, amount = ledger.arrays()
    assert amount.tolist() == [1.5, 2.0, 3.0]
    assert tick.tolist() == [3, 3, 4] and kind.tolist() == [1, 1, KIND_CODE["budget"]]
    assert ft.tolist() == [4, 4, 6] and ti.tolist() == [9, 9, 7] and stage.tolist() == [-1] * 3
    assert ledger.arrays(start=2)[-1].tolist() == [3.0]
    with pytest.raises(ValueError, match="negative"):
        _book(ledger.ints, ledger.amounts, 0, np.array([-1.0]))
    with pytest.raises(ValueError, match="negative"):
        ledger.record(5, "budget", 6, -1, 4, 7, -2.0)
