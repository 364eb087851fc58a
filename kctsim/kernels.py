"""Compiled building blocks shared by the mechanisms' numba kernels.

The default population is about 60 organisations, so a tick's numpy calls
spent most of their time in call overhead, not arithmetic; the mechanisms
therefore run as ``numba`` kernels over the model's columns. The helpers here
keep the kernels' arithmetic identical to numpy's: :func:`total` sums in
numpy's pairwise order, so a compiled rule gives the same bits as the numpy
expression it replaces (and the published verdicts and calibration stay
reproducible), and :func:`put` appends a transfer to the ledger's buffer.

Random draws inside kernels use the run's own ``numpy.random.Generator``
(numba draws from its bit generator, so a kernel's ``rng.random()`` is the
same stream as numpy's ``rng.random(n)``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

JIT = {"cache": True, "nogil": True}
"""Options of every kctsim kernel: compiled once per machine and cached on disk."""

_BLOCK = 128  # numpy's PW_BLOCKSIZE


@njit(**JIT)
def _pairwise(a: np.ndarray, lo: int, n: int) -> float:
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= _BLOCK:
        r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
        r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
        i = 8
        end = n - n % 8
        while i < end:
            j = lo + i
            r0 += a[j]
            r1 += a[j + 1]
            r2 += a[j + 2]
            r3 += a[j + 3]
            r4 += a[j + 4]
            r5 += a[j + 5]
            r6 += a[j + 6]
            r7 += a[j + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[lo + i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, lo, n2) + _pairwise(a, lo + n2, n - n2)


@njit(**JIT)
def total(a: np.ndarray) -> float:
    """``a.sum()`` of a 1-D float array, in numpy's pairwise order (the same bits)."""
    return _pairwise(a, 0, len(a))


@njit(**JIT)
def mean(a: np.ndarray) -> float:
    """``a.mean()`` of a non-empty 1-D float array (numpy's sum, then one division)."""
    return _pairwise(a, 0, len(a)) / len(a)


@njit(**JIT)
def put(
    ints: np.ndarray,
    amounts: np.ndarray,
    pos: int,
    tick: int,
    kind: int,
    from_type: int,
    from_id: int,
    to_type: int,
    to_id: int,
    stage: int,
    amount: float,
) -> int:
    """Append one transfer to a :class:`~kctsim.ledger.Ledger` buffer; return the new length.

    Zero amounts are not transfers and are skipped; the caller reserves room
    first (``Ledger.reserve``). A negative amount is an error: reverse the parties.
    """
    if amount == 0.0:
        return pos
    if amount < 0.0:
        raise ValueError("negative transfer: reverse the parties instead")
    row = ints[pos]
    row[0] = tick
    row[1] = kind
    row[2] = from_type
    row[3] = from_id
    row[4] = to_type
    row[5] = to_id
    row[6] = stage
    amounts[pos] = amount
    return pos + 1
