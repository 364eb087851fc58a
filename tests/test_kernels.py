"""The compiled building blocks: numpy-exact sums, the run's random stream, the ledger buffer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from kctsim.kernels import generator, next_double, put, rng_address, total
from kctsim.ledger import KIND_CODE, Ledger


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


@njit
def _draws(address, n):
    rng = generator(address)
    out = np.empty(3 * n)
    for i in range(n):
        out[3 * i] = rng.random()
        out[3 * i + 1] = rng.standard_normal()
        out[3 * i + 2] = rng.integers(0, 37)
    return out


@njit
def _mixed(address, n):
    """Inline PCG64 doubles (kernels.next_double) interleaved with numba's own draws."""
    rng = generator(address)
    out = np.empty(3 * n)
    for i in range(n):
        out[3 * i] = next_double(address)
        out[3 * i + 1] = rng.integers(0, 1000)
        out[3 * i + 2] = next_double(address)
    return out


@pytest.mark.parametrize(
    ("kernel", "numpys"),
    [
        (_draws, lambda rng: (rng.random(), rng.standard_normal(), rng.integers(0, 37))),
        (_mixed, lambda rng: (rng.random(), rng.integers(0, 1000), rng.random())),
    ],
    ids=["numba's draws", "inline PCG64 doubles"],
)
def test_kernel_draws_continue_numpys_stream(kernel, numpys):
    """A kernel's draws are numpy's, from the same state: next_double computes PCG64
    inline from numpy's state in memory, and numba's and numpy's own draws go on from it."""
    ours, theirs = np.random.default_rng(42), np.random.default_rng(42)
    for n in (1, 5, 200):
        got = kernel(rng_address(ours), n)
        want = np.array([value for _ in range(n) for value in numpys(theirs)], dtype=float)
        assert np.array_equal(got, want)
        # numpy's own next draw sees the kernel's draws as consumed
        assert ours.random() == theirs.random()


def test_a_model_refuses_a_stream_the_kernels_cannot_draw_from():
    from kctsim import KCTModel

    model = KCTModel(horizon=2, rng=1)
    model.hazard_rng = np.random.Generator(np.random.Philox(1))
    with pytest.raises(TypeError, match="PCG64"):
        model.step()


def test_compiled_array_draws_equal_numpys_calls():
    """Start designs and start contributions are drawn in kernels, as numpy drew them:
    integers(k, size=n) and uniform(a, b, n) in one call."""
    from kctsim.technology import _draw

    pool = np.arange(3, 9000, 7)
    ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
    for n in (1, 2, 40):
        assert np.array_equal(
            _draw(rng_address(ours), pool, n), pool[theirs.integers(len(pool), size=n)]
        )
        assert np.array_equal(_uniforms(rng_address(ours), n), theirs.uniform(0.5, 1.5, n))
    assert ours.random() == theirs.random()


@njit
def _uniforms(address, n):
    rng = generator(address)
    out = np.empty(n)
    for i in range(n):
        out[i] = rng.uniform(0.5, 1.5)
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


def test_cached_kernels_are_stamped_with_every_kernel_module(tmp_path):
    # numba would stamp a kernel with its own file only; kctsim's stamp covers the
    # helpers it compiles in from other modules, so editing one recompiles its callers.
    from kctsim import kernels
    from kctsim.mechanisms import hazard, rnd

    locator = rnd._research_kernel._cache._impl.locator
    assert locator.get_source_stamp() == kernels.kernel_sources_digest()
    assert locator.get_source_stamp() == hazard._hazard._cache._impl.locator.get_source_stamp()
    # The digest reads every module that defines a kernel: a copy of the package
    # with one helper module changed gets another digest.
    package = tmp_path / "kctsim"
    for path in kernels._PACKAGE.rglob("*.py"):
        target = package / path.relative_to(kernels._PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from kctsim.kernels import kernel_sources_digest as d; print(d())"
    )

    def digest() -> str:
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert digest() == kernels.kernel_sources_digest()
    hazard_file = package / "mechanisms" / "hazard.py"
    hazard_file.write_text(hazard_file.read_text() + "\n# a changed helper\n")
    assert digest() != kernels.kernel_sources_digest()
