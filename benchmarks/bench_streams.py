"""Micro benchmark: kctsim.streams draws against numba's own numpy Generator support.

Prints ns per draw, inside one ``@njit`` loop, of ``streams.random(s)`` (PCG64 computed
in plain numba on a uint64 state array) and of ``rng.random()`` on a numpy
``Generator(PCG64)`` passed to the kernel (numba's documented Generator support, which
calls numpy's C bit generator through its function pointers), and their ratio; also
``integers(0, n)`` (n from 97 to 104) and ``standard_normal``. Both sides draw the same
numbers (checked).
Best of a few repeats; no timed tests.

Run from the repository root:
    .venv/bin/python benchmarks/bench_streams.py [--draws N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from kctsim import streams


@njit(nogil=True)
def ours_random(s, n):
    total = 0.0
    for _ in range(n):
        total += streams.random(s)
    return total


@njit(nogil=True)
def numbas_random(rng, n):
    total = 0.0
    for _ in range(n):
        total += rng.random()
    return total


@njit(nogil=True)
def ours_integers(s, n):
    total = 0
    for i in range(n):
        total += streams.integers(s, 0, 97 + (i & 7))
    return total


@njit(nogil=True)
def numbas_integers(rng, n):
    total = 0
    for i in range(n):
        total += rng.integers(0, 97 + (i & 7))
    return total


@njit(nogil=True)
def ours_normal(s, n):
    total = 0.0
    for _ in range(n):
        total += streams.standard_normal(s)
    return total


@njit(nogil=True)
def numbas_normal(rng, n):
    total = 0.0
    for _ in range(n):
        total += rng.standard_normal()
    return total


CASES = [
    ("random()", ours_random, numbas_random),
    ("integers(0, 97..104)", ours_integers, numbas_integers),
    ("standard_normal()", ours_normal, numbas_normal),
]


def best_ns(kernel, make_state, n: int, repeats: int) -> tuple[float, float]:
    """Best ns per draw over ``repeats`` runs of n draws, and the kernel's result."""
    best = float("inf")
    result = 0.0
    for _ in range(repeats):
        state = make_state()
        start = time.perf_counter_ns()
        result = kernel(state, n)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    seed = 20261127
    print(f"{'draw':<24}{'streams ns':>12}{'numba Generator ns':>20}{'ratio':>8}")
    for name, ours, numbas in CASES:
        ours(streams.new_stream(seed), 10)  # compile or load from the cache
        numbas(np.random.default_rng(seed), 10)
        ours_ns, ours_result = best_ns(
            ours, lambda: streams.new_stream(seed), args.draws, args.repeats
        )
        numbas_ns, numbas_result = best_ns(
            numbas, lambda: np.random.default_rng(seed), args.draws, args.repeats
        )
        assert ours_result == numbas_result, (name, ours_result, numbas_result)
        print(f"{name:<24}{ours_ns:>12.2f}{numbas_ns:>20.2f}{numbas_ns / ours_ns:>7.2f}x")
    print("ratio = numba Generator time / streams time (above 1: streams faster)")


if __name__ == "__main__":
    main()
